package dev.vessel.it;

import dev.vessel.machine.HelperMachine;
import dev.vessel.machine.MachineConsole;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor.Invocation;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Runs an integration test once more, on a fresh helper machine, when the machine died under it:
 * its own kernel, under emulation (docs/helper-machine.md), not Vessel. It notes where the
 * machine's console stood when the test began; if the test fails, it reads what the console got
 * since and asks the machine for a sign of life ({@link MachineDeath}). A failure in a healthy
 * machine stands as it is.
 *
 * <p>The retry calls the test method again on the same instance with the same arguments. So:
 * {@code @BeforeEach} and {@code @AfterEach} methods run once, around both attempts (the ITs have
 * none; a class that adds some must make them hold for two attempts); fields the first attempt set
 * keep their values; instance {@code @TempDir} directories (fields and parameters) are emptied
 * before the retry, the class's static ones are not; a {@code @Timeout} covers both attempts.
 */
final class MachineDeathRetry {
    private MachineDeathRetry() {}

    /** Bound on the sign of life asked of a machine after a failure. */
    static final Duration ANSWER_BOUND = Duration.ofSeconds(90);

    /**
     * Where the machine stood when a test began: its QEMU, and its console's file, length and
     * first bytes (a freed inode can be reused by a later console; the boot log, with its random
     * notify port on the kernel command line, tells them apart).
     */
    record Mark(long pid, Object consoleKey, long consoleSize, byte[] consoleHead) {}

    static final int HEAD_BYTES = 4096;

    static byte[] head(Path file, int n) throws IOException {
        try (var in = Files.newInputStream(file)) {
            return in.readNBytes(n);
        }
    }

    static HelperMachine machine() throws IOException {
        return new HelperMachine(VesselCli.root().resolve("machine"), VesselCli.root().resolve("kernels"));
    }

    static void intercept(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call, ExtensionContext context)
            throws Throwable {
        HelperMachine machine = machine();
        Mark mark = mark(machine);
        try {
            invocation.proceed();
            return;
        } catch (TestAbortedException skipped) {
            throw skipped;
        } catch (Throwable failure) {
            Optional<MachineDeath> death;
            try {
                death = diagnose(machine, mark);
            } catch (Exception e) {
                failure.addSuppressed(e);
                throw failure;
            }
            if (death.isEmpty()) {
                throw failure;
            }
            String test = context.getRequiredTestClass().getSimpleName() + "." + call.getExecutable().getName() + "()";
            Path kept;
            try {
                kept = restartKeepingConsole(machine, mark, test);
            } catch (Exception e) {
                failure.addSuppressed(e);
                throw failure;
            }
            String notice = "helper machine died under " + test + " (" + death.get().cause() + "); console kept as "
                    + kept + "; retrying once on a fresh machine";
            System.err.println("vessel-it: " + notice);
            System.err.println("vessel-it: the first attempt failed with: " + firstLines(failure.toString(), 20));
            context.publishReportEntry("helper-machine-died", notice);
            emptyTempDirs(call);
            try {
                invokeAgain(call);
            } catch (Throwable second) {
                second.addSuppressed(failure);
                throw second;
            }
        }
    }

    /** Marks the running machine, starting one if none runs (a death the last retry could not survive). */
    static Mark mark(HelperMachine machine) throws Exception {
        Optional<HelperMachine.Endpoint> ep = machine.running();
        if (ep.isEmpty()) {
            VesselCli.Result r = VesselCli.run(Duration.ofMinutes(5), null, "machine", "start");
            if (r.status() != 0) {
                throw new AssertionError("no helper machine runs, and a new one did not start\n" + r);
            }
            ep = machine.running();
        }
        long pid = ep.map(HelperMachine.Endpoint::pid).orElse(-1L);
        Path console = machine.consoleLog();
        if (!Files.isRegularFile(console)) {
            return new Mark(pid, null, 0, new byte[0]);
        }
        BasicFileAttributes a = Files.readAttributes(console, BasicFileAttributes.class);
        return new Mark(pid, a.fileKey(), a.size(), head(console, (int) Math.min(a.size(), HEAD_BYTES)));
    }

    /** Whether the machine marked at the test's start died: its console since, and how it is now. */
    static Optional<MachineDeath> diagnose(HelperMachine machine, Mark mark) throws Exception {
        MachineDeath.Health health = health(machine, mark);
        String since = markedConsole(machine, mark)
                .map(f -> {
                    try {
                        return MachineConsole.readFrom(f, mark.consoleSize(), 4L << 20);
                    } catch (IOException e) {
                        return "";
                    }
                })
                .orElse("");
        return MachineDeath.judge(since, health);
    }

