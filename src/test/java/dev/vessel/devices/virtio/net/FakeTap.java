package dev.vessel.devices.virtio.net;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A TAP stand-in: a SOCK_SEQPACKET socket pair keeps frame boundaries as a TAP does. The device
 * gets one end (non-blocking); the test plays the host network on the other.
 */
final class FakeTap implements NetBackend {
    final int deviceFd;
    final int hostFd;
    final List<Integer> offloads = new ArrayList<>();
    private final MemorySegment buffer = Arena.ofAuto().allocate(128 * 1024, 64);
    private final MemorySegment iov = Arena.ofAuto().allocate(Libc.IOVEC_SIZE, 8);
    boolean closed;
    private boolean hostClosed;

    FakeTap() throws ErrnoException {
        int[] fds = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_NONBLOCK);
        deviceFd = fds[0];
        hostFd = fds[1];
    }

    @Override
    public int fd() {
        return deviceFd;
    }

    @Override
    public void setOffload(int tunFlags) {
        offloads.add(tunFlags);
    }

    @Override
    public String name() {
        return "fake0";
    }

    /** The host sends the device a frame: header and Ethernet frame in one message. */
    void send(byte[] headerAndFrame) throws ErrnoException {
        MemorySegment.copy(headerAndFrame, 0, buffer, ValueLayout.JAVA_BYTE, 0, headerAndFrame.length);
        long n = Libc.write(hostFd, buffer, headerAndFrame.length);
        if (n != headerAndFrame.length) {
            throw new AssertionError("short send: " + n);
        }
    }

    /** The next frame the device wrote (header included), or null if none waits. */
    byte[] receive() throws ErrnoException {
        long n = Libc.readNonBlocking(hostFd, buffer, buffer.byteSize());
        if (n < 0) {
            return null;
        }
        return buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Every frame the device wrote so far. */
    List<byte[]> receiveAll() throws ErrnoException {
        List<byte[]> out = new ArrayList<>();
        byte[] f;
        while ((f = receive()) != null) {
            out.add(f);
        }
        return out;
    }

    /** Fills the device side's send buffer with junk until it takes no more; returns how many messages that took. */
    int fillDeviceSide() throws ErrnoException {
        iov.set(ValueLayout.JAVA_LONG, 0, buffer.address());
        iov.set(ValueLayout.JAVA_LONG, 8, 1500);
        int n = 0;
        while (Libc.writev(deviceFd, iov, 1) > 0) {
            n++;
        }
        return n;
    }

    /** The host goes away: the device sees end of file and a hang-up. */
    void hangUp() {
        closeHost();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            try {
                Libc.close(deviceFd);
            } catch (ErrnoException e) {
                // test cleanup
            }
        }
    }

    /** Closes the test's end, once: a descriptor number closed twice may belong to someone else by then. */
    void closeHost() {
        if (!hostClosed) {
            hostClosed = true;
            try {
                Libc.close(hostFd);
            } catch (ErrnoException e) {
                // test cleanup
            }
        }
    }
}
