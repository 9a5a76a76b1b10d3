package dev.vessel.network;

import java.util.Map;
import java.util.TreeMap;

/**
 * What {@code network create} asks for, as given (validated by {@link NetworkStore#create}).
 *
 * @param name the network's name
 * @param driver only {@value Network#DRIVER} is known; null means it
 * @param subnet CIDR, or null to choose one from the default pools
 * @param gateway address in the subnet, or null for its first host address
 * @param labels user metadata ({@code --label})
 * @param options driver options ({@code -o}): see {@link Network#OPTIONS}
 * @param internal no traffic in or out of the network beyond its bridge
 */
public record CreateRequest(String name, String driver, String subnet, String gateway, Map<String, String> labels,
                            Map<String, String> options, boolean internal) {
    public CreateRequest {
        labels = labels == null ? Map.of() : new TreeMap<>(labels);
        options = options == null ? Map.of() : new TreeMap<>(options);
    }

    /** A request for {@code name} with every other choice left to Vessel. */
    public static CreateRequest named(String name) {
        return new CreateRequest(name, null, null, null, Map.of(), Map.of(), false);
    }

    public CreateRequest withSubnet(String subnet, String gateway) {
        return new CreateRequest(name, driver, subnet, gateway, labels, options, internal);
    }
}
