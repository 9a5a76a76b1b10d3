package dev.vessel.machine.standby;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class StandbyVmmTest {
    @Test
    void aSuccessorWaitsForItsPredecessorOnly() {
        List<String> first = List.of("java", "-jar", "v.jar", "vm", "standby", "--socket", "/run/vessel/vmm-a.sock");
        List<String> second = StandbyVmm.successorCommandLine(first, 41);
        assertEquals(List.of("java", "-jar", "v.jar", "vm", "standby", "--socket", "/run/vessel/vmm-a.sock",
                "--after-pid", "41"), second);
        // Its own successor waits for it, not for the first one.
        assertEquals(List.of("java", "-jar", "v.jar", "vm", "standby", "--socket", "/run/vessel/vmm-a.sock",
                "--after-pid", "52"), StandbyVmm.successorCommandLine(second, 52));
        List<String> joined = List.of("vm", "standby", "--after-pid=7", "--socket", "s.sock");
        assertEquals(List.of("vm", "standby", "--socket", "s.sock", "--after-pid", "8"),
                StandbyVmm.successorCommandLine(joined, 8));
    }
}
