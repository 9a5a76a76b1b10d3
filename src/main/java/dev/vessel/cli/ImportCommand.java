package dev.vessel.cli;

import dev.vessel.image.Image;
import dev.vessel.image.ImageException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** `vessel import`: a root filesystem tarball becomes an image, as `docker import` makes one. */
@Command(name = "import", mixinStandardHelpOptions = true,
        description = "Import the contents from a tarball (plain, gzip or zstd) to create a filesystem image.",
        footer = {"", "Prints the new image's ID. Exit status: 0, or 125 (unreadable or invalid tarball, invalid name)."})
final class ImportCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-c", "--change"}, paramLabel = "CHANGE",
            description = "Apply a Dockerfile instruction to the image: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK.")
    List<String> changes = new ArrayList<>();

    @Option(names = {"-m", "--message"}, description = "Set the commit message for the imported image.")
    String message;

    @Parameters(index = "0", paramLabel = "file|-", description = "The tarball, or - for standard input.")
    String file;

    @Parameters(index = "1", arity = "0..1", paramLabel = "REPOSITORY[:TAG]")
    String reference;

    @Override
    public Integer call() {
        try (InputStream in = file.equals("-") ? System.in : Files.newInputStream(Path.of(file))) {
            Image image = ImagesCommand.open(main).importRootfs(in, reference, changes, message);
            System.out.println(image.id());
            return 0;
        } catch (NoSuchFileException e) {
            return ImagesCommand.fail(new IOException("open " + file + ": no such file or directory"));
        } catch (ImageException | IOException e) {
            return ImagesCommand.fail(e);
        }
    }
}
