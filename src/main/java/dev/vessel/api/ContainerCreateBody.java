package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vessel.container.CreateRequest;
import dev.vessel.container.NetworkOptions;
import dev.vessel.container.RestartPolicy;
import dev.vessel.image.HealthConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code POST /containers/create}'s body (docker's {@code container.CreateRequest}: Config,
 * HostConfig, NetworkingConfig) as the container layer's {@link CreateRequest}. What Vessel does
 * not implement is refused when set (volumes, capabilities...); the
 * container service checks the values themselves, as it does for the CLI.
 */
final class ContainerCreateBody {
    private ContainerCreateBody() {}

    /** Config fields taken; the attach flags only say what the client will attach, which is its business. */
    private static final Set<String> CONFIG = Set.of("Hostname", "User", "Tty", "OpenStdin", "Env", "Cmd", "Image",
            "WorkingDir", "Entrypoint", "ExposedPorts", "Labels", "HostConfig", "NetworkingConfig",
            "AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce", "Healthcheck");
    private static final Set<String> HEALTHCHECK = Set.of("Test", "Interval", "Timeout", "StartPeriod", "StartInterval",
            "Retries");
    private static final Set<String> HOST_CONFIG = Set.of("AutoRemove", "PortBindings", "NetworkMode", "PublishAllPorts",
            "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "Memory", "NanoCpus", "LogConfig", "RestartPolicy",
            "MemorySwappiness", "ConsoleSize");
    private static final Set<String> ENDPOINT = Set.of("Aliases", "IPAMConfig", "MacAddress");
    private static final long NANOS_PER_CPU = 1_000_000_000L;

    static CreateRequest parse(ApiRequest r) throws ApiException {
        JsonBody config = JsonBody.parse(r, "container.CreateRequest");
        String image = config.string("Image");
        if (image == null || image.isEmpty()) {
            throw ApiException.badRequest("no image given: Config.Image is empty");
        }
        String name = r.param("name");
        List<String> entrypoint = config.strSlice("Entrypoint");
        List<String> cmd = config.strSlice("Cmd");
        CreateRequest request = CreateRequest.of(image)
                .withName(name == null || name.isEmpty() ? null : name)
                .withCmd(cmd == null ? List.of() : cmd)
                .withEntrypoint(entrypoint)
                .withEnv(config.strings("Env"))
                .withProcess(emptyToNull(config.string("WorkingDir")), emptyToNull(config.string("User")),
                        emptyToNull(config.string("Hostname")))
                .withStreams(config.bool("Tty"), config.bool("OpenStdin"))
                .withLabels(config.stringMap("Labels"));
        JsonBody health = config.object("Healthcheck", "container.HealthConfig");
        if (health != null) {
            // The values are checked by the container service, with dockerd's messages.
            request = request.withHealthcheck(new HealthConfig(health.strings("Test"), health.int64("Interval"),
                    health.int64("Timeout"), health.int64("StartPeriod"), health.int64("StartInterval"),
                    (int) Math.clamp(health.int64("Retries"), Integer.MIN_VALUE, Integer.MAX_VALUE)));
            health.rejectOthers(HEALTHCHECK, "Healthcheck.");
        }
        Map<String, JsonNode> exposed = config.objectMap("ExposedPorts", "nat.PortSet");
        config.rejectOthers(CONFIG, "Config.");

        JsonBody host = config.object("HostConfig", "container.HostConfig");
        NetworkOptions network = NetworkOptions.DEFAULT;
        if (host != null) {
            checkNeutral(host);
            request = request.withAutoRemove(host.bool("AutoRemove")).withRestartPolicy(restartPolicy(host));
            long nanoCpus = host.int64("NanoCpus");
            if (nanoCpus < 0 || nanoCpus % NANOS_PER_CPU != 0) {
                throw ApiException.badRequest("HostConfig.NanoCpus must be whole CPUs (a multiple of 1000000000): "
                        + "a Vessel container's VM has whole vCPUs");
            }
            long cpus = nanoCpus / NANOS_PER_CPU;
            long memory = host.int64("Memory");
            if (memory < 0) {
                throw ApiException.badRequest("HostConfig.Memory must not be negative");
            }
            request = request.withResources(memory, (int) Math.min(cpus, Integer.MAX_VALUE), 0);
            JsonBody log = host.object("LogConfig", "container.LogConfig");
            if (log != null) {
                String type = log.string("Type");
                if (type != null && !type.isEmpty() && !type.equals("local")) {
                    throw ApiException.badRequest("log driver " + type + " is not supported by Vessel: it keeps output as "
                            + "docker's local driver does");
                }
                request = request.withLogOptions(log.stringMap("Config"));
                log.rejectOthers(Set.of("Type", "Config"), "HostConfig.LogConfig.");
            }
            network = networkOptions(config, host, exposed);
            host.rejectOthers(HOST_CONFIG, "HostConfig.");
        } else if (config.object("NetworkingConfig", "network.NetworkingConfig") != null) {
            network = networkOptions(config, null, exposed);
        }
        return request.withNetwork(network);
    }

