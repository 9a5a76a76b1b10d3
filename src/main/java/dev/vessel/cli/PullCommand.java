package dev.vessel.cli;

import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.Reference;
import dev.vessel.registry.Endpoint;
import dev.vessel.registry.PullProgress;
import dev.vessel.registry.Puller;
import dev.vessel.registry.RegistryException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.Callable;

/** `vessel pull`: an image from a registry (OCI distribution / Docker Registry HTTP API v2). */
@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {"Download an image from a registry.",
                "NAME is as docker reads it: 'ubuntu' is docker.io/library/ubuntu:latest; 'host[:port]/repo[:tag]' or "
                        + "'repo@sha256:DIGEST' name any registry. From a multi-platform image, linux/amd64 is pulled."},
        footer = {"", "Registries are reached over HTTPS; over plain HTTP only on loopback (localhost, 127.0.0.0/8, ::1) or when "
                + "listed in $" + Endpoint.INSECURE_ENV + " (comma-separated host[:port]).",
                "Credentials come from docker's config.json (see 'vessel login').",
                "", "Exit status: 0, or 1 (the pull failed: nothing of it is kept)."})
final class PullCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "NAME[:TAG|@DIGEST]")
    String name;

    @Option(names = {"-q", "--quiet"}, description = "Suppress verbose output: print only the image's full name.")
    boolean quiet;

    @Option(names = "--platform", paramLabel = "PLATFORM", description = "Only linux/amd64 (the platform Vessel runs).")
    String platform;

    @Override
    public Integer call() {
        if (platform != null && !platform.equals("linux/amd64") && !platform.equals("linux/amd64/v1")) {
            System.err.println("Error response from daemon: platform " + platform + " is not supported: Vessel runs linux/amd64 images only");
            return 1;
        }
        try {
            Reference ref = Reference.parse(name);
            ImageStore store = ImagesCommand.open(main);
            pull(store, ref, System.out, quiet ? PullProgress.Mode.QUIET : PullSupport.mode());
            System.out.println(ref);
            return 0;
        } catch (ImageException | IOException | RegistryException e) {
            return PullSupport.fail(e, 1);
        }
    }

    /** Pulls {@code ref} into {@code store}, showing docker's progress on {@code out}. */
    static Puller.Result pull(ImageStore store, Reference ref, PrintStream out, PullProgress.Mode mode)
            throws IOException, ImageException, RegistryException {
        return Puller.standard(store, new PullProgress(out, mode)).pull(ref);
    }
}
