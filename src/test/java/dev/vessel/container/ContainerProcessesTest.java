package dev.vessel.container;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The agent's /proc lines in docker top's and docker stats' terms. */
class ContainerProcessesTest {
    @Test
    void topShowsPsEfColumnsWithoutKernelThreads() throws Exception {
        long boot = Instant.parse("2026-01-01T00:00:00Z").getEpochSecond();
        String listing = "clock 100 boot " + boot + " uptime 200.50\n"
                + "2 0 0 1 0 0 S kthreadd\t\n"
                + "15 2 0 5 0 0 I kworker/0:1\t\n"
                + "40 1 0 1000 12345 34816 S sh\tsh -c sleep 100\n"
                + "41 40 1000 1500 0 0 S sleep\t\n";
        ContainerProcesses.Top top = ContainerProcesses.formatTop(listing, ZoneOffset.UTC);
        assertEquals(ContainerProcesses.TITLES, top.titles());
        assertEquals(List.of(
                List.of("root", "40", "1", "64", "Jan01", "pts/0", "00:02:03", "sh -c sleep 100"),
                List.of("1000", "41", "40", "0", "Jan01", "?", "00:00:00", "[sleep]")), top.processes());
        assertThrows(ContainerException.class, () -> ContainerProcesses.formatTop("garbage\n", ZoneOffset.UTC));
        assertThrows(ContainerException.class, () -> ContainerProcesses.formatTop("clock 0 boot x uptime 1\n", ZoneOffset.UTC),
                "a hostile header");
        assertThrows(ContainerException.class, () -> ContainerProcesses.formatTop(
                "clock 100 boot 0 uptime 1\n40 1 0 notanumber 0 0 S sh\tsh\n", ZoneOffset.UTC), "a hostile line");
    }

    @Test
    void statsAddTheCpuTimesAndKeepTheInterfacesAndDisks() throws Exception {
        ContainerProcesses.Sample s = ContainerProcesses.parseStats("cpu 10 2 30 500 4 1 2 3\ncpus 2\nclock 100\n"
                + "mem_total 1000\nmem_available 400\npids 7\nnet eth0 1 2 3 4 5 6 7 8\ndisk vda 10 20 3 4\n", Instant.EPOCH);
        assertEquals(12, s.cpuUserTicks());
        assertEquals(33, s.cpuSystemTicks());
        assertEquals(48, s.cpuBusyTicks());
        assertEquals(552, s.cpuTotalTicks());
        assertEquals(2, s.cpus());
        assertEquals(7, s.pids());
        assertEquals(600, s.memTotal() - s.memAvailable());
        assertEquals(8, s.networks().get("eth0")[7]);
        assertEquals(10 * 512, s.disks().get("vda")[0]);
        assertThrows(ContainerException.class, () -> ContainerProcesses.parseStats("pids 1\n", Instant.EPOCH), "no cpu line");
        assertThrows(ContainerException.class, () -> ContainerProcesses.parseStats("cpu 1 2\nnet eth0 x\n", Instant.EPOCH));
    }
}
