package dev.vessel.network;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;

/** Docker's JSON for a network ({@code docker network inspect}, the Engine API's NetworkResource), field for field in its order. */
public final class NetworkInspect {
    private NetworkInspect() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    public static ObjectNode of(Network n) {
        ObjectNode o = JSON.createObjectNode();
        o.put("Name", n.name());
        o.put("Id", n.id());
        o.put("Created", n.created());
        o.put("Scope", "local");
        o.put("Driver", n.driver());
        o.put("EnableIPv6", false);
        ObjectNode ipam = o.putObject("IPAM");
        ipam.put("Driver", "default");
        ipam.putObject("Options");
        ObjectNode config = ipam.putArray("Config").addObject();
        config.put("Subnet", n.subnet().toString());
        config.put("Gateway", n.gateway().toString());
        o.put("Internal", n.internal());
        o.put("Attachable", false);
        o.put("Ingress", false);
        o.putObject("ConfigFrom").put("Network", "");
        o.put("ConfigOnly", false);
        ObjectNode containers = o.putObject("Containers");
        for (Map.Entry<String, Endpoint> e : n.endpoints().entrySet()) {
            Endpoint ep = e.getValue();
            ObjectNode c = containers.putObject(e.getKey());
            c.put("Name", ep.containerName());
            c.put("EndpointID", ep.id());
            c.put("MacAddress", ep.macAddress());
            c.put("IPv4Address", ep.address() + "/" + n.subnet().prefix());
            c.put("IPv6Address", "");
        }
        ObjectNode options = o.putObject("Options");
        n.options().forEach(options::put);
        ObjectNode labels = o.putObject("Labels");
        n.labels().forEach(labels::put);
        return o;
    }
}
