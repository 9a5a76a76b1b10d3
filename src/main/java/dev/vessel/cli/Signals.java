package dev.vessel.cli;

import dev.vessel.guest.agent.ExecSession;
import dev.vessel.sys.Terminal;
import sun.misc.Signal;

import java.io.IOException;

/** Passes this process's signals and terminal resizes on to a process running in the helper machine. */
final class Signals {
    private Signals() {}

    static final int SIGINT = 2;
    static final int SIGTERM = 15;
    static final int SIGHUP = 1;

    @SuppressWarnings("removal")
    static void forward(ExecSession session, boolean tty) {
        for (String name : new String[] {"INT", "TERM", "HUP"}) {
            Signal.handle(new Signal(name), s -> {
                try {
                    session.signal(s.getNumber());
                } catch (IOException e) {
                    // The session is ending anyway.
                }
            });
        }
        if (tty) {
            Signal.handle(new Signal("WINCH"), s -> {
                int[] size = Terminal.windowSize(1);
                if (size != null) {
                    try {
                        session.resize(size[0], size[1]);
                    } catch (IOException e) {
                        // The session is ending anyway.
                    }
                }
            });
        }
    }
}
