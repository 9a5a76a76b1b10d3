package dev.vessel.cli;

import dev.vessel.image.Digest;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.ImageUsers;
import dev.vessel.image.RemoveResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;

/** `vessel rmi`: remove images (or only a name of one), as `docker rmi` does. */
@Command(name = "rmi", mixinStandardHelpOptions = true,
        description = "Remove one or more images.",
        footer = {"", "Exit status: 0, or 125 when any image could not be removed (no such image, used by a container)."})
final class RmiCommand implements Callable<Integer> {
    /** Which container uses an image: the containers' store answers it. */
    static Function<Main, ImageUsers> users = m -> {
        try {
            return ContainerSupport.service(m).imageUsers();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    };

    @ParentCommand
    Main main;

    @Option(names = {"-f", "--force"}, description = "Force removal of the image.")
    boolean force;

    @Option(names = "--no-prune", description = "Accepted for docker compatibility (untagged parents: Vessel has none).")
    boolean noPrune;

    @Parameters(arity = "1..*", paramLabel = "IMAGE")
    List<String> images;

    @Override
    public Integer call() {
        ImageStore store;
        try {
            store = ImagesCommand.open(main);
        } catch (IOException e) {
            return ImagesCommand.fail(e);
        }
        ImageUsers who = users.apply(main);
        int status = 0;
        for (String image : images) {
            try {
                RemoveResult r = store.remove(image, force, who);
                for (String u : r.untagged()) {
                    System.out.println("Untagged: " + u);
                }
                for (Digest d : r.deleted()) {
                    System.out.println("Deleted: " + d);
                }
            } catch (ImageException | IOException e) {
                status = ImagesCommand.fail(e);
            }
        }
        return status;
    }
}
