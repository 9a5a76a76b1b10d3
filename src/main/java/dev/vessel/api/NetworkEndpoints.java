package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.network.CreateRequest;
import dev.vessel.network.Network;
import dev.vessel.network.NetworkException;
import dev.vessel.network.NetworkInspect;
import dev.vessel.network.NetworkService;

import java.io.IOException;
import java.util.Set;

/** The network endpoints over {@link NetworkService}: list, inspect, create, remove, prune, connect, disconnect. */
final class NetworkEndpoints {
    /** Attachable (docker-compose sends it) means nothing on a local bridge, which any container may join. */
    private static final Set<String> CREATE_FIELDS = Set.of("Name", "Driver", "Internal", "Labels", "Options", "IPAM",
            "CheckDuplicate", "Scope", "Attachable");
    private static final Set<String> LIST_FILTERS = Set.of("name", "id", "driver", "label");
    private static final Set<String> PRUNE_FILTERS = Set.of("label", "label!", "until");

    private final NetworkService networks;

    private final ContainerService containers;

    NetworkEndpoints(ContainerService containers) {
        this.containers = containers;
        this.networks = containers.networks();
    }

    void register(Router router) {
        router.add("GET", "/networks", this::list)
                .add("POST", "/networks/create", this::create)
                .add("POST", "/networks/prune", this::prune)
                .add("GET", "/networks/{id}", this::inspect)
                .add("DELETE", "/networks/{id}", this::remove)
                .add("POST", "/networks/{id}/connect", this::connect)
                .add("POST", "/networks/{id}/disconnect", this::disconnect);
    }

    /**
     * {@code network connect} (docker-compose connects each service's container to the project's
     * network with its aliases before it starts it): aliases, an IPv4 address and a MAC address.
     */
    private ApiResponse connect(ApiRequest r) throws ApiException, IOException {
        JsonBody body = JsonBody.parse(r, "network.ConnectOptions");
        String container = body.string("Container");
        if (container == null || container.isEmpty()) {
            throw ApiException.badRequest("no container given to connect");
        }
        java.util.List<String> aliases = java.util.List.of();
        String ipv4 = null;
        String mac = null;
        JsonBody endpoint = body.object("EndpointConfig", "network.EndpointSettings");
        if (endpoint != null) {
            aliases = endpoint.strSlice("Aliases");
            mac = emptyToNull(endpoint.string("MacAddress"));
            JsonBody ipam = endpoint.object("IPAMConfig", "network.EndpointIPAMConfig");
            if (ipam != null) {
                ipv4 = emptyToNull(ipam.string("IPv4Address"));
                ipam.rejectOthers(Set.of("IPv4Address"), "EndpointConfig.IPAMConfig.");
            }
            endpoint.rejectOthers(Set.of("Aliases", "MacAddress", "IPAMConfig"), "EndpointConfig.");
        }
        body.rejectOthers(Set.of("Container", "EndpointConfig"), "");
        try {
            containers.connect(container, r.variable("id"), aliases, ipv4, mac);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(200);
    }

    private ApiResponse disconnect(ApiRequest r) throws ApiException, IOException {
        JsonBody body = JsonBody.parse(r, "network.DisconnectOptions");
        String container = body.string("Container");
        if (container == null || container.isEmpty()) {
            throw ApiException.badRequest("no container given to disconnect");
        }
        boolean force = body.bool("Force");
        body.rejectOthers(Set.of("Container", "Force"), "");
        try {
            containers.disconnect(container, r.variable("id"), force);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(200);
    }

    private ApiResponse list(ApiRequest r) throws ApiException, IOException {
        Filters f = Filters.parse(r, LIST_FILTERS);
        ArrayNode out = EngineApi.JSON.createArrayNode();
        try {
            for (Network n : networks.list()) {
                if (f.any("name", v -> n.name().contains(v)) && f.any("id", v -> n.id().startsWith(v))
                        && f.any("driver", v -> v.equals(n.driver())) && f.labels("label", n.labels())) {
                    out.add(NetworkInspect.of(n));
                }
            }
        } catch (NetworkException e) {
            throw ApiException.of(e);
        }
        return ApiResponse.ok(out);
    }

    private ApiResponse inspect(ApiRequest r) throws ApiException, IOException {
        try {
            return ApiResponse.ok(NetworkInspect.of(networks.inspect(r.variable("id"))));
        } catch (NetworkException e) {
            throw ApiException.of(e);
        }
    }

    /** dockerd's {@code network.CreateRequest}; the store checks names, subnets and options. */
    private ApiResponse create(ApiRequest r) throws ApiException, IOException {
        JsonBody body = JsonBody.parse(r, "network.CreateRequest");
        String name = body.string("Name");
        if (name == null || name.isEmpty()) {
            throw ApiException.badRequest("network name cannot be empty");
        }
        String scope = body.string("Scope");
        if (scope != null && !scope.isEmpty() && !scope.equals("local")) {
            throw ApiException.badRequest("scope " + scope + " is not supported by Vessel: its networks are local");
        }
        String subnet = null;
        String gateway = null;
        JsonBody ipam = body.object("IPAM", "network.IPAM");
        if (ipam != null) {
            String driver = ipam.string("Driver");
            if (driver != null && !driver.isEmpty() && !driver.equals("default")) {
                throw ApiException.badRequest("IPAM driver " + driver + " is not supported by Vessel");
            }
            JsonNode configs = ipam.array("Config", "[]network.IPAMConfig");
            if (configs.size() > 1) {
                throw ApiException.badRequest("a Vessel network has one IPv4 subnet: IPAM.Config has " + configs.size());
            }
            for (JsonNode c : configs) {
                JsonBody config = ipam.entry("Config", c, "network.IPAMConfig");
                if (config != null) {
                    subnet = emptyToNull(config.string("Subnet"));
                    gateway = emptyToNull(config.string("Gateway"));
                    config.rejectOthers(Set.of("Subnet", "Gateway"), "IPAM.Config.");
                }
            }
            ipam.rejectOthers(Set.of("Driver", "Config"), "IPAM.");
        }
        CreateRequest request = new CreateRequest(name, emptyToNull(body.string("Driver")), subnet, gateway,
                body.stringMap("Labels"), body.stringMap("Options"), body.bool("Internal"));
        body.rejectOthers(CREATE_FIELDS, "");
        Network n;
        try {
            n = networks.create(request);
        } catch (NetworkException e) {
            throw ApiException.of(e);
        }
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("Id", n.id());
        o.put("Warning", "");
        return new ApiResponse.Json(201, o);
    }

    private ApiResponse remove(ApiRequest r) throws ApiException, IOException {
        try {
            networks.remove(r.variable("id"));
        } catch (NetworkException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(204);
    }

    private ApiResponse prune(ApiRequest r) throws ApiException, IOException {
        Filters f = Filters.parse(r, PRUNE_FILTERS);
        if (f.has("until")) {
            throw ApiException.badRequest("network prune --filter until is not supported by Vessel yet");
        }
        NetworkService.PruneResult result;
        try {
            // label! spares a network that matches all of its values, as dockerd's prune does.
            result = networks.prune(n -> f.labels("label", n.labels())
                    && !(f.has("label!") && f.labels("label!", n.labels())));
        } catch (NetworkException e) {
            throw ApiException.of(e);
        }
        if (!result.failures().isEmpty()) {
            throw ApiException.of(result.failures().getFirst());
        }
        ObjectNode o = EngineApi.JSON.createObjectNode();
        ArrayNode deleted = o.putArray("NetworksDeleted");
        result.removed().forEach(n -> deleted.add(n.name()));
        return ApiResponse.ok(o);
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
