package dev.vessel.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What a `vessel` command run in this JVM did: its status, and what it printed on stdout and stderr. */
record CliRun(int status, String out, String err) {
    /** Runs `vessel --root ROOT ARGS...` here, its stdout and stderr captured. */
    static CliRun vessel(Path root, String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            List<String> all = new ArrayList<>(List.of("--root", root.toString()));
            all.addAll(List.of(args));
            int status = Main.run(all.toArray(String[]::new));
            return new CliRun(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