    private static MachineDeath.Health health(HelperMachine machine, Mark mark) throws Exception {
        Optional<HelperMachine.Endpoint> ep = machine.running();
        if (ep.isEmpty()) {
            return MachineDeath.Health.GONE;
        }
        if (ep.get().pid() != mark.pid()) {
            return MachineDeath.Health.REPLACED;
        }
        boolean answered;
        try {
            answered = VesselCli.run(ANSWER_BOUND, null, "machine", "exec", "--", "true").status() == 0;
        } catch (AssertionError timedOut) {
            answered = false;
        }
        // `machine exec` starts a machine when none runs: make sure it spoke to the marked one.
        Optional<HelperMachine.Endpoint> after = machine.running();
        if (after.isEmpty()) {
            return MachineDeath.Health.GONE;
        }
        if (after.get().pid() != mark.pid()) {
            return MachineDeath.Health.REPLACED;
        }
        return answered ? MachineDeath.Health.ANSWERS : MachineDeath.Health.NOT_ANSWERING;
    }

    /**
     * The marked machine's console file now: console.log while that machine is the last one
     * started, console.previous.log after one new start moved it aside (HelperMachine keeps one).
     */
    static Optional<Path> markedConsole(HelperMachine machine, Mark mark) {
        Path dir = machine.directory();
        if (mark.consoleKey() == null) {
            return Optional.of(machine.consoleLog()).filter(Files::isRegularFile);
        }
        for (String name : List.of("console.log", "console.previous.log", "console.failed-boot.log")) {
            Path p = dir.resolve(name);
            try {
                if (Files.isRegularFile(p)
                        && Objects.equals(mark.consoleKey(), Files.readAttributes(p, BasicFileAttributes.class).fileKey())
                        && Arrays.equals(mark.consoleHead(), head(p, mark.consoleHead().length))) {
                    return Optional.of(p);
                }
            } catch (IOException e) {
                // Moved while we looked: try the next name.
            }
        }
        return Optional.empty();
    }

    /** Stops whatever machine runs, keeps the dead one's console beside the test reports, starts a fresh one. */
    private static Path restartKeepingConsole(HelperMachine machine, Mark mark, String test) throws Exception {
        VesselCli.Result stop = VesselCli.run(Duration.ofMinutes(3), null, "machine", "stop");
        if (stop.status() != 0) {
            throw new AssertionError("could not stop the dead helper machine\n" + stop);
        }
        Path kept = null;
        Optional<Path> console = markedConsole(machine, mark);
        if (console.isPresent()) {
            Path reports = Files.createDirectories(Path.of(System.getProperty("vessel.it.reports", "target/failsafe-reports")));
            kept = reports.resolve(test.replace("()", "") + ".machine-console.log").toAbsolutePath();
            Files.copy(console.get(), kept, StandardCopyOption.REPLACE_EXISTING);
        }
        VesselCli.Result start = VesselCli.run(Duration.ofMinutes(5), null, "machine", "start");
        if (start.status() != 0) {
            throw new AssertionError("could not start a fresh helper machine for the retry\n" + start);
        }
        return kept != null ? kept : Path.of("(none: a second new machine overwrote it)");
    }

    private static void emptyTempDirs(ReflectiveInvocationContext<Method> call) throws Exception {
        Object target = call.getTarget().orElse(null);
        if (target != null) {
            for (Class<?> c = target.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (f.isAnnotationPresent(TempDir.class) && !Modifier.isStatic(f.getModifiers())) {
                        f.setAccessible(true);
                        emptyDirectory(f.get(target));
                    }
                }
            }
        }
        Parameter[] params = call.getExecutable().getParameters();
        for (int i = 0; i < params.length; i++) {
            if (params[i].isAnnotationPresent(TempDir.class)) {
                emptyDirectory(call.getArguments().get(i));
            }
        }
    }

    private static void emptyDirectory(Object dir) throws IOException {
        Path root = dir instanceof File f ? f.toPath() : dir instanceof Path p ? p : null;
        if (root == null || !Files.isDirectory(root)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                if (!p.equals(root)) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void invokeAgain(ReflectiveInvocationContext<Method> call) throws Throwable {
        Method m = call.getExecutable();
        m.setAccessible(true);
        try {
            m.invoke(call.getTarget().orElse(null), call.getArguments().toArray());
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static String firstLines(String s, int n) {
        return s.lines().limit(n).reduce((a, b) -> a + "\n" + b).orElse("");
    }
}
