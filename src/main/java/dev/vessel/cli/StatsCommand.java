package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerProcesses;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerSummary;
import dev.vessel.image.DockerFormat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel stats`: the running containers' CPU, memory, network and disk use, as docker stats shows it. */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = "Display a live stream of container(s) resource usage statistics (all running ones by default).")
final class StatsCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--no-stream", description = "Disable streaming stats and only pull the first result.")
    boolean noStream;

    @Option(names = "--no-trunc", description = "Do not truncate output.")
    boolean noTrunc;

    @Parameters(arity = "0..*", paramLabel = "CONTAINER")
    List<String> containers = new ArrayList<>();

    static final List<String> TITLES = List.of("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
            "BLOCK I/O", "PIDS");

    @Override
    public Integer call() throws Exception {
        ContainerService service = ContainerSupport.service(main);
        List<String> wanted = new ArrayList<>(containers);
        if (wanted.isEmpty()) {
            for (ContainerSummary c : service.list(false)) {
                wanted.add(c.id());
            }
        }
        ContainerProcesses processes = service.processes();
        Map<String, ContainerProcesses.Sample> before = new LinkedHashMap<>();
        while (true) {
            Map<String, ContainerProcesses.Sample> now = new LinkedHashMap<>();
            for (String ref : wanted) {
                try {
                    now.put(ref, processes.sample(ref));
                } catch (ContainerException e) {
                    if (!containers.isEmpty()) {
                        throw ContainerSupport.error(e);
                    }
                }
            }
            if (before.isEmpty()) {
                // CPU % is a share of the time between two readings: take the second one first.
                before = now;
                Thread.sleep(1000);
                continue;
            }
            List<List<String>> rows = new ArrayList<>();
            rows.add(TITLES);
            for (Map.Entry<String, ContainerProcesses.Sample> e : now.entrySet()) {
                var c = service.require(e.getKey()).config();
                rows.add(row(noTrunc ? c.id() : c.shortId(), c.name(), before.get(e.getKey()), e.getValue()));
            }
            if (!noStream) {
                System.out.print("\u001b[2J\u001b[H"); // docker's clear screen between readings
            }
            System.out.print(Table.format(rows));
            System.out.flush();
            if (noStream) {
                return 0;
            }
            before = now;
            Thread.sleep(1000);
        }
    }

    /** One container's line, from two readings a second apart (docker's CPU % takes the host's CPUs as 100 % each). */
    static List<String> row(String id, String name, ContainerProcesses.Sample before, ContainerProcesses.Sample now) {
        double cpu = 0;
        if (before != null) {
            long busy = now.cpuBusyTicks() - before.cpuBusyTicks();
            long total = now.cpuTotalTicks() - before.cpuTotalTicks();
            cpu = total > 0 ? 100.0 * busy / total * now.cpus() : 0;
        }
        long used = Math.max(0, now.memTotal() - now.memAvailable());
        double memPercent = now.memTotal() > 0 ? 100.0 * used / now.memTotal() : 0;
        long rx = 0;
        long tx = 0;
        for (long[] v : now.networks().values()) {
            rx += v[0];
            tx += v[4];
        }
        long read = 0;
        long written = 0;
        for (long[] v : now.disks().values()) {
            read += v[0];
            written += v[1];
        }
        return List.of(id, name, String.format("%.2f%%", cpu),
                DockerFormat.binarySize(used) + " / " + DockerFormat.binarySize(now.memTotal()),
                String.format("%.2f%%", memPercent),
                DockerFormat.humanSize(rx) + " / " + DockerFormat.humanSize(tx),
                DockerFormat.humanSize(read) + " / " + DockerFormat.humanSize(written),
                Long.toString(now.pids()));
    }
}
