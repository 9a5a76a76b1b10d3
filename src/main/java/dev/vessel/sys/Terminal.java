package dev.vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A terminal on a file descriptor: raw mode for a VM console, and its window size. */
public final class Terminal implements AutoCloseable {
    /** sizeof(struct termios) on x86-64 glibc. */
    private static final long TERMIOS_SIZE = 60;
    private static final int TCSANOW = 0;
    private static final long TIOCGWINSZ = 0x5413;

    private final int fd;
    private final MemorySegment saved;
    private boolean raw;

    private Terminal(int fd, MemorySegment saved) {
        this.fd = fd;
        this.saved = saved;
    }

    public static boolean isTerminal(int fd) {
        return Libc.isatty(fd);
    }

    /** Puts the terminal on {@code fd} into raw mode; {@link #close()} restores it. */
    public static Terminal makeRaw(int fd) throws ErrnoException {
        MemorySegment saved = Arena.global().allocate(TERMIOS_SIZE);
        Libc.tcgetattr(fd, saved);
        Terminal t = new Terminal(fd, saved);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(TERMIOS_SIZE);
            raw.copyFrom(saved);
            Libc.cfmakeraw(raw);
            Libc.tcsetattr(fd, TCSANOW, raw);
        }
        t.raw = true;
        return t;
    }

    /** Rows and columns of the terminal on {@code fd}, or null when it is not a terminal. */
    public static int[] windowSize(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ws = arena.allocate(8);
            Libc.ioctl(fd, TIOCGWINSZ, ws, "TIOCGWINSZ");
            int rows = Short.toUnsignedInt(ws.get(ValueLayout.JAVA_SHORT, 0));
            int cols = Short.toUnsignedInt(ws.get(ValueLayout.JAVA_SHORT, 2));
            return new int[] {rows, cols};
        } catch (ErrnoException e) {
            return null;
        }
    }

    @Override
    public synchronized void close() {
        if (raw) {
            raw = false;
            try {
                Libc.tcsetattr(fd, TCSANOW, saved);
            } catch (ErrnoException ignored) {
                // The terminal is gone; nothing left to restore.
            }
        }
    }

}
