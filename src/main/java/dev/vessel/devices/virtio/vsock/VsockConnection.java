package dev.vessel.devices.virtio.vsock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * One stream between a host-side Unix socket and a guest vsock socket: the device's half of the
 * connection state machine, the credit counters of both directions, and the bounded buffer of
 * guest data the host socket has not taken yet. Worker-only, no locking.
 *
 * <p>Counters are free-running unsigned 32-bit values, as on the wire: {@code txCnt} counts payload
 * bytes sent to the guest, {@code peerFwdCnt}/{@code peerBufAlloc} are the guest's last word on
 * its receive buffer; {@code rxCnt} counts payload bytes received from the guest, {@code fwdCnt}
 * those handed to the host socket, {@code lastSentFwdCnt} the fwd_cnt the guest last heard.
 */
final class VsockConnection {
    enum State {
        /** Accepted on the listener; reading the host's {@code CONNECT <port>\n} line. */
        AWAIT_CONNECT_LINE,
        /** Host-initiated: REQUEST queued or sent, waiting for the guest's RESPONSE. */
        CONNECTING_TO_GUEST,
        /**
         * Guest-initiated through the uplink: the handshake with the host's relay runs off the
         * worker; the guest's REQUEST waits for RESPONSE or RST. Closing the channel aborts it.
         */
        CONNECTING_TO_HOST,
        /** Both sides connected (for a guest-initiated one: from the moment the host socket connected). */
        ESTABLISHED,
        /** Finished: host socket closed, out of every table. */
        CLOSED
    }

    final SocketChannel channel;
    final boolean hostInitiated;
    SelectionKey key;
    State state;
    int hostPort;
    int guestPort;

    /** The CONNECT line read so far. */
    final byte[] line;
    int lineLength;

    // Host -> guest direction.
    int txCnt;
    int peerBufAlloc;
    int peerFwdCnt;
    /** The host socket reported readable and a read has not yet come back empty. */
    boolean hostReadable;
    /** The host socket reached end of stream: no more data to the guest. */
    boolean hostEof;
    /** SHUTDOWN(SEND) queued for the guest (after host EOF). */
    boolean pendingShutdown;
    /** A CREDIT_REQUEST was sent and no guest packet came since. */
    boolean creditRequested;

    // Guest -> host direction.
    int rxCnt;
    int fwdCnt;
    int lastSentFwdCnt;
    /** SHUTDOWN flags the guest sent (RCV: it takes no more data; SEND: it sends no more). */
    int peerShutdown;
    /** shutdownOutput was done on the host socket after the guest's SHUTDOWN(SEND). */
    boolean hostOutputShut;
    /** Bytes for the host before any guest data: the "OK <port>\n" reply. */
    ByteBuffer preamble;
    /** Guest data the host socket has not taken yet; at most the advertised buf_alloc bytes, in one array. */
    final ByteRing out;

    // Control packets owed to the guest.
    boolean pendingRequest;
    boolean requestSent;
    boolean pendingResponse;
    boolean responseSent;
    boolean pendingCreditUpdate;
    boolean pendingCreditRequest;
    /** In the device's queue of connections with something for the rx queue. */
    boolean queued;

    /** @param bufAlloc the receive buffer advertised to the guest: the most guest data held for the host socket */
    VsockConnection(SocketChannel channel, boolean hostInitiated, State state, int lineMax, int bufAlloc) {
        this.channel = channel;
        this.hostInitiated = hostInitiated;
        this.state = state;
        this.line = new byte[hostInitiated ? lineMax : 0];
        this.out = new ByteRing(bufAlloc);
    }

    /** Table key of a (host port, guest port) pair. */
    static long key(int hostPort, int guestPort) {
        return (Integer.toUnsignedLong(hostPort) << 32) | Integer.toUnsignedLong(guestPort);
    }

    long key() {
        return key(hostPort, guestPort);
    }

    /** Payload bytes the guest can take now: its buf_alloc minus what is in flight, 0 if that is negative. */
    long peerCredit() {
        long inFlight = Integer.toUnsignedLong(txCnt - peerFwdCnt);
        long alloc = Integer.toUnsignedLong(peerBufAlloc);
        return inFlight >= alloc ? 0 : alloc - inFlight;
    }

    /** Whether data may still go from the host socket to the guest. */
    boolean hostToGuestOpen() {
        return state == State.ESTABLISHED && !hostEof && (peerShutdown & VsockHeader.SHUTDOWN_RCV) == 0
                && (hostInitiated || responseSent);
    }

    boolean hasOutput() {
        return (preamble != null && preamble.hasRemaining()) || !out.isEmpty();
    }

    /**
     * Writes buffered output to the host socket, without blocking; returns the guest payload bytes
     * it took (not counting the preamble).
     */
    int flush() throws IOException {
        if (preamble != null) {
            channel.write(preamble);
            if (preamble.hasRemaining()) {
                return 0;
            }
            preamble = null;
        }
        return out.drainTo(channel);
    }

    @Override
    public String toString() {
        return "vsock connection " + (hostInitiated ? "host" : "guest") + "-initiated host port "
                + Integer.toUnsignedString(hostPort) + " guest port " + Integer.toUnsignedString(guestPort) + " " + state;
    }
}
