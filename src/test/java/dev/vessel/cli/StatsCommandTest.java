package dev.vessel.cli;

import dev.vessel.container.ContainerProcesses;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** vessel stats' line: docker's columns and units from two readings of the guest. */
class StatsCommandTest {
    private static ContainerProcesses.Sample sample(long busy, long total, long available) {
        return new ContainerProcesses.Sample(Instant.EPOCH, busy, 0, busy, total, 2, 100, 256L << 20, available, 5,
                Map.of("eth0", new long[] {1500, 3, 0, 0, 2_500_000, 4, 0, 0}), Map.of("vda", new long[] {4096, 1_200_000, 1, 2}));
    }

    @Test
    void aLineHasDockersColumnsAndUnits() {
        // 50 of 200 ticks busy on 2 CPUs: half a CPU, docker's 50 %.
        List<String> row = StatsCommand.row("0123456789ab", "web", sample(100, 1000, 200L << 20), sample(150, 1200, 192L << 20));
        assertEquals(List.of("0123456789ab", "web", "50.00%", "64MiB / 256MiB", "25.00%", "1.5kB / 2.5MB", "4.1kB / 1.2MB", "5"),
                row);
        assertEquals("0.00%", StatsCommand.row("i", "n", null, sample(1, 2, 0)).get(2), "no reading before: no share yet");
    }
}
