package dev.vessel.cli;

import dev.vessel.registry.PullProgress;

/** What pull, login and run share: the progress mode and docker's one-line errors. */
final class PullSupport {
    private PullSupport() {}

    /** Redrawn progress bars on a terminal, plain lines otherwise. */
    static PullProgress.Mode mode() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal() ? PullProgress.Mode.TERMINAL : PullProgress.Mode.PLAIN;
    }

    /** docker's one line for a failed request, and {@code status} (pull and login exit 1, not 125). */
    static int fail(Exception e, int status) {
        ImagesCommand.fail(System.err, e);
        return status;
    }
}
