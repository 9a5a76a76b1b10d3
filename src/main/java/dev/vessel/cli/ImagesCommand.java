package dev.vessel.cli;

import dev.vessel.image.DockerFormat;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.ImageSummary;
import dev.vessel.image.Reference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/** `vessel images`: the images in the store, as `docker images` lists them. */
@Command(name = "images", mixinStandardHelpOptions = true,
        description = "List images.",
        footer = {"", "Exit status: 0, or 125 when the image store cannot be read."})
final class ImagesCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-q", "--quiet"}, description = "Only show image IDs.")
    boolean quiet;

    @Option(names = "--no-trunc", description = "Don't truncate output.")
    boolean noTrunc;

    @Option(names = {"-a", "--all"}, description = "Show all images (Vessel has no intermediate images: the same list).")
    boolean all;

    @Parameters(arity = "0..1", paramLabel = "REPOSITORY[:TAG]", description = "Only images of this repository (and tag).")
    String filter;

    @Override
    public Integer call() {
        try {
            ImageStore store = open(main);
            List<ImageSummary> images = store.list();
            String repo = null;
            String tag = null;
            if (filter != null) {
                int colon = filter.lastIndexOf(':');
                boolean hasTag = colon > filter.lastIndexOf('/');
                Reference r = Reference.parse(filter);
                repo = r.repository();
                tag = hasTag ? r.tag() : null;
            }
            List<ImageSummary> shown = new ArrayList<>();
            for (ImageSummary s : images) {
                if (repo == null || (s.reference() != null && s.reference().repository().equals(repo)
                        && (tag == null || tag.equals(s.reference().tag())))) {
                    shown.add(s);
                }
            }
            if (quiet) {
                Set<String> ids = new LinkedHashSet<>();
                shown.forEach(s -> ids.add(noTrunc ? s.id().toString() : s.id().shortHex()));
                ids.forEach(System.out::println);
            } else {
                System.out.print(table(shown, noTrunc, Instant.now()));
            }
            return 0;
        } catch (ImageException | IOException e) {
            return fail(e);
        }
    }

    /** Docker's table of the images, the header first. */
    static String table(List<ImageSummary> images, boolean noTrunc, Instant now) {
        List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"));
        for (ImageSummary s : images) {
            rows.add(List.of(s.repository(), s.tag(), noTrunc ? s.id().toString() : s.id().shortHex(),
                    DockerFormat.createdSince(s.created(), now), DockerFormat.humanSize(s.size())));
        }
        return Table.format(rows);
    }

    /** The image store of the state root. */
    static ImageStore open(Main main) throws IOException {
        return ImageStore.open(main.stateRoot());
    }

    /** Docker's one line for a failed request; Vessel's own errors exit 125. */
    static int fail(Exception e) {
        return fail(System.err, e);
    }

    static int fail(PrintStream err, Exception e) {
        if (System.getenv("VESSEL_DEBUG") != null) {
            e.printStackTrace();
        }
        String msg = e.getMessage() != null ? e.getMessage() : e.toString();
        err.println("Error response from daemon: " + msg);
        return 125;
    }
}
