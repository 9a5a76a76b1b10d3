package dev.vessel.cli;

import dev.vessel.container.ContainerState;
import dev.vessel.container.ContainerSummary;
import dev.vessel.image.Digest;
import dev.vessel.image.ImageSummary;
import dev.vessel.image.Reference;
import dev.vessel.network.ports.PortBinding;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Docker's table layout (tabwriter, minimum width 10, padding 3) for ps, images and network ls. */
class TableTest {
    @Test
    void columnsAreTheirWidestCellPlusThreeAtLeastTenAndTheLastIsNotPadded() {
        assertEquals("A" + " ".repeat(20) + "LONGER-THAN-TEN   C\n"
                        + "a-cell-of-eighteen   b" + " ".repeat(17) + "the last cell is never padded\n",
                Table.format(List.of(List.of("A", "LONGER-THAN-TEN", "C"),
                        List.of("a-cell-of-eighteen", "b", "the last cell is never padded"))));
        assertEquals("x" + " ".repeat(9) + "y\n", Table.format(List.of(List.of("x", "y"))), "a narrow column is 10 wide");
        assertEquals("empty" + " ".repeat(5) + "next\n" + " ".repeat(10) + "after-empty\n",
                Table.format(List.of(List.of("empty", "next"), List.of("", "after-empty"))), "an empty cell is padded too");
        assertEquals("", Table.format(List.of()));
        // Widths count characters (code points), not UTF-16 units.
        assertEquals("\uD83D\uDE00" + " ".repeat(9) + "x\nab" + " ".repeat(8) + "y\n",
                Table.format(List.of(List.of("\uD83D\uDE00", "x"), List.of("ab", "y"))));
    }

    @Test
    void psColumnsNeverRunIntoEachOther() {
        Instant now = Instant.parse("2026-01-01T12:00:00Z");
        ProcessHandle self = ProcessHandle.current(); // the supervisor a running state names must be alive
        ContainerState running = ContainerState.created().running(self.pid(), self.info().startInstant().orElseThrow().toEpochMilli(), false,
                List.of(new PortBinding("", 8080, 80, "tcp"), new PortBinding("127.0.0.1", 8443, 443, "tcp")));
        ContainerSummary web = new ContainerSummary("a".repeat(64), "a-rather-long-container-name", "registry.example:5000/team/web-frontend:2.1",
                "sha256:" + "1".repeat(64), List.of("/usr/local/bin/docker-entrypoint.sh", "nginx", "-g", "daemon off;"),
                now.minus(Duration.ofSeconds(90)).toString(), running, "Up About a minute");
        ContainerSummary old = new ContainerSummary("b".repeat(64), "x", "alpine", "sha256:" + "2".repeat(64), List.of("sh"),
                now.minus(Duration.ofDays(3)).toString(), ContainerState.created().exited(0, null), "Exited (0) 2 days ago");
        assertEquals("""
                CONTAINER ID   IMAGE                                         COMMAND                  CREATED              STATUS                  PORTS                                           NAMES
                aaaaaaaaaaaa   registry.example:5000/team/web-frontend:2.1   "/usr/local/bin/dock…"   About a minute ago   Up About a minute       0.0.0.0:8080->80/tcp, 127.0.0.1:8443->443/tcp   a-rather-long-container-name
                bbbbbbbbbbbb   alpine                                        "sh"                     3 days ago           Exited (0) 2 days ago                                                   x
                """, ContainerViewCommands.Ps.table(List.of(web, old), false, now));
        // With no containers: the header alone, as docker prints it.
        assertEquals("CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n",
                ContainerViewCommands.Ps.table(List.of(), false, now));
        // --no-trunc: the whole id and command widen their columns.
        String wide = ContainerViewCommands.Ps.table(List.of(web), true, now);
        assertEquals("CONTAINER ID" + " ".repeat(64 + 3 - 12) + "IMAGE", wide.substring(0, 64 + 3 + 5));
        assertTrue(wide.contains("\"/usr/local/bin/docker-entrypoint.sh nginx -g daemon off;\"   About a minute ago"));
    }

    @Test
    void imagesColumnsNeverRunIntoEachOther() throws Exception {
        Instant now = Instant.parse("2026-01-01T12:00:00Z");
        Digest id = Digest.parse("sha256:" + "c".repeat(64));
        ImageSummary longName = new ImageSummary(Reference.parse("registry.example:5000/a/very/long/repository/name:a-long-tag-name"),
                Digest.parse("sha256:" + "d".repeat(64)), id, now.minus(Duration.ofSeconds(70)), 1_234_567_890);
        ImageSummary dangling = new ImageSummary(null, Digest.parse("sha256:" + "e".repeat(64)), id, null, 0);
        assertEquals("""
                REPOSITORY                                          TAG               IMAGE ID       CREATED              SIZE
                registry.example:5000/a/very/long/repository/name   a-long-tag-name   cccccccccccc   About a minute ago   1.23GB
                <none>                                              <none>            cccccccccccc   N/A                  0B
                """,
                ImagesCommand.table(List.of(longName, dangling), false, now));
    }
}
