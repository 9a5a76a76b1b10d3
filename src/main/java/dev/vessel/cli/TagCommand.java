package dev.vessel.cli;

import dev.vessel.image.ImageException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.util.concurrent.Callable;

/** `vessel tag SOURCE TARGET`: another name for an image. */
@Command(name = "tag", mixinStandardHelpOptions = true,
        description = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.",
        footer = {"", "Exit status: 0, or 125 (no such image, invalid name)."})
final class TagCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "SOURCE_IMAGE[:TAG]")
    String source;

    @Parameters(index = "1", paramLabel = "TARGET_IMAGE[:TAG]")
    String target;

    @Override
    public Integer call() {
        try {
            ImagesCommand.open(main).tag(source, target);
            return 0;
        } catch (ImageException | IOException e) {
            return ImagesCommand.fail(e);
        }
    }
}
