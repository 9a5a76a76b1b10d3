package dev.vessel.cli;

import dev.vessel.image.DockerFormat;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What docker's prune verbs share on the command line: their options, the question, {@code --filter}, the report. */
final class PruneSupport {
    private PruneSupport() {}

    /** {@code -f} and {@code --filter}, mixed into each prune command. */
    static final class Options {
        @Option(names = {"-f", "--force"}, description = "Do not prompt for confirmation.")
        boolean force;

        @Option(names = "--filter", paramLabel = "FILTER", description = "Provide filter values (e.g. \"until=<timestamp>\").")
        List<String> filter = new ArrayList<>();

        /** The filters by name ({@link #filters(List)}). */
        Map<String, List<String>> filters() throws UserError {
            return PruneSupport.filters(filter);
        }

        /** True when {@code -f} was given or the user answers {@code y} to {@code warning}. */
        boolean confirmed(String warning) throws IOException {
            return force || confirm(warning);
        }
    }

    /**
     * Asks as docker does ({@code WARNING! ...} then {@code Are you sure you want to continue? [y/N] })
     * and reads a line: only {@code y} (either case) goes on.
     */
    static boolean confirm(String warning) throws IOException {
        System.out.print(warning + "\nAre you sure you want to continue? [y/N] ");
        System.out.flush();
        String answer = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        return answer != null && answer.strip().equalsIgnoreCase("y");
    }

    /**
     * The {@code --filter NAME=VALUE} flags, as docker's CLI reads them: the name lower-cased and
     * both sides trimmed, several values of a name kept.
     *
     * @throws UserError docker's message and its status for a flag without {@code =} (125)
     */
    static Map<String, List<String>> filters(List<String> flags) throws UserError {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String f : flags) {
            int eq = f.indexOf('=');
            if (eq < 0) {
                throw new UserError("invalid argument \"" + f + "\" for \"--filter\" flag: bad format of filter "
                        + "(expected name=value)", 125);
            }
            out.computeIfAbsent(f.substring(0, eq).strip().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                    .add(f.substring(eq + 1).strip());
        }
        return out;
    }

    /**
     * Docker's report of a prune: {@code Deleted Containers:} (the title) and a line per thing
     * removed, then a blank line, when anything was; always {@code Total reclaimed space: 1.234MB}.
     */
    static void report(String title, List<String> removed, long reclaimedBytes) {
        if (!removed.isEmpty()) {
            System.out.println(title);
            removed.forEach(System.out::println);
            System.out.println();
        }
        System.out.println("Total reclaimed space: " + DockerFormat.humanSize(reclaimedBytes, 4));
    }
}
