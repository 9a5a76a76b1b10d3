package dev.vessel.container;

import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code docker top} and {@code docker stats} of a running container: what its guest's /proc
 * says, read by the agent's process builtins (protocol.h) and put in the shapes docker shows. The
 * whole VM is the container, so its CPU and memory are the container's.
 */
public final class ContainerProcesses {
    /** {@code ps -ef}'s columns, which dockerd shows by default. */
    public static final List<String> TITLES = List.of("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD");

    /** The processes' rows, in {@link #TITLES}' columns. */
    public record Top(List<String> titles, List<List<String>> processes) {}

    /**
     * One reading of the guest's counters.
     *
     * @param cpuBusyTicks all CPUs' non-idle time; {@code cpuTotalTicks} all of it
     * @param networks per interface: rx bytes, packets, errors, dropped, then tx the same
     * @param disks per disk: bytes read, bytes written, reads, writes
     */
    public record Sample(Instant read, long cpuUserTicks, long cpuSystemTicks, long cpuBusyTicks, long cpuTotalTicks,
                         int cpus, long clockTicks, long memTotal, long memAvailable, long pids,
                         Map<String, long[]> networks, Map<String, long[]> disks) {}

    private final ContainerArchive.Lookup containers;
    private final ContainerArchive.AgentDialer dialer;

    public ContainerProcesses(ContainerArchive.Lookup containers, ContainerArchive.AgentDialer dialer) {
        this.containers = containers;
        this.dialer = dialer;
    }

    public Top top(String ref, String psArgs) throws IOException, ContainerException {
        if (psArgs != null && !psArgs.isBlank() && !psArgs.strip().equals("-ef")) {
            throw ContainerException.invalid("Vessel's top shows ps -ef's columns only (ps_args \"" + psArgs + "\")");
        }
        return formatTop(run(ref, "proc-list"), ZoneId.systemDefault());
    }

    public Sample sample(String ref) throws IOException, ContainerException {
        return parseStats(run(ref, "proc-stats"), Instant.now());
    }

    private String run(String ref, String builtin) throws IOException, ContainerException {
        ContainerStore.Container c = containers.require(ref);
        if (!c.state().isRunning()) {
            throw ContainerException.conflict("Container " + c.config().id() + " is not running");
        }
        AgentClient client;
        try {
            client = dialer.connect(c);
        } catch (IOException e) {
            throw ContainerException.failed("cannot reach the container's agent: " + e.getMessage());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (ExecSession s = client.exec(ExecRequest.of("-").withBuiltin(builtin), null, out, err)) {
            s.closeStdin();
            int status = s.waitFor();
            if (status != 0) {
                throw ContainerException.failed("reading the container's processes failed: "
                        + err.toString(StandardCharsets.UTF_8).strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            client.close();
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** proc-list's lines as ps -ef's rows; kernel threads (pid 2 and its children) are not the container's. */
    static Top formatTop(String listing, ZoneId zone) throws ContainerException {
        try {
            return parseTop(listing, zone);
        } catch (RuntimeException bad) {
            // The lines come from the guest: a malformed one is its error, not a crash of ours.
            throw ContainerException.failed("the container's agent gave a malformed process list: " + bad.getMessage());
        }
    }

    private static Top parseTop(String listing, ZoneId zone) throws ContainerException {
        List<String> lines = listing.lines().toList();
        if (lines.isEmpty() || !lines.getFirst().startsWith("clock ")) {
            throw ContainerException.failed("the container's agent gave no process list");
        }
        String[] h = lines.getFirst().split(" ");
        long clock = Long.parseLong(h[1]);
        long boot = Long.parseLong(h[3]);
        double uptime = Double.parseDouble(h[5]);
        LocalDate today = LocalDate.now(zone);
        List<List<String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            int tab = line.indexOf('\t');
            if (tab < 0) {
                continue;
            }
            String[] f = line.substring(0, tab).split(" ", 8);
            if (f.length < 8) {
                continue;
            }
            long pid = Long.parseLong(f[0]);
            long ppid = Long.parseLong(f[1]);
            if (pid == 2 || ppid == 2) {
                continue;
            }
            long uid = Long.parseLong(f[2]);
            long startTicks = Long.parseLong(f[3]);
            long cpuTicks = Long.parseLong(f[4]);
            long tty = Long.parseLong(f[5]);
            String cmd = line.substring(tab + 1);
            double ranFor = uptime - (double) startTicks / clock;
            long c = ranFor > 0 ? (long) (100 * ((double) cpuTicks / clock) / ranFor) : 0;
            ZonedDateTime started = Instant.ofEpochSecond(boot + startTicks / clock).atZone(zone);
            String stime = started.toLocalDate().equals(today) ? started.format(DateTimeFormatter.ofPattern("HH:mm"))
                    : started.format(DateTimeFormatter.ofPattern("MMMdd"));
            long seconds = cpuTicks / clock;
            rows.add(List.of(uid == 0 ? "root" : Long.toString(uid), Long.toString(pid), Long.toString(ppid),
                    Long.toString(c), stime, tty == 0 ? "?" : "pts/" + ((tty & 0xff) | ((tty >> 12) & 0xfff00)),
                    String.format("%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60),
                    cmd.isEmpty() ? "[" + f[7] + "]" : cmd));
        }
        rows.sort((a, b) -> Long.compare(Long.parseLong(a.get(1)), Long.parseLong(b.get(1))));
        return new Top(TITLES, rows);
    }

    static Sample parseStats(String text, Instant read) throws ContainerException {
        long user = 0, system = 0, busy = 0, total = 0, memTotal = 0, memAvailable = 0, pids = 0, clock = 100;
        int cpus = 1;
        boolean sawCpu = false;
        Map<String, long[]> nets = new LinkedHashMap<>();
        Map<String, long[]> disks = new LinkedHashMap<>();
        for (String line : text.lines().toList()) {
            String[] f = line.strip().split("\\s+");
            try {
                switch (f[0]) {
                    case "cpu" -> {
                        // user nice system idle iowait irq softirq steal
                        long[] v = new long[8];
                        for (int i = 0; i < 8 && i + 1 < f.length; i++) {
                            v[i] = Long.parseLong(f[i + 1]);
                        }
                        user = v[0] + v[1];
                        system = v[2] + v[5] + v[6];
                        busy = user + system + v[7];
                        total = busy + v[3] + v[4];
                        sawCpu = true;
                    }
                    case "cpus" -> cpus = Math.max(1, Integer.parseInt(f[1]));
                    case "clock" -> clock = Math.max(1, Long.parseLong(f[1]));
                    case "mem_total" -> memTotal = Long.parseLong(f[1]);
                    case "mem_available" -> memAvailable = Long.parseLong(f[1]);
                    case "pids" -> pids = Long.parseLong(f[1]);
                    case "net" -> {
                        long[] v = new long[8];
                        for (int i = 0; i < 8; i++) {
                            v[i] = Long.parseLong(f[i + 2]);
                        }
                        nets.put(f[1], v);
                    }
                    case "disk" -> disks.put(f[1], new long[] {Long.parseLong(f[2]) * 512, Long.parseLong(f[3]) * 512,
                            Long.parseLong(f[4]), Long.parseLong(f[5])});
                    default -> {
                        // a newer agent's line: not read here
                    }
                }
            } catch (RuntimeException bad) {
                throw ContainerException.failed("the container's agent gave a malformed statistics line: " + line);
            }
        }
        if (!sawCpu) {
            throw ContainerException.failed("the container's agent gave no statistics");
        }
        return new Sample(read, user, system, busy, total, cpus, clock, memTotal, memAvailable, pids, nets, disks);
    }
}
