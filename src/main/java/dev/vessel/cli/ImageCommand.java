package dev.vessel.cli;

import dev.vessel.container.PruneFilter;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.RemoveResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel image`: docker's image verbs that have no short form ({@code prune}). */
@Command(name = "image", mixinStandardHelpOptions = true, description = "Manage images.",
        subcommands = {ImageCommand.Prune.class})
final class ImageCommand {
    @ParentCommand
    Main main;

    @Command(name = "prune", mixinStandardHelpOptions = true, description = "Remove unused images.",
            footer = {"", "Images a container uses are never removed (nor untagged).",
                    "Filters: until=TIME (a duration such as 24h, or a date), label=KEY[=VALUE], label!=KEY[=VALUE].",
                    "Exit status: 0, 1 when the request fails (docker's message on stderr), 125 for a bad --filter."})
    static final class Prune implements Callable<Integer> {
        @ParentCommand
        ImageCommand parent;

        @Option(names = {"-a", "--all"}, description = "Remove all unused images, not just dangling ones.")
        boolean all;

        @Mixin
        PruneSupport.Options options;

        @Override
        public Integer call() throws Exception {
            Map<String, List<String>> filters = options.filters();
            // As docker's CLI: -a is the filter dangling=false, added to the user's (both given conflict).
            filters.computeIfAbsent("dangling", k -> new ArrayList<>()).add(Boolean.toString(!all));
            PruneFilter f;
            boolean danglingOnly;
            try {
                f = PruneFilter.forImages(filters, Instant.now());
                danglingOnly = PruneFilter.danglingOnly(filters);
            } catch (IllegalArgumentException e) {
                System.err.println("Error response from daemon: " + e.getMessage());
                return 1;
            }
            if (!options.confirmed(all
                    ? "WARNING! This will remove all images without at least one container associated to them."
                    : "WARNING! This will remove all dangling images.")) {
                return 0;
            }
            ImageStore.PruneResult result;
            try {
                result = ImagesCommand.open(parent.main).prune(danglingOnly,
                        f::matches,
                        RmiCommand.users.apply(parent.main));
            } catch (ImageException | IOException e) {
                ImagesCommand.fail(e);
                return 1;
            }
            List<String> lines = new ArrayList<>();
            for (RemoveResult r : result.removed()) {
                r.untagged().forEach(u -> lines.add("untagged: " + u));
                r.deleted().forEach(d -> lines.add("deleted: " + d));
            }
            PruneSupport.report("Deleted Images:", lines, result.reclaimed());
            return 0;
        }
    }
}
