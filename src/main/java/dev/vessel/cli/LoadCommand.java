package dev.vessel.cli;

import dev.vessel.image.ArchiveLoader;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** `vessel load`: images from a `docker save` or OCI archive, as `docker load` reads them. */
@Command(name = "load", mixinStandardHelpOptions = true,
        description = "Load an image from a tar archive (docker save or OCI format; plain, gzip, bzip2 or zstd) or STDIN.",
        footer = {"", "Exit status: 0, or 125 (unreadable or corrupt archive: nothing of it is kept)."})
final class LoadCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-i", "--input"}, paramLabel = "FILE", description = "Read from tar archive file, instead of STDIN.")
    Path input;

    @Option(names = {"-q", "--quiet"}, description = "Suppress the load output.")
    boolean quiet;

    @Override
    public Integer call() {
        Path spooled = null;
        try {
            ImageStore store = ImagesCommand.open(main);
            Path file = input;
            if (file == null) {
                if (System.console() != null) {
                    return ImagesCommand.fail(new IOException("requested load from stdin, but stdin is empty"));
                }
                spooled = Files.createTempFile(store.directory().resolve("tmp"), "stdin-", ".tar");
                try (var out = Files.newOutputStream(spooled)) {
                    System.in.transferTo(out);
                }
                if (Files.size(spooled) == 0) {
                    return ImagesCommand.fail(new IOException("requested load from stdin, but stdin is empty"));
                }
                file = spooled;
            }
            List<ArchiveLoader.Loaded> loaded = store.load(file);
            if (!quiet) {
                for (ArchiveLoader.Loaded l : loaded) {
                    System.out.println(l.message());
                }
            }
            return 0;
        } catch (NoSuchFileException e) {
            return ImagesCommand.fail(new IOException("open " + input + ": no such file or directory"));
        } catch (ImageException | IOException e) {
            return ImagesCommand.fail(e);
        } finally {
            if (spooled != null) {
                try {
                    Files.deleteIfExists(spooled);
                } catch (IOException ignored) {
                    // tmp/ is the store's; gc would not take it, but it is gone with the process anyway
                }
            }
        }
    }
}
