package dev.vessel.guest;

import dev.vessel.host.StateRoot;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Ready-made guest images for Java programs: Debian's cloud kernel and Vessel's busybox initramfs,
 * from the state root's caches ({@code $VESSEL_ROOT}, else /var/lib/vessel for root, else
 * ~/.local/share/vessel), made on first use. The kernel is fetched once with {@code apt-get
 * download}; progress goes to stderr.
 *
 * <p>Where the program runs in the helper machine ({@code vessel machine java}), the host's
 * images are sent along and named by the system properties {@value #KERNEL_PROPERTY} and
 * {@value #AGENT_INITRD_PROPERTY}, which take precedence.
 */
public final class GuestImages {
    private GuestImages() {}

    public static final String KERNEL_PROPERTY = "vessel.guest.kernel";
    public static final String AGENT_INITRD_PROPERTY = "vessel.guest.agent-initrd";

    /** Debian's cloud kernel (a bzImage). */
    public static Path defaultKernel() throws IOException {
        String given = System.getProperty(KERNEL_PROPERTY);
        if (given != null) {
            return Path.of(given);
        }
        return kernel(StateRoot.resolve(null)).vmlinuz();
    }

    /**
     * An initramfs whose init loads the virtio drivers and runs vessel-agent on vsock port
     * {@value dev.vessel.guest.agent.AgentProtocol#CONTAINER_PORT}: a host program runs commands
     * in the guest with {@link dev.vessel.guest.agent.GuestAgent}. When the agent ends, the guest
     * powers off.
     */
    public static Path agentInitramfs() throws IOException {
        String given = System.getProperty(AGENT_INITRD_PROPERTY);
        if (given != null) {
            return Path.of(given);
        }
        StateRoot root = StateRoot.resolve(null);
        return DefaultInitramfs.ensure(root.dir("cache"), kernel(root), "agent");
    }

    private static DebianKernel.Release kernel(StateRoot root) throws IOException {
        return new DebianKernel(root.dir("kernels")).ensure(System.err);
    }
}
