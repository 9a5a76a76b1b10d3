package dev.vessel.cli;

import dev.vessel.image.ArchiveWriter;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.sys.Terminal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;

/** `vessel save`: images into a tar archive, as `docker save` writes it and `vessel load`/`docker load` read it. */
@Command(name = "save", mixinStandardHelpOptions = true,
        description = {"Save one or more images to a tar archive (streamed to STDOUT by default).",
                "NAME:TAG saves that tag; a repository alone saves all its tags; an id saves the image without names."},
        footer = {"", "Exit status: 0, or 1 (no such image, or the archive cannot be written: no file is left then)."})
final class SaveCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to a file, instead of STDOUT.")
    Path output;

    @Parameters(arity = "1..*", paramLabel = "IMAGE")
    List<String> images;

    @Override
    public Integer call() {
        if (output == null && Terminal.isTerminal(1)) {
            System.err.println("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            return 1;
        }
        try {
            ImageStore store = ImagesCommand.open(main);
            try (ArchiveWriter archive = store.save(images)) {
                if (output == null) {
                    archive.write(System.out);
                    System.out.flush();
                    if (System.out.checkError()) {
                        throw new IOException("cannot write the archive to stdout");
                    }
                } else {
                    write(archive, output);
                }
            }
            return 0;
        } catch (ImageException | IOException e) {
            ImagesCommand.fail(e);
            return 1;
        }
    }

    /**
     * Into {@code file} whole or not at all, as docker's CLI writes it: a temporary file beside it
     * (mode 0600), renamed over it once complete.
     */
    static void write(ArchiveWriter archive, Path file) throws IOException {
        Path target = file.toAbsolutePath();
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                archive.write(out);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