    /** {@code HostConfig.RestartPolicy} as given: the container service checks it, as dockerd does (400). */
    private static RestartPolicy restartPolicy(JsonBody host) throws ApiException {
        JsonBody restart = host.object("RestartPolicy", "container.RestartPolicy");
        if (restart == null) {
            return RestartPolicy.NONE;
        }
        long count = restart.int64("MaximumRetryCount");
        restart.rejectOthers(Set.of("Name", "MaximumRetryCount"), "HostConfig.RestartPolicy.");
        if (count != (int) count) {
            throw ApiException.badRequest("HostConfig.RestartPolicy.MaximumRetryCount is out of range: " + count);
        }
        return new RestartPolicy(restart.string("Name"), (int) count);
    }

    /** Fields Vessel takes only at their neutral value, which docker's CLI sends. */
    private static void checkNeutral(JsonBody host) throws ApiException {
        long swappiness = host.int64("MemorySwappiness");
        if (swappiness != 0 && swappiness != -1) {
            throw ApiException.badRequest("HostConfig.MemorySwappiness is not supported by Vessel: a container's VM has no swap");
        }
    }

    /** HostConfig's network fields and NetworkingConfig's one endpoint as the container layer's options. */
    private static NetworkOptions networkOptions(JsonBody config, JsonBody host, Map<String, JsonNode> exposed)
            throws ApiException {
        String mode = host == null ? null : emptyToNull(host.string("NetworkMode"));
        if ("default".equals(mode)) {
            mode = null; // the default network, as dockerd reads it
        }
        List<String> aliases = List.of();
        String ipv4 = null;
        String mac = null;
        JsonBody networking = config.object("NetworkingConfig", "network.NetworkingConfig");
        if (networking != null) {
            Map<String, JsonNode> endpoints = networking.objectMap("EndpointsConfig", "map[string]*network.EndpointSettings");
            networking.rejectOthers(Set.of("EndpointsConfig"), "NetworkingConfig.");
            if (endpoints.size() > 1) {
                throw ApiException.badRequest("a Vessel container is created on one network: connect it to "
                        + String.join(", ", endpoints.keySet().stream().skip(1).toList()) + " with network connect");
            }
            for (Map.Entry<String, JsonNode> e : endpoints.entrySet()) {
                String net = e.getKey();
                boolean defaultNet = net.equals("default") || net.equals("bridge");
                if (mode == null && !defaultNet) {
                    mode = net;
                } else if (mode != null && !mode.equals(net) && !(defaultNet && mode.equals("bridge"))) {
                    throw ApiException.badRequest("NetworkingConfig names network " + net + " but HostConfig.NetworkMode is " + mode);
                }
                JsonBody endpoint = networking.entry("EndpointsConfig", e.getValue(), "network.EndpointSettings");
                if (endpoint == null) {
                    continue;
                }
                aliases = endpoint.strings("Aliases");
                mac = emptyToNull(endpoint.string("MacAddress"));
                JsonBody ipam = endpoint.object("IPAMConfig", "network.EndpointIPAMConfig");
                if (ipam != null) {
                    ipv4 = emptyToNull(ipam.string("IPv4Address"));
                    ipam.rejectOthers(Set.of("IPv4Address"), "NetworkingConfig.EndpointsConfig." + net + ".IPAMConfig.");
                }
                endpoint.rejectOthers(ENDPOINT, "NetworkingConfig.EndpointsConfig." + net + ".");
            }
        }
        if (host == null) {
            return new NetworkOptions(mode, aliases, ipv4, mac, null, null, null, null, null, false);
        }
        List<String> publish = new ArrayList<>();
        Map<String, JsonNode> bindings = host.objectMap("PortBindings", "nat.PortMap");
        for (Map.Entry<String, JsonNode> e : bindings.entrySet()) {
            JsonNode list = host.entryArray("PortBindings", e.getValue(), "[]nat.PortBinding");
            for (JsonNode b : list) {
                JsonBody binding = host.entry("PortBindings", b, "nat.PortBinding");
                String ip = binding == null ? null : emptyToNull(binding.string("HostIp"));
                String port = binding == null ? null : emptyToNull(binding.string("HostPort"));
                if (binding != null) {
                    binding.rejectOthers(Set.of("HostIp", "HostPort"), "HostConfig.PortBindings." + e.getKey() + ".");
                }
                // docker's -p syntax, which the container layer parses and checks: [IP:][HOST:]PORT[/PROTO]
                publish.add((ip != null ? ip + ":" + (port != null ? port : "") + ":" : port != null ? port + ":" : "") + e.getKey());
            }
        }
        boolean publishAll = host.bool("PublishAllPorts");
        if (publishAll) {
            // -P also publishes the ports the request exposes, on ports the host picks.
            for (String port : exposed.keySet()) {
                if (!bindings.containsKey(port)) {
                    publish.add(port);
                }
            }
        }
        return new NetworkOptions(mode, aliases, ipv4, mac, host.strings("Dns"), host.strings("DnsSearch"),
                host.strings("DnsOptions"), host.strings("ExtraHosts"), publish, publishAll);
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
