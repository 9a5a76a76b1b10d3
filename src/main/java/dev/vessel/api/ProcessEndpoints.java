package dev.vessel.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerProcesses;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerStore;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;

/**
 * {@code docker top} ({@code GET /containers/{id}/top}) and {@code docker stats} ({@code GET
 * /containers/{id}/stats}): the guest's processes and counters, in dockerd's shapes. A stats
 * stream sends a reading a second until its client leaves; {@code stream=false} sends one with
 * the reading a second before it as {@code precpu_stats}, so the client can tell a CPU share.
 */
final class ProcessEndpoints {
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final String NEVER = "0001-01-01T00:00:00Z";

    private final ContainerService containers;
    private final Sleeper sleeper;

    /** The pause between two readings; tests need not wait. */
    @FunctionalInterface
    interface Sleeper {
        void sleep(long millis) throws InterruptedException;
    }

    ProcessEndpoints(ContainerService containers) {
        this(containers, Thread::sleep);
    }

    ProcessEndpoints(ContainerService containers, Sleeper sleeper) {
        this.containers = containers;
        this.sleeper = sleeper;
    }

    void register(Router router) {
        router.add("GET", "/containers/{id}/top", this::top)
                .add("GET", "/containers/{id}/stats", this::stats);
    }

    private ApiResponse top(ApiRequest r) throws ApiException, IOException {
        ContainerProcesses.Top top;
        try {
            top = containers.processes().top(r.variable("id"), r.param("ps_args"));
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        ObjectNode out = EngineApi.JSON.createObjectNode();
        ArrayNode titles = out.putArray("Titles");
        top.titles().forEach(titles::add);
        ArrayNode rows = out.putArray("Processes");
        for (List<String> p : top.processes()) {
            ArrayNode row = rows.addArray();
            p.forEach(row::add);
        }
        return new ApiResponse.Json(200, out);
    }

    private ApiResponse stats(ApiRequest r) throws ApiException, IOException {
        String id = r.variable("id");
        boolean stream = r.param("stream") == null || r.flag("stream");
        boolean oneShot = r.flag("one-shot");
        ContainerStore.Container c;
        ContainerProcesses.Sample first;
        try {
            c = containers.require(id);
            first = containers.processes().sample(id);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        String name = "/" + c.config().name();
        String fullId = c.config().id();
        long memoryLimit = c.config().memoryBytes();
        if (!stream) {
            ContainerProcesses.Sample before = null;
            ContainerProcesses.Sample now = first;
            if (!oneShot) {
                before = first;
                now = next(id);
            }
            return new ApiResponse.Json(200, json(now, before, name, fullId, memoryLimit));
        }
        ContainerProcesses.Sample start = first;
        return new ApiResponse.Stream(200, "application/json", body -> {
            ContainerProcesses.Sample before = null;
            ContainerProcesses.Sample now = start;
            while (true) {
                write(body, json(now, before, name, fullId, memoryLimit));
                before = now;
                try {
                    sleeper.sleep(1000);
                    now = containers.processes().sample(id);
                } catch (InterruptedException e) {
                    return; // the client left
                } catch (ContainerException stopped) {
                    return; // the container ended: so does its stream, as dockerd's
                }
            }
        }, true);
    }

    private ContainerProcesses.Sample next(String id) throws ApiException, IOException {
        try {
            sleeper.sleep(1000);
            return containers.processes().sample(id);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
    }

    private static void write(OutputStream body, ObjectNode json) throws IOException {
        body.write(EngineApi.bytes(json));
        body.write('\n');
        body.flush();
    }

    /** dockerd's stats JSON; CPU times in nanoseconds, memory in bytes. */
    static ObjectNode json(ContainerProcesses.Sample now, ContainerProcesses.Sample before, String name, String id,
                           long memoryLimit) {
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("name", name).put("id", id).put("read", now.read().toString())
                .put("preread", before == null ? NEVER : before.read().toString());
        o.putObject("pids_stats").put("current", now.pids());
        ArrayNode io = o.putObject("blkio_stats").putArray("io_service_bytes_recursive");
        for (Map.Entry<String, long[]> d : now.disks().entrySet()) {
            io.addObject().put("major", 254).put("minor", 0).put("op", "read").put("value", d.getValue()[0]);
            io.addObject().put("major", 254).put("minor", 0).put("op", "write").put("value", d.getValue()[1]);
        }
        o.put("num_procs", 0);
        o.putObject("storage_stats");
        o.set("cpu_stats", cpu(now));
        o.set("precpu_stats", before == null ? EngineApi.JSON.createObjectNode().set("cpu_usage",
                EngineApi.JSON.createObjectNode().put("total_usage", 0).put("usage_in_kernelmode", 0).put("usage_in_usermode", 0))
                : cpu(before));
        long usage = Math.max(0, now.memTotal() - now.memAvailable());
        ObjectNode mem = o.putObject("memory_stats");
        mem.put("usage", usage).put("limit", now.memTotal() > 0 ? now.memTotal() : memoryLimit);
        mem.putObject("stats");
        ObjectNode nets = o.putObject("networks");
        for (Map.Entry<String, long[]> n : now.networks().entrySet()) {
            long[] v = n.getValue();
            nets.putObject(n.getKey()).put("rx_bytes", v[0]).put("rx_packets", v[1]).put("rx_errors", v[2])
                    .put("rx_dropped", v[3]).put("tx_bytes", v[4]).put("tx_packets", v[5]).put("tx_errors", v[6])
                    .put("tx_dropped", v[7]);
        }
        return o;
    }

    private static ObjectNode cpu(ContainerProcesses.Sample s) {
        long perTick = NANOS_PER_SECOND / s.clockTicks();
        ObjectNode cpu = EngineApi.JSON.createObjectNode();
        cpu.putObject("cpu_usage").put("total_usage", s.cpuBusyTicks() * perTick)
                .put("usage_in_kernelmode", s.cpuSystemTicks() * perTick)
                .put("usage_in_usermode", s.cpuUserTicks() * perTick);
        cpu.put("system_cpu_usage", s.cpuTotalTicks() * perTick).put("online_cpus", s.cpus());
        cpu.putObject("throttling_data").put("periods", 0).put("throttled_periods", 0).put("throttled_time", 0);
        return cpu;
    }
}
