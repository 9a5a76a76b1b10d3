package dev.vessel.cli;

import dev.vessel.vmm.control.ControlClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel vm stats`: the balloon and the guest's memory statistics of a running VM. */
@Command(name = "stats", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Show a running VM's balloon (target and actual size) and the guest's memory statistics, "
                + "fresh from the guest (VM started with --balloon --api-socket PATH)."},
        footerHeading = "%nExit status:%n",
        footer = {"  0  shown", "  1  no VM answers on the socket, or it refused", "  2  bad command line"})
final class VmStatsCommand implements Callable<Integer> {
    @Option(names = "--api-socket", required = true, paramLabel = "PATH", description = "The VM's API socket (vm run --api-socket).")
    Path apiSocket;

    @Option(names = "--json", description = "Print the VM's reply as it came: one JSON object.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "MS", defaultValue = "2000",
            description = "How long the guest has to send fresh statistics before the latest ones are shown (default: ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Override
    public Integer call() throws Exception {
        if (timeoutMs < 0 || timeoutMs > 60_000) {
            throw new UserError("--timeout must be 0..60000 ms");
        }
        String request = "{\"stats\":true,\"timeout_ms\":" + timeoutMs + "}";
        String raw = rawCall(apiSocket, request, Duration.ofMillis(timeoutMs + 10_000));
        Map<String, Object> reply = parse(raw);
        if (json) {
            System.out.println(raw);
            return 0;
        }
        StringBuilder out = new StringBuilder();
        out.append("balloon: target ").append(number(reply, "target_mib")).append(" MiB (")
                .append(number(reply, "target_pages")).append(" pages), actual ").append(number(reply, "actual_mib"))
                .append(" MiB (").append(number(reply, "actual_pages")).append(" pages); VM memory ")
                .append(number(reply, "memory_mib")).append(" MiB\n");
        Object age = reply.get("stats_age_ms");
        if (!Boolean.TRUE.equals(reply.get("stats_available"))) {
            out.append("guest: no statistics (the driver did not negotiate the stats queue, or is not loaded yet)\n");
        } else if (age == null) {
            out.append("guest: no statistics received yet\n");
        } else {
            out.append("guest statistics (").append(age).append(" ms old):\n");
            if (reply.get("stats") instanceof Map<?, ?> stats) {
                stats.forEach((k, v) -> out.append("  ").append(k).append(": ").append(v)
                        .append(String.valueOf(k).endsWith("_bytes") ? " (" + mib(v) + ")" : "").append('\n'));
            }
        }
        if (reply.get("host") instanceof Map<?, ?> host) {
            out.append("host:\n");
            host.forEach((k, v) -> out.append("  ").append(k).append(": ").append(v).append('\n'));
        }
        System.out.print(out);
        return 0;
    }

    private static String mib(Object v) {
        return v instanceof Number n ? String.format("%.1f MiB", n.doubleValue() / (1 << 20)) : "?";
    }

    static String rawCall(Path socket, String request, Duration timeout) throws UserError {
        try {
            return ControlClient.call(socket, request, timeout);
        } catch (IOException e) {
            throw new UserError(e.getMessage(), 1);
        }
    }

    static Map<String, Object> parse(String raw) throws UserError {
        Map<String, Object> reply;
        try {
            reply = ControlClient.parseReply(raw);
        } catch (IOException e) {
            throw new UserError("the VM's reply is not JSON: " + raw, 1);
        }
        if (!Boolean.TRUE.equals(reply.get("ok"))) {
            throw new UserError("the VM refused: " + reply.get("error"), 1);
        }
        return reply;
    }

    /** One request, its reply checked for "ok". */
    static Map<String, Object> call(Path socket, String request, Duration timeout) throws UserError {
        return parse(rawCall(socket, request, timeout));
    }

    static long number(Map<String, Object> reply, String key) throws UserError {
        if (reply.get(key) instanceof Long l) {
            return l;
        }
        throw new UserError("the VM's reply has no \"" + key + "\"", 1);
    }
}
