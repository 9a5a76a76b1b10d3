package dev.vessel.devices.virtio.vsock;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayDeque;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * The connection buffer against a plain queue of bytes: any mix of appends and partial drains
 * (a socket that takes some, all or nothing) gives back the same bytes in the same order, and the
 * ring never holds or allocates more than its limit.
 */
class ByteRingProperties {
    /** Append {@code length} bytes, or (append false) drain into a socket that takes at most {@code length}. */
    record Step(boolean append, int length) {}

    @Provide
    Arbitrary<List<Step>> steps() {
        return Combinators.combine(Arbitraries.of(true, false), Arbitraries.integers().between(0, 9000))
                .as(Step::new)
                .list()
                .ofMaxSize(60);
    }

    @Property(tries = 300)
    void behavesAsABoundedQueue(@ForAll @IntRange(min = 1, max = 20_000) int limit,
            @ForAll("steps") List<Step> steps) throws Exception {
        ByteRing ring = new ByteRing(limit);
        ArrayDeque<Byte> model = new ArrayDeque<>();
        int next = 0;
        for (Step s : steps) {
            if (s.append()) {
                byte[] data = new byte[s.length()];
                for (int i = 0; i < data.length; i++) {
                    data[i] = (byte) (next++ * 31);
                }
                if (data.length > ring.free()) {
                    assertThrows(IllegalStateException.class, () -> ring.append(ByteBuffer.wrap(data)));
                    continue;
                }
                ring.append(ByteBuffer.wrap(data));
                for (byte b : data) {
                    model.addLast(b);
                }
            } else {
                Socket socket = new Socket(s.length());
                int n = ring.drainTo(socket);
                byte[] got = socket.taken.toByteArray();
                assertEquals(got.length, n);
                assertEquals(Math.min(s.length(), model.size()), n, "takes all the socket has room for");
                byte[] want = new byte[n];
                for (int i = 0; i < n; i++) {
                    want[i] = model.pollFirst();
                }
                assertArrayEquals(want, got);
            }
            assertEquals(model.size(), ring.size());
            assertEquals(limit - model.size(), ring.free());
            assertTrue(ring.capacity() <= limit, "allocated " + ring.capacity() + " > limit " + limit);
            assertTrue(ring.capacity() >= ring.size());
            assertTrue(!ring.isEmpty() || ring.capacity() == 0, "an empty ring keeps no array");
        }
    }

    /** A non-blocking socket whose buffer has room for {@code room} more bytes. */
    static final class Socket implements GatheringByteChannel {
        final ByteArrayOutputStream taken = new ByteArrayOutputStream();
        int room;

        Socket(int room) {
            this.room = room;
        }

        @Override
        public int write(ByteBuffer src) {
            int n = Math.min(room, src.remaining());
            byte[] b = new byte[n];
            src.get(b);
            taken.writeBytes(b);
            room -= n;
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            long total = 0;
            for (int i = offset; i < offset + length; i++) {
                total += write(srcs[i]);
            }
            return total;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
    }
}
