package dev.vessel.devices.virtio.balloon;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One snapshot of the guest's memory statistics from the balloon's statsq (virtio 1.2 §5.5.6.3):
 * tag/value pairs as the driver sent them (a later duplicate of a tag wins), and when they arrived.
 *
 * @param values value by tag (virtio-balloon {@code VIRTIO_BALLOON_S_*}); unknown tags are kept
 * @param receivedAtMillis wall-clock time the device parsed them
 */
public record BalloonStats(SortedMap<Integer, Long> values, long receivedAtMillis) {
    /** One entry on the wire: {@code le16 tag; le64 val;}, packed. */
    public static final int ENTRY_SIZE = 10;
    /** The most entries a buffer may carry (Linux 6.1 sends up to 10, later kernels 16). */
    public static final int MAX_ENTRIES = 256;

    public static final int SWAP_IN = 0;
    public static final int SWAP_OUT = 1;
    public static final int MAJOR_FAULTS = 2;
    public static final int MINOR_FAULTS = 3;
    public static final int FREE_MEMORY = 4;
    public static final int TOTAL_MEMORY = 5;
    public static final int AVAILABLE_MEMORY = 6;
    public static final int DISK_CACHES = 7;
    public static final int HUGETLB_ALLOCATIONS = 8;
    public static final int HUGETLB_FAILURES = 9;

    /** Names for the API, by tag; the units are the driver's (bytes for memory and swap, counts for the rest). */
    private static final String[] NAMES = {
        "swap_in_bytes", "swap_out_bytes", "major_faults", "minor_faults", "free_bytes", "total_bytes",
        "available_bytes", "disk_caches_bytes", "hugetlb_allocations", "hugetlb_failures",
        "oom_kills", "alloc_stalls", "async_scans", "direct_scans", "async_reclaims", "direct_reclaims",
    };

    /** No statistics yet. */
    public static final BalloonStats NONE = new BalloonStats(new TreeMap<>(), 0);

    public BalloonStats {
        values = Collections.unmodifiableSortedMap(new TreeMap<>(values));
    }

    /** A stats buffer that does not hold whole, bounded entries. */
    public static final class MalformedException extends Exception {
        public MalformedException(String message) {
            super(message);
        }
    }

    /**
     * Parses the readable part of a statsq buffer (a copy: guest memory may change meanwhile).
     *
     * @throws MalformedException if it is empty, not a whole number of entries, or longer than {@link #MAX_ENTRIES}
     */
    public static BalloonStats parse(byte[] raw, long nowMillis) throws MalformedException {
        if (raw.length == 0) {
            throw new MalformedException("empty stats buffer");
        }
        if (raw.length % ENTRY_SIZE != 0) {
            throw new MalformedException("stats buffer of " + raw.length + " bytes is not a whole number of "
                    + ENTRY_SIZE + "-byte entries");
        }
        if (raw.length / ENTRY_SIZE > MAX_ENTRIES) {
            throw new MalformedException("stats buffer of " + raw.length / ENTRY_SIZE + " entries; at most "
                    + MAX_ENTRIES);
        }
        TreeMap<Integer, Long> values = new TreeMap<>();
        for (int off = 0; off < raw.length; off += ENTRY_SIZE) {
            int tag = (raw[off] & 0xFF) | (raw[off + 1] & 0xFF) << 8;
            long value = 0;
            for (int i = 7; i >= 0; i--) {
                value = value << 8 | (raw[off + 2 + i] & 0xFF);
            }
            values.put(tag, value);
        }
        return new BalloonStats(values, nowMillis);
    }

    /** The value of {@code tag}, or -1 when the driver did not send it. */
    public long get(int tag) {
        Long v = values.get(tag);
        return v == null ? -1 : v;
    }

    /** The API name of {@code tag}: "free_bytes", ..., or "tag_N" for one Vessel does not know. */
    public static String name(int tag) {
        return tag >= 0 && tag < NAMES.length ? NAMES[tag] : "tag_" + tag;
    }

    /** Values by API name, in tag order. Values are unsigned 64-bit numbers; Java shows the top half as negative. */
    public Map<String, Long> named() {
        Map<String, Long> out = new LinkedHashMap<>();
        values.forEach((tag, v) -> out.put(name(tag), v));
        return out;
    }
}
