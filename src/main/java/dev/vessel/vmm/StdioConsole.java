package dev.vessel.vmm;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Terminal;

/**
 * A VM's console on this process's stdin and stdout: input copied to the guest
 * ({@link ConsoleInput}: on a terminal, raw, with Ctrl-A x to stop the VM), and on a terminal with
 * virtio-console the window size passed on now and on every SIGWINCH. Closing puts the terminal
 * back as it was (a shutdown hook does too, if the process ends first).
 */
public final class StdioConsole implements AutoCloseable {
    private final Terminal raw;

    private StdioConsole(Terminal raw) {
        this.raw = raw;
    }

    /** Attaches stdin (and, when {@code interactive}, the terminal) to {@code vm}'s console. */
    public static StdioConsole attach(VirtualMachine vm, boolean interactive) throws ErrnoException {
        Terminal raw = interactive ? Terminal.makeRaw(0) : null;
        StdioConsole console = new StdioConsole(raw);
        if (raw != null) {
            Runtime.getRuntime().addShutdownHook(new Thread(console::close, "console-restore"));
        }
        ConsoleInput.start(vm, interactive);
        if (interactive && vm.config().console() == VmConfig.Console.VIRTIO) {
            followWindowSize(vm);
        }
        return console;
    }

    /** Whether stdin and stdout are a terminal. */
    public static boolean interactive() {
        return Terminal.isTerminal(0) && Terminal.isTerminal(1);
    }

    /** hvc0 learns the terminal's size now and again on every SIGWINCH (the UART has no such channel). */
    private static void followWindowSize(VirtualMachine vm) {
        Runnable update = () -> {
            int[] size = Terminal.windowSize(1);
            if (size != null && size[0] > 0 && size[1] > 0) {
                vm.resizeConsole(size[1], size[0]);
            }
        };
        update.run();
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("WINCH"), sig -> update.run());
        } catch (IllegalArgumentException e) {
            // No SIGWINCH on this platform: the size stays as first set.
        }
    }

    /** Restores the terminal. Idempotent. */
    @Override
    public void close() {
        if (raw != null) {
            raw.close();
        }
    }
}
