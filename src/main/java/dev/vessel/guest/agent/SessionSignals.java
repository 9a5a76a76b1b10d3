package dev.vessel.guest.agent;

import dev.vessel.sys.Terminal;
import sun.misc.Signal;

import java.io.IOException;

/**
 * Passes this process's SIGINT, SIGTERM and SIGHUP, and with a terminal its resizes, on to the
 * process an agent session runs: a command forwarded into a guest or the helper machine then
 * stops and resizes as if it ran here.
 */
public final class SessionSignals {
    private SessionSignals() {}

    @SuppressWarnings("removal")
    public static void forward(ExecSession session, boolean tty) {
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
