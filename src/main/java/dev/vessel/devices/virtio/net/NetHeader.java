package dev.vessel.devices.virtio.net;

import static dev.vessel.devices.virtio.net.VirtioNet.F_CSUM;
import static dev.vessel.devices.virtio.net.VirtioNet.F_GUEST_CSUM;
import static dev.vessel.devices.virtio.net.VirtioNet.F_GUEST_TSO4;
import static dev.vessel.devices.virtio.net.VirtioNet.F_GUEST_TSO6;
import static dev.vessel.devices.virtio.net.VirtioNet.F_HOST_TSO4;
import static dev.vessel.devices.virtio.net.VirtioNet.F_HOST_TSO6;

import dev.vessel.devices.virtio.VirtioFeatures;

/**
 * The virtio_net_hdr every frame carries in both directions (virtio 1.2 §5.1.6): with
 * VIRTIO_F_VERSION_1 always the 12-byte form, little-endian. The TAP speaks the same header
 * (TUNSETVNETHDRSZ 12), so it passes through; these checks keep each side to what the other
 * negotiated.
 */
public final class NetHeader {
    /** Bytes of the header: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
    public static final int SIZE = 12;
    public static final int FLAGS = 0;
    public static final int GSO_TYPE = 1;
    public static final int HDR_LEN = 2;
    public static final int GSO_SIZE = 4;
    public static final int CSUM_START = 6;
    public static final int CSUM_OFFSET = 8;
    public static final int NUM_BUFFERS = 10;

    /** flags: the checksum from csum_start is left to the receiver. */
    public static final int F_NEEDS_CSUM = 1;
    /** flags (device to driver): the checksum was checked. */
    public static final int F_DATA_VALID = 2;
    /** flags (device to driver): coalescing information; never produced here. */
    public static final int F_RSC_INFO = 4;

    public static final int GSO_NONE = 0;
    public static final int GSO_TCPV4 = 1;
    public static final int GSO_UDP = 3;
    public static final int GSO_TCPV6 = 4;
    public static final int GSO_UDP_L4 = 5;
    public static final int GSO_ECN = 0x80;

    private NetHeader() {}

    /**
     * What is wrong with a header the driver sent (transmit queue) before a frame of
     * {@code frameLength} bytes, under the negotiated {@code features}, or null: it may ask for
     * checksum completion only with VIRTIO_NET_F_CSUM, at a checksum field inside the frame, and
     * for segmentation only of the kinds it negotiated (TCP over IPv4 or IPv6; no UDP, no ECN: not
     * offered), with a segment size and a checksum to complete; it sets no flag meant for the
     * other direction. The host kernel checks the rest (the headers inside the frame).
     */
    static String checkFromDriver(byte[] header, int frameLength, long features) {
        int flags = header[FLAGS] & 0xFF;
        int gsoType = header[GSO_TYPE] & 0xFF;
        if ((flags & ~F_NEEDS_CSUM) != 0) {
            return "flags 0x" + Integer.toHexString(flags);
        }
        if ((flags & F_NEEDS_CSUM) != 0) {
            if (!VirtioFeatures.has(features, F_CSUM)) {
                return "checksum offload without VIRTIO_NET_F_CSUM";
            }
            int end = u16(header, CSUM_START) + u16(header, CSUM_OFFSET) + 2;
            if (end > frameLength) {
                return "a checksum field beyond the frame";
            }
        }
        if (gsoType == GSO_NONE) {
            return null;
        }
        boolean negotiated = switch (gsoType) {
            case GSO_TCPV4 -> VirtioFeatures.has(features, F_HOST_TSO4);
            case GSO_TCPV6 -> VirtioFeatures.has(features, F_HOST_TSO6);
            default -> false;
        };
        if (!negotiated) {
            return "gso_type 0x" + Integer.toHexString(gsoType) + " (not negotiated)";
        }
        if ((flags & F_NEEDS_CSUM) == 0 || u16(header, GSO_SIZE) == 0) {
            return "segmentation without a checksum to complete or a segment size";
        }
        return null;
    }

    static int u16(byte[] header, int offset) {
        return (header[offset] & 0xFF) | (header[offset + 1] & 0xFF) << 8;
    }

    /**
     * How a header from the TAP (receive side) fits the driver's {@code features}: -1 if the frame
     * must be dropped (it needs an offload the driver did not take: a TAP that was set up for an
     * earlier driver may still hold such frames), else the flags to give the driver (DATA_VALID is
     * cleared when the driver did not negotiate VIRTIO_NET_F_GUEST_CSUM, which then wants flags 0).
     */
    static int flagsForDriver(int flags, int gsoType, long features) {
        boolean guestCsum = VirtioFeatures.has(features, F_GUEST_CSUM);
        if ((flags & ~(F_NEEDS_CSUM | F_DATA_VALID)) != 0) {
            return -1;
        }
        if ((flags & F_NEEDS_CSUM) != 0 && !guestCsum) {
            return -1;
        }
        boolean gsoOk = switch (gsoType) {
            case GSO_NONE -> true;
            case GSO_TCPV4 -> VirtioFeatures.has(features, F_GUEST_TSO4);
            case GSO_TCPV6 -> VirtioFeatures.has(features, F_GUEST_TSO6);
            default -> false;
        };
        if (!gsoOk) {
            return -1;
        }
        return guestCsum ? flags : 0;
    }
}
