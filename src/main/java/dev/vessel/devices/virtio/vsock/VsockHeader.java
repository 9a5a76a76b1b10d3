package dev.vessel.devices.virtio.vsock;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The virtio-vsock packet header, {@code struct virtio_vsock_hdr} (virtio 1.2 §5.10.6): 44 bytes,
 * packed, little-endian. Ports, lengths and counters are unsigned 32-bit values held in ints
 * (compare them with {@link Integer#compareUnsigned}); the CIDs are 64-bit.
 */
public record VsockHeader(long srcCid, long dstCid, int srcPort, int dstPort, int len, int type, int op, int flags,
        int bufAlloc, int fwdCnt) {
    /** The header's size in bytes. */
    public static final int SIZE = 44;

    /** Stream sockets: the only type this device speaks. */
    public static final int TYPE_STREAM = 1;
    /** Seqpacket sockets (VIRTIO_VSOCK_F_SEQPACKET, not offered). */
    public static final int TYPE_SEQPACKET = 2;

    public static final int OP_INVALID = 0;
    public static final int OP_REQUEST = 1;
    public static final int OP_RESPONSE = 2;
    public static final int OP_RST = 3;
    public static final int OP_SHUTDOWN = 4;
    public static final int OP_RW = 5;
    public static final int OP_CREDIT_UPDATE = 6;
    public static final int OP_CREDIT_REQUEST = 7;

    /** SHUTDOWN flag: the sender will receive no more data. */
    public static final int SHUTDOWN_RCV = 1;
    /** SHUTDOWN flag: the sender will send no more data. */
    public static final int SHUTDOWN_SEND = 2;
    public static final int SHUTDOWN_BOTH = SHUTDOWN_RCV | SHUTDOWN_SEND;

    /** Parses the first {@link #SIZE} bytes of {@code b}. */
    public static VsockHeader decode(byte[] b) {
        if (b.length < SIZE) {
            throw new IllegalArgumentException("a vsock header has " + SIZE + " bytes, got " + b.length);
        }
        ByteBuffer in = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new VsockHeader(in.getLong(0), in.getLong(8), in.getInt(16), in.getInt(20), in.getInt(24),
                Short.toUnsignedInt(in.getShort(28)), Short.toUnsignedInt(in.getShort(30)), in.getInt(32),
                in.getInt(36), in.getInt(40));
    }

    /** The header's {@link #SIZE} bytes. */
    public byte[] encode() {
        ByteBuffer out = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(srcCid).putLong(dstCid).putInt(srcPort).putInt(dstPort).putInt(len)
                .putShort((short) type).putShort((short) op).putInt(flags).putInt(bufAlloc).putInt(fwdCnt);
        return out.array();
    }

    /** A copy with another payload length. */
    public VsockHeader withLen(int newLen) {
        return new VsockHeader(srcCid, dstCid, srcPort, dstPort, newLen, type, op, flags, bufAlloc, fwdCnt);
    }

    /** The operation's name, for messages. */
    public static String opName(int op) {
        return switch (op) {
            case OP_REQUEST -> "REQUEST";
            case OP_RESPONSE -> "RESPONSE";
            case OP_RST -> "RST";
            case OP_SHUTDOWN -> "SHUTDOWN";
            case OP_RW -> "RW";
            case OP_CREDIT_UPDATE -> "CREDIT_UPDATE";
            case OP_CREDIT_REQUEST -> "CREDIT_REQUEST";
            default -> "op " + op;
        };
    }

    @Override
    public String toString() {
        return opName(op) + " " + srcCid + ":" + Integer.toUnsignedString(srcPort) + " -> " + dstCid + ":"
                + Integer.toUnsignedString(dstPort) + " len " + Integer.toUnsignedString(len) + " type " + type
                + " flags 0x" + Integer.toHexString(flags) + " buf_alloc " + Integer.toUnsignedString(bufAlloc)
                + " fwd_cnt " + Integer.toUnsignedString(fwdCnt);
    }
}
