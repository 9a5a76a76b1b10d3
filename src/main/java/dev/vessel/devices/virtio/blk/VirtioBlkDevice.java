package dev.vessel.devices.virtio.blk;

import static dev.vessel.devices.virtio.blk.VirtioBlk.*;

import dev.vessel.devices.block.BlockBackend;
import dev.vessel.devices.block.FileBackend;
import dev.vessel.devices.block.nbd.NbdClient;
import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.queue.DescriptorChain;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A virtio block device (virtio 1.2 §5.2, device type 2) on a {@link BlockBackend}: one request
 * queue, requests handled one after the other on the device's worker, data moved by the backend
 * straight between the disk and guest RAM (no copy through the Java heap, no per-request buffer).
 *
 * <h2>What the driver is offered</h2>
 * <ul>
 *   <li>{@code VIRTIO_BLK_F_FLUSH}: the guest's flush ({@code sync}, {@code fsync}, a journal
 *   commit) becomes {@link BlockBackend#flush()} (fdatasync of the image file).</li>
 *   <li>{@code VIRTIO_BLK_F_BLK_SIZE} 512, {@code F_SEG_MAX} {@value #SEG_MAX}, {@code F_SIZE_MAX}
 *   {@value #SIZE_MAX}: what Linux then builds requests from. Larger requests are not refused;
 *   only the transport's cap on one chain's length applies.</li>
 *   <li>{@code VIRTIO_BLK_F_RO} for a read-only disk (asked for, or a read-only backend); then
 *   every write, discard and write-zeroes request fails with IOERR and writes nothing.</li>
 *   <li>{@code VIRTIO_BLK_F_WRITE_ZEROES} on a writable disk; {@code VIRTIO_BLK_F_DISCARD} when the
 *   backend can deallocate ({@link BlockBackend#supportsDiscard()}).</li>
 * </ul>
 *
 * <h2>Durability</h2>
 * virtio-blk has no FUA flag. With {@code F_FLUSH} negotiated (and no {@code F_CONFIG_WCE}, which
 * is not offered) the driver treats the device as a volatile write-back cache: completed writes may
 * still sit in the host's page cache, and a completed FLUSH request is the point at which every write
 * completed before it is stable (§5.2.6.1 case 3). Linux then emulates FUA with flushes. If the
 * driver does not negotiate {@code F_FLUSH}, the device is write-through: each write, discard and
 * write-zeroes request is flushed before it completes (case 1).
 *
 * <h2>The guest is hostile</h2>
 * A request is taken apart by byte positions, whatever the descriptor boundaries (any layout): a
 * 16-byte header at the start of the device-readable part, the status byte as the last byte of the
 * device-writable part, data between. A chain without a device-writable byte cannot carry a status:
 * it is returned with length 0 and nothing is written. Everything else that is wrong is answered in
 * the status byte: IOERR for a short header, data on the wrong side (IN data must be
 * device-writable, OUT data device-readable), a length that is not a multiple of 512, a range
 * beyond the capacity, a bad discard/write-zeroes segment list, a write to a read-only disk, or a
 * backend error; UNSUPP for an unknown request type, a feature that was not negotiated, or a
 * segment flag the spec forbids. Nothing here throws at the guest's request; the header and the
 * segment list are copied once and then checked.
 */
public final class VirtioBlkDevice extends AbstractVirtioDevice implements AutoCloseable {
    /** QueueNumMax of the request queue. */
    public static final int QUEUE_SIZE = 256;
    /** seg_max: data segments per request, as QEMU (queue size minus header and status). */
    public static final int SEG_MAX = QUEUE_SIZE - 2;
    /** size_max: bytes per segment. */
    public static final int SIZE_MAX = 1 << 20;
    /** max_discard_sectors: 2 GiB per segment. */
    public static final int MAX_DISCARD_SECTORS = 1 << 22;
    /** max_discard_seg. */
    public static final int MAX_DISCARD_SEG = 32;
    /** discard_sector_alignment: 4 KiB, the granularity at which a file's blocks are freed. */
    public static final int DISCARD_SECTOR_ALIGNMENT = 8;
    /** max_write_zeroes_sectors: 32 MiB per request, bounding the zeros written for one request. */
    public static final int MAX_WRITE_ZEROES_SECTORS = 1 << 16;
    /** max_write_zeroes_seg (Linux sends one). */
    public static final int MAX_WRITE_ZEROES_SEG = 1;

    private static final System.Logger LOG = System.getLogger(VirtioBlkDevice.class.getName());
    private static final int LOGGED_ERRORS = 16;
    private static final int ZERO_CHUNK = 1 << 20;

    private final BlockBackend backend;
    private final boolean readOnly;
    private final long capacitySectors;
    private final byte[] id;
    /** Whether the backend's discard reads back as zeros, so that write-zeroes may punch a hole. */
    private final boolean discardZeroes;

    // Worker state.
    private final byte[] header = new byte[HEADER_SIZE];
    private final byte[] segments = new byte[Math.max(MAX_DISCARD_SEG, MAX_WRITE_ZEROES_SEG) * SEGMENT_SIZE];
    private final long[] segmentOffsets = new long[segments.length / SEGMENT_SIZE];
    private final long[] segmentLengths = new long[segments.length / SEGMENT_SIZE];
    private final int[] segmentFlags = new int[segments.length / SEGMENT_SIZE];
    private MemorySegment zeros;
    private boolean writeThrough;
    private long requests;
    private long failedRequests;
    private long droppedRequests;
    private int loggedErrors;

    /**
     * A device on {@code backend}, which it owns from now on ({@link #close()} closes it).
     *
     * @param readOnly whether the guest may only read (also true if the backend is read-only)
     * @param id the device ID string GET_ID returns: printable ASCII, at most 20 bytes
     */
    public VirtioBlkDevice(BlockBackend backend, boolean readOnly, String id) {
        this(backend, readOnly || backend.readOnly(), checkedId(id), backend instanceof FileBackend);
    }

    private VirtioBlkDevice(BlockBackend backend, boolean readOnly, byte[] id, boolean discardZeroes) {
        super(VirtioDevice.TYPE_BLOCK, features(readOnly, !readOnly && backend.supportsDiscard()),
                new int[] {QUEUE_SIZE}, CONFIG_SIZE);
        this.backend = backend;
        this.readOnly = readOnly;
        this.capacitySectors = backend.size() / SECTOR_SIZE;
        this.id = id;
        this.discardZeroes = discardZeroes;
        config.putU64(CFG_CAPACITY, capacitySectors);
        config.putU32(CFG_SIZE_MAX, SIZE_MAX);
        config.putU32(CFG_SEG_MAX, SEG_MAX);
        config.putU32(CFG_BLK_SIZE, SECTOR_SIZE);
        if (VirtioFeatures.has(deviceFeatures(), F_DISCARD)) {
            config.putU32(CFG_MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
            config.putU32(CFG_MAX_DISCARD_SEG, MAX_DISCARD_SEG);
            config.putU32(CFG_DISCARD_SECTOR_ALIGNMENT, DISCARD_SECTOR_ALIGNMENT);
        }
        if (VirtioFeatures.has(deviceFeatures(), F_WRITE_ZEROES)) {
            config.putU32(CFG_MAX_WRITE_ZEROES_SECTORS, MAX_WRITE_ZEROES_SECTORS);
            config.putU32(CFG_MAX_WRITE_ZEROES_SEG, MAX_WRITE_ZEROES_SEG);
            config.putU8(CFG_WRITE_ZEROES_MAY_UNMAP, discardZeroes && backend.supportsDiscard() ? 1 : 0);
        }
    }

    /**
     * The device for a {@code --disk} location: an image file, or an NBD export
     * ({@code nbd://HOST:PORT/EXPORT}), with an ID derived from the location ({@link #deriveId}).
     */
    public static VirtioBlkDevice open(String location, boolean readOnly) throws IOException {
        return new VirtioBlkDevice(openBackend(location, readOnly), readOnly, deriveId(location));
    }

    /** The backend for a {@code --disk} location: an NBD export or a raw image file. */
    public static BlockBackend openBackend(String location, boolean readOnly) throws IOException {
        return location.startsWith("nbd://") ? NbdClient.connect(location) : FileBackend.open(Path.of(location), readOnly);
    }

    /**
     * A stable device ID for a disk location: 20 hex digits of the SHA-256 of the absolute,
     * normalised path (of the location string itself for an NBD export). The same image gets
     * the same ID in every VM; the guest sees it in {@code /sys/block/vdX/serial}.
     */
    public static String deriveId(String location) {
        String key = location;
        if (!location.startsWith("nbd://")) {
            try {
                key = Path.of(location).toAbsolutePath().normalize().toString();
            } catch (RuntimeException e) {
                // Not a path on this system: hash the string as it is.
            }
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, ID_BYTES / 2);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }

    private static byte[] checkedId(String id) {
        Objects.requireNonNull(id, "id");
        byte[] ascii = id.getBytes(StandardCharsets.US_ASCII);
        if (ascii.length > ID_BYTES || !id.chars().allMatch(c -> c >= 0x20 && c < 0x7F)) {
            throw new IllegalArgumentException("a virtio-blk ID is printable ASCII of at most " + ID_BYTES
                    + " bytes: '" + id + "'");
        }
        byte[] padded = new byte[ID_BYTES];
        System.arraycopy(ascii, 0, padded, 0, ascii.length);
        return padded;
    }

    private static long features(boolean readOnly, boolean discard) {
        long f = VirtioFeatures.bit(F_FLUSH) | VirtioFeatures.bit(F_BLK_SIZE) | VirtioFeatures.bit(F_SEG_MAX)
                | VirtioFeatures.bit(F_SIZE_MAX);
        if (readOnly) {
            f |= VirtioFeatures.bit(F_RO);
        } else {
            f |= VirtioFeatures.bit(F_WRITE_ZEROES);
            if (discard) {
                f |= VirtioFeatures.bit(F_DISCARD);
            }
        }
        return f;
    }

    public BlockBackend backend() {
        return backend;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** The capacity in 512-byte sectors. */
    public long capacitySectors() {
        return capacitySectors;
    }

    /** The ID string GET_ID returns, without padding. */
    public String id() {
        int n = 0;
        while (n < id.length && id[n] != 0) {
            n++;
        }
        return new String(id, 0, n, StandardCharsets.US_ASCII);
    }

    /** Requests handled since the device was made (worker thread's count; for diagnostics and tests). */
    public long requests() {
        return requests;
    }

    /** Requests answered with a status other than OK. */
    public long failedRequests() {
        return failedRequests;
    }

    /** Chains returned without a status because they had no device-writable byte. */
    public long droppedRequests() {
        return droppedRequests;
    }

    @Override
    protected void onActivate(VirtioContext context) {
        writeThrough = !context.hasFeature(F_FLUSH);
    }

    @Override
    protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
        drain(queue, this::handle);
    }

    /** Closes the backend. The VM must no longer run the device. */
    @Override
    public void close() throws IOException {
        backend.close();
    }

    @Override
    public String toString() {
        return "virtio-blk[" + backend + (readOnly ? ", ro" : "") + "]";
    }

    /** One request: returns the bytes written into the chain's writable part (all of it, or 0 without a status byte). */
    int handle(DescriptorChain chain) throws VirtqueueException {
        requests++;
        int writable = chain.writableLength();
        if (writable == 0) {
            droppedRequests++;
            guestError("chain " + chain.head() + " has no device-writable byte for the status; returned unanswered");
            return 0;
        }
        int status;
        try {
            status = execute(chain, writable - 1);
        } catch (IOException | RuntimeException e) {
            backendError(e);
            status = S_IOERR;
        }
        if (status != S_OK) {
            failedRequests++;
        }
        if (!chain.queue().isLive()) {
            return 0;
        }
        DescriptorChain.Buffer last = chain.buffer(chain.bufferCount() - 1);
        try {
            chain.queue().memory().writeByte(last.address() + last.length() - 1, (byte) status);
        } catch (GuestMemoryException e) {
            throw new VirtqueueException(e.getMessage(), chain.head()); // validated with the chain: cannot happen
        }
        return writable;
    }

    /** Carries out the request; returns its status. {@code dataOut} is the writable part minus the status byte. */
    private int execute(DescriptorChain chain, int dataOut) throws VirtqueueException, IOException {
        int readable = chain.readableLength();
        if (readable < HEADER_SIZE) {
            guestError("chain " + chain.head() + ": " + readable + " readable bytes, no room for a request header");
            return S_IOERR;
        }
        var in = chain.reader();
        in.readFully(header);
        int type = (int) le(header, 0, 4);
        long sector = le(header, 8, 8);
        int dataIn = readable - HEADER_SIZE;
        return switch (type) {
            case T_IN -> read(chain, sector, dataIn, dataOut);
            case T_OUT -> write(chain, sector, dataIn, dataOut);
            case T_FLUSH -> {
                backend.flush();
                yield S_OK;
            }
            case T_GET_ID -> getId(chain, dataOut);
            case T_DISCARD -> discardOrZero(chain, true, dataIn, dataOut);
            case T_WRITE_ZEROES -> discardOrZero(chain, false, dataIn, dataOut);
            default -> S_UNSUPP;
        };
    }

    private int read(DescriptorChain chain, long sector, int dataIn, int dataOut) throws VirtqueueException, IOException {
        if (dataIn != 0) {
            return guestError("read request with " + dataIn + " device-readable data bytes");
        }
        if (dataOut % SECTOR_SIZE != 0) {
            return guestError("read of " + dataOut + " bytes, not a multiple of 512");
        }
        if (!inRange(sector, dataOut / SECTOR_SIZE)) {
            return guestError("read of " + dataOut / SECTOR_SIZE + " sectors at " + Long.toUnsignedString(sector)
                    + ", beyond the capacity of " + capacitySectors);
        }
        transfer(chain, true, dataOut, sector * SECTOR_SIZE);
        return S_OK;
    }

    private int write(DescriptorChain chain, long sector, int dataIn, int dataOut) throws VirtqueueException, IOException {
        if (dataOut != 0) {
            return guestError("write request with " + dataOut + " device-writable data bytes");
        }
        if (readOnly) {
            return guestError("write to a read-only disk");
        }
        if (dataIn % SECTOR_SIZE != 0) {
            return guestError("write of " + dataIn + " bytes, not a multiple of 512");
        }
        if (!inRange(sector, dataIn / SECTOR_SIZE)) {
            return guestError("write of " + dataIn / SECTOR_SIZE + " sectors at " + Long.toUnsignedString(sector)
                    + ", beyond the capacity of " + capacitySectors);
        }
        transfer(chain, false, dataIn, sector * SECTOR_SIZE);
        if (writeThrough) {
            backend.flush();
        }
        return S_OK;
    }

    private int getId(DescriptorChain chain, int dataOut) throws VirtqueueException {
        if (dataOut == 0) {
            return guestError("GET_ID without room for the ID");
        }
        chain.writer().write(id, 0, Math.min(ID_BYTES, dataOut));
        return S_OK;
    }

    /** DISCARD ({@code discard}) or WRITE_ZEROES: a list of segments, all checked before any is carried out. */
    private int discardOrZero(DescriptorChain chain, boolean discard, int dataIn, int dataOut)
            throws VirtqueueException, IOException {
        VirtioContext ctx = context();
        String what = discard ? "discard" : "write-zeroes";
        if (ctx == null || !ctx.hasFeature(discard ? F_DISCARD : F_WRITE_ZEROES)) {
            return S_UNSUPP;
        }
        if (readOnly) {
            return guestError(what + " on a read-only disk");
        }
        if (dataOut != 0) {
            return guestError(what + " request with " + dataOut + " device-writable data bytes");
        }
        int maxSegments = discard ? MAX_DISCARD_SEG : MAX_WRITE_ZEROES_SEG;
        if (dataIn == 0 || dataIn % SEGMENT_SIZE != 0 || dataIn / SEGMENT_SIZE > maxSegments) {
            return guestError(what + " with " + dataIn + " bytes of segments (16 each, 1.." + maxSegments + ")");
        }
        int n = dataIn / SEGMENT_SIZE;
        var in = chain.reader();
        in.skip(HEADER_SIZE);
        in.readFully(segments, 0, dataIn);
        for (int i = 0; i < n; i++) {
            int flags = (int) le(segments, i * SEGMENT_SIZE + 12, 4);
            if ((flags & ~SEGMENT_F_UNMAP) != 0 || (discard && flags != 0)) {
                return S_UNSUPP; // §5.2.6.1: unknown flags, or unmap on a discard
            }
            segmentFlags[i] = flags;
        }
        long maxSectors = discard ? MAX_DISCARD_SECTORS : MAX_WRITE_ZEROES_SECTORS;
        for (int i = 0; i < n; i++) {
            long sector = le(segments, i * SEGMENT_SIZE, 8);
            long count = le(segments, i * SEGMENT_SIZE + 8, 4);
            if (count > maxSectors || !inRange(sector, count)) {
                return guestError(what + " of " + count + " sectors at " + Long.toUnsignedString(sector)
                        + " (at most " + maxSectors + ", capacity " + capacitySectors + ")");
            }
            segmentOffsets[i] = sector * SECTOR_SIZE;
            segmentLengths[i] = count * SECTOR_SIZE;
        }
        for (int i = 0; i < n; i++) {
            if (segmentLengths[i] == 0) {
                continue;
            }
            if (discard) {
                if (backend.supportsDiscard()) {
                    backend.discard(segmentOffsets[i], segmentLengths[i]);
                }
            } else {
                writeZeroes(segmentOffsets[i], segmentLengths[i], (segmentFlags[i] & SEGMENT_F_UNMAP) != 0);
            }
        }
        if (writeThrough) {
            backend.flush();
        }
        return S_OK;
    }

    /**
     * Zeros a range: by deallocating it where the driver allows that and the backend's discard is
     * known to read back as zeros (a file: a punched hole), else by writing zeros.
     */
    private void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        if (mayUnmap && discardZeroes && backend.supportsDiscard()) {
            backend.discard(offset, length);
            if (backend.supportsDiscard()) {
                return; // FileBackend turns supportsDiscard off when the file system cannot punch holes
            }
        }
        if (zeros == null) {
            zeros = Arena.ofAuto().allocate(ZERO_CHUNK, 4096); // zero-filled
        }
        for (long done = 0; done < length; ) {
            long n = Math.min(ZERO_CHUNK, length - done);
            backend.write(offset + done, zeros.asSlice(0, n));
            done += n;
        }
    }

    /**
     * Moves {@code length} bytes between the disk at {@code diskOffset} and the chain's data: the
     * writable part from its start ({@code toGuest}, a read) or the readable part after the header
     * (a write). Buffers that follow each other in guest-physical memory (and in one RAM region) are
     * handed to the backend as one segment: one pread/pwrite instead of one per page.
     */
    private void transfer(DescriptorChain chain, boolean toGuest, int length, long diskOffset)
            throws VirtqueueException, IOException {
        GuestMemory memory = chain.queue().memory();
        int first = toGuest ? chain.readableBufferCount() : 0;
        int end = toGuest ? chain.bufferCount() : chain.readableBufferCount();
        int skip = toGuest ? 0 : HEADER_SIZE;
        int remaining = length;
        long runAddress = 0;
        long runLength = 0;
        long offset = diskOffset;
        for (int i = first; i < end && remaining > 0; i++) {
            DescriptorChain.Buffer b = chain.buffer(i);
            if (skip >= b.length()) {
                skip -= b.length();
                continue;
            }
            long address = b.address() + skip;
            int n = Math.min(b.length() - skip, remaining);
            skip = 0;
            remaining -= n;
            if (runLength > 0 && runAddress + runLength == address && memory.contains(runAddress, runLength + n)) {
                runLength += n;
                continue;
            }
            if (runLength > 0) {
                io(chain, memory, runAddress, runLength, offset, toGuest);
                offset += runLength;
            }
            runAddress = address;
            runLength = n;
        }
        if (runLength > 0) {
            io(chain, memory, runAddress, runLength, offset, toGuest);
        }
    }

    private void io(DescriptorChain chain, GuestMemory memory, long address, long length, long diskOffset, boolean toGuest)
            throws VirtqueueException, IOException {
        if (!chain.queue().isLive()) {
            throw new VirtqueueException("queue " + chain.queue().index() + " was reset", chain.head());
        }
        MemorySegment segment;
        try {
            segment = memory.slice(address, length);
        } catch (GuestMemoryException e) {
            throw new VirtqueueException(e.getMessage(), chain.head()); // validated with the chain: cannot happen
        }
        if (toGuest) {
            backend.read(diskOffset, segment);
        } else {
            backend.write(diskOffset, segment);
        }
    }

    /** Whether sectors [sector, sector + count) lie within the capacity; {@code sector} is unsigned. */
    private boolean inRange(long sector, long count) {
        return Long.compareUnsigned(sector, capacitySectors) <= 0 && count <= capacitySectors - sector;
    }

    private static long le(byte[] b, int offset, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b[offset + i] & 0xFF);
        }
        return v;
    }

    private int guestError(String message) {
        if (loggedErrors < LOGGED_ERRORS) {
            loggedErrors++;
            LOG.log(System.Logger.Level.DEBUG, () -> this + ": " + message);
        }
        return S_IOERR;
    }

    private void backendError(Exception e) {
        if (loggedErrors < LOGGED_ERRORS) {
            loggedErrors++;
            LOG.log(System.Logger.Level.WARNING, this + ": I/O error: " + e.getMessage()
                    + (loggedErrors == LOGGED_ERRORS ? " (further errors are not logged)" : ""));
        }
    }
}
