package dev.vessel.network.ports;

import dev.vessel.network.Ipv4Address;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A published port, as docker's {@code -p [IP:][HOST:]CONTAINER[/PROTO]} gives it: a port of the
 * host (on one of its addresses, or all) whose traffic reaches a port of the container.
 *
 * @param hostIp an IPv4 address of the host, or empty for all of them
 * @param hostPort 1..65535, or 0 for one the host picks when the container starts
 * @param containerPort 1..65535
 * @param protocol {@value #TCP} or {@value #UDP}
 */
public record PortBinding(String hostIp, int hostPort, int containerPort, String protocol) {
    public static final String TCP = "tcp";
    public static final String UDP = "udp";
    /** What docker shows for "every address of the host". */
    public static final String ANY = "0.0.0.0";

    public PortBinding {
        hostIp = hostIp == null || hostIp.equals(ANY) ? "" : hostIp;
        if (!hostIp.isEmpty()) {
            Ipv4Address.parse(hostIp); // IllegalArgumentException when it is not one
        }
        if (hostPort < 0 || hostPort > 65535) {
            throw new IllegalArgumentException("invalid hostPort: " + hostPort);
        }
        if (containerPort < 1 || containerPort > 65535) {
            throw new IllegalArgumentException("invalid containerPort: " + containerPort);
        }
        if (!TCP.equals(protocol) && !UDP.equals(protocol)) {
            throw new IllegalArgumentException("invalid proto: " + protocol);
        }
    }

    /**
     * The bindings of one {@code -p} value: {@code 80}, {@code 8080:80}, {@code 127.0.0.1:8080:80},
     * {@code 127.0.0.1::80}, each with an optional {@code /tcp} or {@code /udp}, and port ranges of
     * equal length ({@code 8000-8001:80-81}).
     *
     * @throws IllegalArgumentException with docker's message for a value it would refuse
     */
    public static List<PortBinding> parse(String spec) {
        String rest = spec;
        String proto = TCP;
        int slash = rest.lastIndexOf('/');
        if (slash >= 0) {
            proto = rest.substring(slash + 1).toLowerCase(Locale.ROOT);
            rest = rest.substring(0, slash);
            if (!proto.equals(TCP) && !proto.equals(UDP)) {
                throw new IllegalArgumentException("invalid proto: " + spec.substring(slash + 1));
            }
        }
        String ip = "";
        String host = "";
        String container;
        int last = rest.lastIndexOf(':');
        if (last < 0) {
            container = rest;
        } else {
            container = rest.substring(last + 1);
            String front = rest.substring(0, last);
            int first = front.lastIndexOf(':');
            if (first < 0) {
                host = front;
            } else {
                ip = front.substring(0, first);
                host = front.substring(first + 1);
                try {
                    Ipv4Address.parse(ip);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("invalid IP address: " + ip);
                }
            }
        }
        int[] c = range(container, "containerPort", false);
        int[] h = host.isEmpty() ? new int[] {0, 0} : range(host, "hostPort", false);
        boolean ephemeral = host.isEmpty();
        int count = c[1] - c[0] + 1;
        if (!ephemeral && h[1] - h[0] + 1 != count) {
            throw new IllegalArgumentException("invalid ranges specified for container and host Ports: " + container
                    + " and " + host);
        }
        List<PortBinding> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new PortBinding(ip, ephemeral ? 0 : h[0] + i, c[0] + i, proto));
        }
        return out;
    }

    /** "N" or "N-M" as {N, M}. */
    private static int[] range(String text, String what, boolean zeroAllowed) {
        int dash = text.indexOf('-');
        int lo = port(dash < 0 ? text : text.substring(0, dash), what, zeroAllowed);
        int hi = dash < 0 ? lo : port(text.substring(dash + 1), what, zeroAllowed);
        if (hi < lo) {
            throw new IllegalArgumentException("invalid " + what + ": " + text);
        }
        return new int[] {lo, hi};
    }

    private static int port(String text, String what, boolean zeroAllowed) {
        if (text.isEmpty() || text.length() > 5 || !text.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("invalid " + what + ": " + text);
        }
        int p = Integer.parseInt(text);
        if (p > 65535 || (p == 0 && !zeroAllowed)) {
            throw new IllegalArgumentException("invalid " + what + ": " + text);
        }
        return p;
    }

    /** A port an image exposes ({@code 80/tcp}, {@code 53/udp}, {@code 8080}), published on a port the host picks. */
    public static PortBinding exposed(String exposed) {
        int slash = exposed.indexOf('/');
        String proto = slash < 0 ? TCP : exposed.substring(slash + 1).toLowerCase(Locale.ROOT);
        return new PortBinding("", 0, port(slash < 0 ? exposed : exposed.substring(0, slash), "containerPort", false), proto);
    }

    /** The host address as docker shows it ({@value #ANY} for all). */
    public String hostAddress() {
        return hostIp.isEmpty() ? ANY : hostIp;
    }

    /** The container side as docker names it: {@code 80/tcp}. */
    public String containerKey() {
        return containerPort + "/" + protocol;
    }

    /** The same with the port the host gave it. */
    public PortBinding withHostPort(int port) {
        return new PortBinding(hostIp, port, containerPort, protocol);
    }

    /** As {@code docker ps} shows it: {@code 0.0.0.0:8080->80/tcp}. */
    @Override
    public String toString() {
        return hostAddress() + ":" + hostPort + "->" + containerKey();
    }
}
