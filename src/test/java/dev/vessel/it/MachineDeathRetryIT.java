package dev.vessel.it;

import dev.vessel.host.HostCapabilities;
import dev.vessel.machine.HelperMachine;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.reporting.ReportEntry;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * The retry of a test whose helper machine died, end to end: the nested test classes below run
 * through the JUnit Platform (as failsafe runs the others), one crashing the machine's kernel on
 * its first attempt, one failing in a healthy machine; the tests here assert what became of them.
 * Costs one machine restart (docs/helper-machine.md, "When the machine itself dies").
 */
@ExtendWith(HelperMachineExtension.class)
@NotRetried
class MachineDeathRetryIT {
    /** Set while this class launches its nested tests; failsafe skips nested classes, and they check. */
    private static volatile boolean launching;
    /** The pid of the machine each attempt of a nested test ran on. */
    private static final List<Long> ATTEMPTS = new CopyOnWriteArrayList<>();
    private static volatile VesselCli.Result crash;

    @BeforeAll
    static void onlyWithoutHardwareVirtualization() {
        Assumptions.assumeFalse(HostCapabilities.hardwareVirtualization(),
                "this host has hardware virtualization: there is no helper machine to lose");
    }

    static boolean launching() {
        return launching;
    }

    static long machinePid() throws Exception {
        return MachineDeathRetry.machine().running().map(HelperMachine.Endpoint::pid)
                .orElseThrow(() -> new AssertionError("no helper machine runs"));
    }

    @ExtendWith(HelperMachineExtension.class)
    @EnabledIf("dev.vessel.it.MachineDeathRetryIT#launching")
    static class KillsItsMachineOnce {
        @Test
        void crashesTheMachinesKernelOnTheFirstAttempt() throws Exception {
            ATTEMPTS.add(machinePid());
            if (ATTEMPTS.size() == 1) {
                crash = VesselCli.run(Duration.ofMinutes(1), null, "machine", "exec", "--", "sh", "-c",
                        "sync; echo c > /proc/sysrq-trigger");
                fail("crashed the helper machine's kernel on purpose\n" + crash);
            }
        }
    }

    @ExtendWith(HelperMachineExtension.class)
    @EnabledIf("dev.vessel.it.MachineDeathRetryIT#launching")
    static class FailsInAHealthyMachine {
        @Test
        void failsOnItsOwn() throws Exception {
            ATTEMPTS.add(machinePid());
            fail("a failure of the test's own, with the machine healthy");
        }
    }

    /** What became of a nested class's test. */
    record Outcome(List<TestExecutionResult> results, List<String> reportEntries) {}

    static Outcome launch(Class<?> testClass) {
        List<TestExecutionResult> results = new ArrayList<>();
        List<String> entries = new ArrayList<>();
        TestExecutionListener listener = new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (id.isTest()) {
                    results.add(result);
                }
            }

            @Override
            public void reportingEntryPublished(TestIdentifier id, ReportEntry entry) {
                entries.addAll(entry.getKeyValuePairs().values());
            }
        };
        ATTEMPTS.clear();
        launching = true;
        try {
            LauncherFactory.create().execute(LauncherDiscoveryRequestBuilder.request()
                    .selectors(selectClass(testClass)).build(), listener);
        } finally {
            launching = false;
        }
        return new Outcome(results, entries);
    }

    @Test
    void aTestWhoseMachineDiedRunsOnceMoreOnAFreshMachine() throws Exception {
        Outcome o = launch(KillsItsMachineOnce.class);
        if (diedBeforeThePlannedCrash(crash)) {
            // The machine died on its own before the planned crash could reach it: this run shows
            // nothing about the retry of a planned one. The scenario once more, on a fresh machine.
            System.err.println("vessel-it: the helper machine stopped answering before the planned crash ("
                    + crash.stderr().strip() + "); running the scenario once more on a fresh machine");
            VesselCli.Result stop = VesselCli.run(Duration.ofMinutes(3), null, "machine", "stop");
            assertEquals(0, stop.status(), stop.toString());
            o = launch(KillsItsMachineOnce.class);
        }
        assertEquals(1, o.results().size(), o.toString());
        assertEquals(TestExecutionResult.Status.SUCCESSFUL, o.results().getFirst().getStatus(), o.toString());
        assertEquals(2, ATTEMPTS.size(), "attempts on machines " + ATTEMPTS);
        assertNotEquals(ATTEMPTS.get(0), ATTEMPTS.get(1), "the retry ran on the machine that died");

        // The command in flight said at once that the machine died, and why.
        assertTrue(crash.stderr().contains("the helper machine died under this command (its kernel: ")
                && crash.stderr().contains("Kernel panic - not syncing: sysrq triggered crash"), crash.toString());

        assertEquals(1, o.reportEntries().size(), o.toString());
        Matcher m = Pattern.compile("helper machine died under KillsItsMachineOnce\\.crashesTheMachinesKernelOnTheFirstAttempt\\(\\) "
                        + "\\(its kernel: \\[ *[0-9.]+\\] Kernel panic - not syncing: sysrq triggered crash\\); "
                        + "console kept as (\\S+); retrying once on a fresh machine")
                .matcher(o.reportEntries().getFirst());
        assertTrue(m.matches(), o.reportEntries().getFirst());
        String kept = Files.readString(Path.of(m.group(1)));
        assertTrue(kept.contains("sysrq: Trigger a crash"), "the kept console is not the dead machine's: " + m.group(1));
    }

    /** The crash command never reached the machine's agent: the machine was gone already. */
    static boolean diedBeforeThePlannedCrash(VesselCli.Result crash) {
        return crash != null && !crash.stderr().contains("sysrq triggered crash")
                && crash.stderr().contains("lost the connection to the helper machine: vessel-agent did not answer the hello");
    }

    @Test
    void aFailureInAHealthyMachineIsNotRetried() throws Exception {
        long before = machinePid();
        Outcome o = launch(FailsInAHealthyMachine.class);
        assertEquals(1, o.results().size(), o.toString());
        TestExecutionResult r = o.results().getFirst();
        assertEquals(TestExecutionResult.Status.FAILED, r.getStatus(), o.toString());
        assertTrue(r.getThrowable().orElseThrow().getMessage().contains("a failure of the test's own"), o.toString());
        assertEquals(List.of(before), ATTEMPTS, "the test ran more than once, or on another machine");
        assertEquals(List.of(), o.reportEntries());
        assertEquals(before, machinePid(), "the healthy machine was replaced");
    }
}
