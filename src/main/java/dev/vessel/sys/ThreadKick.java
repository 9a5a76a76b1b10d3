package dev.vessel.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Interrupts a thread blocked in a system call (a vCPU in KVM_RUN) with a signal: the call returns
 * EINTR. The signal is SIGURG, whose default action is to ignore it (a stray one never kills the
 * process) and which the JVM does not use; it gets a handler that does nothing, because an
 * ignored signal is discarded without interrupting anything.
 */
public final class ThreadKick {
    private ThreadKick() {}

    private static final String SIGNAL = "URG";
    private static volatile boolean installed;

    private static final class Self {
        static final MethodHandle H = Libc.fn("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    }

    private static final class Kill {
        static final MethodHandle H = Libc.fn("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    }

    /** The calling thread's pthread handle, for {@link #kick}. */
    public static long self() {
        install();
        try {
            return (long) Self.H.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("pthread_self failed", t);
        }
    }

    /**
     * Sends the kick signal to {@code thread} (a handle from {@link #self} on that thread, which
     * must still be running). Returns false when the thread is gone (ESRCH).
     */
    public static boolean kick(long thread) {
        try {
            return (int) Kill.H.invokeExact(thread, signalNumber()) == 0;
        } catch (Throwable t) {
            throw new IllegalStateException("pthread_kill failed", t);
        }
    }

    private static int signalNumber() {
        return new sun.misc.Signal(SIGNAL).getNumber();
    }

    /** Installs the do-nothing handler once per process. */
    private static void install() {
        if (!installed) {
            synchronized (ThreadKick.class) {
                if (!installed) {
                    sun.misc.Signal.handle(new sun.misc.Signal(SIGNAL), sig -> { });
                    installed = true;
                }
            }
        }
    }
}
