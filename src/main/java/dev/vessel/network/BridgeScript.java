package dev.vessel.network;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The shell script that realizes networks on a host (resource bridge.sh, which explains the rules
 * it makes) and the command lines that run it. Every value it is given is checked here first, and
 * passed as an argument, never pasted into script text; the script checks them again.
 */
public final class BridgeScript {
    private BridgeScript() {}

    /** Vessel's own nftables table: every rule Vessel makes is in it, one pair of chains per network. */
    public static final String TABLE = "ip vessel";

    private static final String SCRIPT = load();

    /** The network's NAT chain in {@link #TABLE}. */
    public static String natChain(Network n) {
        return "nat_" + n.shortId();
    }

    /** The network's forwarding chain in {@link #TABLE}. */
    public static String forwardChain(Network n) {
        return "fwd_" + n.shortId();
    }

    /** How the network's traffic leaves its bridge. */
    static String mode(Network n) {
        return n.internal() ? "internal" : n.masquerade() ? "nat" : "routed";
    }

    /** The command that makes {@code n}'s bridge and rules. */
    public static List<String> ensure(Network n) {
        return argv("ensure", n);
    }

    /** The command that gives {@code n}'s running resolver the names on its stdin; nothing when none runs. */
    public static List<String> names(Network n) {
        return argv("names", n);
    }

    /** The command that removes {@code n}'s rules, and its bridge if Vessel made it. */
    public static List<String> remove(Network n) {
        return argv("remove", n);
    }

    private static List<String> argv(String verb, Network n) {
        check(n);
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", SCRIPT, "vessel-network", verb, n.shortId(), n.bridge(),
                n.subnet().toString(), n.gateway() + "/" + n.subnet().prefix(), mode(n)));
        return List.copyOf(argv);
    }

    /** What reaches the script: a record read back from disk is checked again, not trusted. */
    static void check(Network n) {
        if (n.id() == null || !n.id().matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("invalid network id: " + n.id());
        }
        if (!Network.validBridgeName(n.bridge())) {
            throw new IllegalArgumentException("invalid bridge name: " + n.bridge());
        }
        if (n.subnet() == null || n.gateway() == null || !n.subnet().contains(n.gateway())) {
            throw new IllegalArgumentException("network " + n.name() + ": gateway " + n.gateway() + " is not in " + n.subnet());
        }
    }

    /** The script as sent: comment and blank lines dropped (every command carries it). */
    static String script() {
        return SCRIPT;
    }

    private static String load() {
        try (InputStream in = BridgeScript.class.getResourceAsStream("bridge.sh")) {
            if (in == null) {
                throw new IllegalStateException("bridge.sh is missing from Vessel's jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.stripLeading().startsWith("#"))
                    .collect(Collectors.joining("\n", "", "\n"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
