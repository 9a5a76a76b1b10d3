package dev.vessel.cli;

import dev.vessel.container.ContainerService;
import dev.vessel.container.PruneFilter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

import java.time.Instant;
import java.util.concurrent.Callable;

/** `vessel container`: docker's container verbs that have no short form ({@code prune}). */
@Command(name = "container", mixinStandardHelpOptions = true, description = "Manage containers.",
        subcommands = {ContainerCommand.Prune.class})
final class ContainerCommand {
    @ParentCommand
    Main main;

    @Command(name = "prune", mixinStandardHelpOptions = true, description = "Remove all stopped containers.",
            footer = {"", "Filters: until=TIME (a duration such as 24h, or a date), label=KEY[=VALUE], label!=KEY[=VALUE].",
                    "Exit status: 0, 1 when the request fails (docker's message on stderr), 125 for a bad --filter."})
    static final class Prune implements Callable<Integer> {
        @ParentCommand
        ContainerCommand parent;

        @Mixin
        PruneSupport.Options options;

        @Override
        public Integer call() throws Exception {
            PruneFilter f;
            try {
                f = PruneFilter.forContainers(options.filters(), Instant.now());
            } catch (IllegalArgumentException e) {
                System.err.println("Error response from daemon: " + e.getMessage());
                return 1;
            }
            if (!options.confirmed("WARNING! This will remove all stopped containers.")) {
                return 0;
            }
            ContainerService.PruneResult result = ContainerSupport.service(parent.main).prune(f);
            PruneSupport.report("Deleted Containers:", result.deleted(), result.reclaimed());
            return 0;
        }
    }
}
