package dev.vessel.container;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.network.Endpoint;
import dev.vessel.network.Network;
import dev.vessel.network.ports.PortBinding;

import java.util.List;

/**
 * Docker's JSON for a container ({@code docker inspect}, the Engine API's {@code GET
 * /containers/{id}/json}): one builder for the CLI and the API, so the two never differ.
 */
public final class ContainerInspect {
    private ContainerInspect() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Docker's container JSON, field for field in docker's order. */
    public static ObjectNode of(ContainerDetails d) {
        ObjectMapper json = JSON;
        var cfg = d.config();
        var s = d.state();
        ObjectNode n = json.createObjectNode();
        n.put("Id", cfg.id());
        n.put("Created", cfg.created());
        n.put("Path", cfg.path());
        n.set("Args", json.valueToTree(cfg.args()));
        ObjectNode st = n.putObject("State");
        st.put("Status", s.status());
        st.put("Running", d.running());
        st.put("Paused", false);
        st.put("Restarting", d.restarting());
        st.put("OOMKilled", false);
        st.put("Dead", false);
        st.put("Pid", d.pid());
        st.put("ExitCode", s.exitCode());
        st.put("Error", s.error());
        st.put("StartedAt", d.startedAt());
        st.put("FinishedAt", d.finishedAt());
        if (s.health() != null) {
            ObjectNode h = st.putObject("Health");
            h.put("Status", s.health().status());
            h.put("FailingStreak", s.health().failingStreak());
            ArrayNode log = h.putArray("Log");
            for (Health.Result r : s.health().log()) {
                ObjectNode o = log.addObject();
                o.put("Start", r.start());
                o.put("End", r.end());
                o.put("ExitCode", r.exitCode());
                o.put("Output", r.output());
            }
        }
        n.put("Image", cfg.imageId());
        n.put("LogPath", d.logPath().toString());
        n.put("Name", d.name());
        n.put("RestartCount", s.restartCount());
        n.put("Driver", ContainerDetails.DRIVER);
        n.put("Platform", "linux");
        ObjectNode hc = n.putObject("HostConfig");
        hc.put("Memory", cfg.memoryBytes());
        hc.put("NanoCpus", d.nanoCpus());
        hc.put("AutoRemove", cfg.autoRemove());
        ObjectNode rp = hc.putObject("RestartPolicy");
        rp.put("Name", cfg.restartPolicy().name());
        rp.put("MaximumRetryCount", cfg.restartPolicy().maximumRetryCount());
        ObjectNode lc = hc.putObject("LogConfig");
        lc.put("Type", "local");
        lc.set("Config", json.valueToTree(new java.util.TreeMap<>(cfg.logLimits().options())));
        var net = cfg.networking();
        hc.put("NetworkMode", net.mode());
        hc.set("PortBindings", ports(json, net.ports()));
        hc.set("Dns", json.valueToTree(net.dns()));
        hc.set("DnsOptions", json.valueToTree(net.dnsOptions()));
        hc.set("DnsSearch", json.valueToTree(net.dnsSearch()));
        hc.set("ExtraHosts", json.valueToTree(net.extraHosts()));
        ObjectNode cc = n.putObject("Config");
        cc.put("Hostname", cfg.hostname());
        cc.put("User", cfg.user());
        cc.put("Tty", cfg.tty());
        cc.put("OpenStdin", cfg.openStdin());
        cc.set("Env", json.valueToTree(cfg.env()));
        cc.set("Cmd", json.valueToTree(cfg.argv()));
        if (cfg.healthcheck() != null) {
            cc.set("Healthcheck", json.valueToTree(cfg.healthcheck())); // docker's field names, zeros left out
        }
        cc.put("Image", cfg.image());
        cc.put("WorkingDir", cfg.workingDir());
        // Sorted: dockerd writes Go maps so.
        cc.set("Labels", json.valueToTree(new java.util.TreeMap<>(cfg.labels())));
        ObjectNode ns = n.putObject("NetworkSettings");
        ns.set("Ports", ports(json, d.running() ? s.ports() : List.of()));
        // Docker fills the top-level address fields from the default network only.
        Network bridge = d.networks().stream().filter(Network::isDefault).findFirst().orElse(null);
        Endpoint be = bridge == null ? null : bridge.endpoints().get(cfg.id());
        ns.put("Gateway", be == null ? "" : bridge.gateway().toString());
        ns.put("IPAddress", be == null ? "" : be.address().toString());
        ns.put("IPPrefixLen", be == null ? 0 : bridge.subnet().prefix());
        ns.put("MacAddress", be == null ? "" : be.macAddress());
        ObjectNode nets = ns.putObject("Networks");
        for (Network nw : d.networks()) {
            Endpoint e = nw.endpoints().get(cfg.id());
            if (e == null) {
                continue;
            }
            ObjectNode o = nets.putObject(nw.name());
            o.set("Aliases", nw.isDefault() ? null : json.valueToTree(e.aliases()));
            o.put("MacAddress", e.macAddress());
            o.put("NetworkID", nw.id());
            o.put("EndpointID", e.id());
            o.put("Gateway", nw.gateway().toString());
            o.put("IPAddress", e.address().toString());
            o.put("IPPrefixLen", nw.subnet().prefix());
            o.set("DNSNames", nw.isDefault() ? null
                    : json.valueToTree(java.util.stream.Stream.concat(java.util.stream.Stream.of(cfg.name()),
                            java.util.stream.Stream.concat(e.aliases().stream(), java.util.stream.Stream.of(cfg.shortId())))
                            .toList()));
        }
        return n;
    }

    /** Docker's port map: {@code {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}}. */
    private static ObjectNode ports(ObjectMapper json, List<PortBinding> bindings) {
        ObjectNode out = json.createObjectNode();
        for (PortBinding b : bindings) {
            ArrayNode list = out.has(b.containerKey())
                    ? (ArrayNode) out.get(b.containerKey())
                    : out.putArray(b.containerKey());
            ObjectNode o = list.addObject();
            o.put("HostIp", b.hostIp());
            o.put("HostPort", b.hostPort() == 0 ? "" : Integer.toString(b.hostPort()));
        }
        return out;
    }
}
