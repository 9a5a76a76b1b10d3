package dev.vessel.cli;

import java.nio.file.Path;

/** What a `vessel` command run in this JVM did, as text: its status, and what it printed on stdout and stderr. */
record CliRun(int status, String out, String err) {
    /** Runs `vessel --root ROOT ARGS...` here with no input ({@link VesselCli}), its output as text. */
    static CliRun vessel(Path root, String... args) {
        VesselCli.Result r = VesselCli.run(root, "", args);
        return new CliRun(r.status(), r.outText(), r.err());
    }
}
