package dev.vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * A TAP network interface, opened through {@code /dev/net/tun}: Ethernet frames, each preceded by
 * a virtio_net_hdr ({@code IFF_VNET_HDR}), no packet information prefix ({@code IFF_NO_PI}), one
 * frame per read and per write, non-blocking, close-on-exec.
 *
 * <p>{@link #open} attaches to the interface of that name if it exists (a persistent TAP made with
 * {@code ip tuntap add}) and creates it otherwise; one that Vessel created goes away when the
 * descriptor is closed. Vessel configures nothing on the interface (it stays down, unaddressed,
 * outside any bridge): that is the host's network set-up.
 *
 * <p>The header's size is set with TUNSETVNETHDRSZ, so frames carry the virtio 1.x header with
 * {@code num_buffers} (12 bytes) that virtio-net drivers use, and {@link #setOffload} tells the
 * kernel which offloads the reader takes (TUNSETOFFLOAD): partially checksummed frames
 * ({@link #TUN_F_CSUM}) and TCP segmentation ({@link #TUN_F_TSO4}, {@link #TUN_F_TSO6}). Frames
 * written may use any offload the header describes: the kernel validates the header and
 * completes checksums and segmentation itself.
 */
public final class Tap implements AutoCloseable {
    /** IFNAMSIZ: interface names hold at most 15 bytes and a NUL. */
    public static final int IFNAMSIZ = 16;
    public static final int MAX_NAME_LENGTH = IFNAMSIZ - 1;
    public static final String DEVICE = "/dev/net/tun";

    /** TUNSETOFFLOAD bits: the reader takes frames whose checksum is left to it. */
    public static final int TUN_F_CSUM = 0x01;
    /** ... TCP over IPv4 segmentation offload (needs {@link #TUN_F_CSUM}). */
    public static final int TUN_F_TSO4 = 0x02;
    /** ... TCP over IPv6 segmentation offload (needs {@link #TUN_F_CSUM}). */
    public static final int TUN_F_TSO6 = 0x04;
    /** ... TSO frames with the ECN bit. */
    public static final int TUN_F_TSO_ECN = 0x08;

    static final long TUNSETIFF = 0x4004_54CAL;       // _IOW('T', 202, int)
    static final long TUNSETOFFLOAD = 0x4004_54D0L;   // _IOW('T', 208, unsigned int)
    static final long TUNSETVNETHDRSZ = 0x4004_54D8L; // _IOW('T', 216, int)
    static final int IFF_TAP = 0x0002;
    static final int IFF_NO_PI = 0x1000;
    static final int IFF_VNET_HDR = 0x4000;
    /** struct ifreq: a 16-byte name, then a union whose first member is the short ifr_flags. */
    static final long SIOCGIFFLAGS = 0x8913;
    static final long SIOCSIFFLAGS = 0x8914;
    static final long SIOCGIFINDEX = 0x8933;
    static final long SIOCBRADDIF = 0x89a2;
    static final short IFF_UP = 0x1;
    static final long IFREQ_SIZE = 40;
    static final long IFREQ_FLAGS = 16;

    private final int fd;
    private final String name;
    private final int headerSize;
    private boolean closed;

    private Tap(int fd, String name, int headerSize) {
        this.fd = fd;
        this.name = name;
        this.headerSize = headerSize;
    }

    /**
     * What is wrong with {@code name} as the name of a TAP interface, or null if nothing: 1 to 15
     * characters among letters, digits, '_', '-' and '.', not starting with '-', not "." or "..".
     * Narrower than the kernel's rule on purpose: no '%' (a pattern the kernel would fill in),
     * '/', ':' or spaces, nothing a shell or {@code ip} would read otherwise.
     */
    public static String checkName(String name) {
        if (name == null || name.isEmpty()) {
            return "a TAP interface needs a name";
        }
        if (name.length() > MAX_NAME_LENGTH) {
            return "interface name '" + name + "' is longer than " + MAX_NAME_LENGTH + " characters";
        }
        if (name.equals(".") || name.equals("..") || name.startsWith("-")) {
            return "'" + name + "' is not a usable interface name";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '-' || c == '.';
            if (!ok) {
                return "interface name '" + name + "' has a character other than letters, digits, '_', '-' and '.'";
            }
        }
        return null;
    }

    /**
     * Opens (attaching to, or creating) the TAP interface {@code name} with virtio_net_hdr frames
     * of {@code headerSize} bytes (10, or 12 with num_buffers) and no offloads yet.
     *
     * @throws IllegalArgumentException if the name is not valid ({@link #checkName})
     * @throws TapException if the TAP cannot be had; its message says why in one line
     */
    public static Tap open(String name, int headerSize) throws TapException {
        String problem = checkName(name);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (headerSize < 10 || headerSize > 64) {
            throw new IllegalArgumentException("virtio_net_hdr size must be 10..64: " + headerSize);
        }
        int fd;
        try {
            fd = Libc.open(DEVICE, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        } catch (ErrnoException e) {
            throw new TapException(switch (e.errno()) {
                case Libc.ENOENT, Libc.ENODEV -> DEVICE + " is missing: this kernel has no TUN/TAP driver loaded (modprobe tun)";
                case Libc.EACCES, Libc.EPERM -> "cannot open " + DEVICE + ": permission denied (TAP devices need root or CAP_NET_ADMIN)";
                default -> "cannot open " + DEVICE + ": " + e.getMessage();
            }, e);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = arena.allocate(IFREQ_SIZE, 8);
            byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(bytes, 0, ifr, ValueLayout.JAVA_BYTE, 0, bytes.length);
            ifr.set(ValueLayout.JAVA_SHORT, IFREQ_FLAGS, (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR));
            try {
                Libc.ioctl(fd, TUNSETIFF, ifr, "TUNSETIFF");
            } catch (ErrnoException e) {
                throw new TapException(switch (e.errno()) {
                    case Libc.EPERM, Libc.EACCES -> "not permitted to use TAP interface " + name
                            + ": creating one needs CAP_NET_ADMIN, attaching to an existing one its owner's user or group";
                    case Libc.EBUSY -> "TAP interface " + name + " is in use by another process";
                    case Libc.EINVAL -> "interface " + name + " exists but is not a single-queue TAP device";
                    default -> "cannot attach TAP interface " + name + ": " + e.getMessage();
                }, e);
            }
            MemorySegment size = arena.allocate(ValueLayout.JAVA_INT);
            size.set(ValueLayout.JAVA_INT, 0, headerSize);
            try {
                Libc.ioctl(fd, TUNSETVNETHDRSZ, size, "TUNSETVNETHDRSZ");
            } catch (ErrnoException e) {
                throw new TapException("TAP interface " + name + " refuses " + headerSize + "-byte virtio-net headers: "
                        + e.getMessage(), e);
            }
            Tap tap = new Tap(fd, name, headerSize);
            try {
                tap.setOffload(0);
            } catch (ErrnoException e) {
                throw new TapException("TAP interface " + name + " refuses TUNSETOFFLOAD: " + e.getMessage(), e);
            }
            return tap;
        } catch (TapException | RuntimeException | Error e) {
            closeQuietly(fd);
            throw e;
        }
    }

    /**
     * Makes this TAP a port of the Linux bridge {@code bridge} and brings it up, as a VM's network
     * card plugged into a switch: frames the guest sends reach the bridge's other ports. A TAP that
     * {@link #open} created leaves the bridge when it is closed.
     *
     * @throws TapException if there is no such bridge, or the host refuses (its message says why)
     */
    public void joinBridge(String bridge) throws TapException {
        String problem = checkName(bridge);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        int sock;
        try {
            sock = Libc.socket(Libc.AF_INET, Libc.SOCK_DGRAM);
        } catch (ErrnoException e) {
            throw new TapException("cannot plug " + name + " into bridge " + bridge + ": " + e.getMessage(), e);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ifr = ifreq(arena, name);
            Libc.ioctl(sock, SIOCGIFINDEX, ifr, "SIOCGIFINDEX");
            int index = ifr.get(ValueLayout.JAVA_INT, IFREQ_FLAGS);
            MemorySegment br = ifreq(arena, bridge);
            br.set(ValueLayout.JAVA_INT, IFREQ_FLAGS, index);
            try {
                Libc.ioctl(sock, SIOCBRADDIF, br, "SIOCBRADDIF");
            } catch (ErrnoException e) {
                throw new TapException(switch (e.errno()) {
                    case Libc.ENODEV -> "there is no bridge " + bridge + " to plug " + name + " into";
                    case Libc.EOPNOTSUPP, Libc.EINVAL -> bridge + " is not a bridge: cannot plug " + name + " into it";
                    case Libc.EPERM, Libc.EACCES -> "not permitted to plug " + name + " into bridge " + bridge
                            + " (it needs CAP_NET_ADMIN)";
                    default -> "cannot plug " + name + " into bridge " + bridge + ": " + e.getMessage();
                }, e);
            }
            MemorySegment flags = ifreq(arena, name);
            Libc.ioctl(sock, SIOCGIFFLAGS, flags, "SIOCGIFFLAGS");
            flags.set(ValueLayout.JAVA_SHORT, IFREQ_FLAGS, (short) (flags.get(ValueLayout.JAVA_SHORT, IFREQ_FLAGS) | IFF_UP));
            Libc.ioctl(sock, SIOCSIFFLAGS, flags, "SIOCSIFFLAGS");
        } catch (ErrnoException e) {
            throw new TapException("cannot plug " + name + " into bridge " + bridge + ": " + e.getMessage(), e);
        } finally {
            closeQuietly(sock);
        }
    }

    private static MemorySegment ifreq(Arena arena, String ifname) {
        MemorySegment ifr = arena.allocate(IFREQ_SIZE, 8);
        byte[] bytes = ifname.getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(bytes, 0, ifr, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return ifr;
    }

    /** The descriptor: non-blocking; one read is one frame with its header, one write takes one. */
    public int fd() {
        return fd;
    }

    public String name() {
        return name;
    }

    public int headerSize() {
        return headerSize;
    }

    /**
     * Which offloads the reader takes in frames it reads ({@code TUN_F_*} bits; 0: fully
     * checksummed, segmented frames only). TSO bits without {@link #TUN_F_CSUM} are ignored.
     */
    public void setOffload(int tunFlags) throws ErrnoException {
        if ((tunFlags & (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)) != 0 && (tunFlags & TUN_F_CSUM) == 0) {
            tunFlags = 0; // the kernel would refuse them; the reader gets plain frames
        }
        Libc.ioctl(fd, TUNSETOFFLOAD, Integer.toUnsignedLong(tunFlags), "TUNSETOFFLOAD");
    }

    /** Closes the descriptor (a TAP created by {@link #open} then disappears). Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeQuietly(fd);
        }
    }

    private static void closeQuietly(int fd) {
        try {
            Libc.close(fd);
        } catch (ErrnoException e) {
            // Nothing was buffered: a failed close loses nothing.
        }
    }

    @Override
    public String toString() {
        return "TAP " + name;
    }
}
