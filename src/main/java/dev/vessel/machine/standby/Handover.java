package dev.vessel.machine.standby;

import dev.vessel.sys.UnixSocket;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A command handed to a standby: the request and the client's stdin, stdout and stderr that came
 * with its first bytes (SCM_RIGHTS).
 */
record Handover(StandbyRequest request, int[] fds) {
    /** Descriptors per receive: enough to notice (and close) more than the three a request carries. */
    static final int MAX_RECEIVED_FDS = 8;

    /** Reads one request within {@code timeoutMillis}; on any failure every descriptor received is closed. */
    static Handover receive(UnixSocket conn, int timeoutMillis) throws IOException, StandbyRequest.BadRequest {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        List<int[]> fdBatches = new ArrayList<>();
        boolean ok = false;
        try {
            byte[] header = new byte[StandbyRequest.HEADER_SIZE];
            readFully(conn, header, 0, fdBatches, deadline);
            byte[] payload = new byte[StandbyRequest.payloadLength(header)];
            readFully(conn, payload, header.length, fdBatches, deadline);
            if (fdBatches.size() != 1 || fdBatches.get(0).length != StandbyRequest.FDS) {
                throw new StandbyRequest.BadRequest("a request carries exactly " + StandbyRequest.FDS
                        + " descriptors with its first bytes; got " + fdBatches.stream().mapToInt(b -> b.length).sum());
            }
            int[] fds = fdBatches.get(0);
            for (int fd : fds) {
                if (fd <= 2) {
                    throw new StandbyRequest.BadRequest("received descriptor " + fd + " (standard streams closed?)");
                }
            }
            Handover h = new Handover(StandbyRequest.decode(payload), fds);
            ok = true;
            return h;
        } finally {
            if (!ok) {
                fdBatches.forEach(UnixSocket::closeAll);
            }
        }
    }

    /** Fills {@code buf}, the part of the request after its first {@code before} bytes. */
    private static void readFully(UnixSocket conn, byte[] buf, int before, List<int[]> fdBatches, long deadline)
            throws IOException, StandbyRequest.BadRequest {
        int off = 0;
        while (off < buf.length) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0 || !conn.awaitReadable((int) left)) {
                throw new StandbyRequest.BadRequest("request not complete within the time limit");
            }
            UnixSocket.Received r = conn.receive(buf, off, buf.length - off, MAX_RECEIVED_FDS);
            if (r.fds().length > 0) {
                fdBatches.add(r.fds());
                if (before + off > 0 || fdBatches.size() > 1) {
                    throw new StandbyRequest.BadRequest("descriptors after the request's first bytes");
                }
            }
            if (r.bytes() == 0) {
                throw new StandbyRequest.BadRequest("connection closed in the middle of a request");
            }
            off += r.bytes();
        }
    }
}
