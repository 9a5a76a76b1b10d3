package dev.vessel.image;

/**
 * What a layer may contain: caps against decompression bombs (total bytes and entries over all
 * layers of an image), and what to do with device nodes and setuid/setgid bits.
 *
 * @param maxBytes   total bytes of regular file content an image may unpack to
 * @param maxEntries total tar entries over all layers of an image
 * @param devices    device nodes (character and block): kept in the image (never made on the host),
 *                   rejected (the layer fails) or skipped
 * @param setuid     setuid/setgid bits: kept, stripped, or rejected (the layer fails)
 */
public record UnpackPolicy(long maxBytes, long maxEntries, Devices devices, Setuid setuid) {
    public enum Devices { KEEP, REJECT, SKIP }

    public enum Setuid { KEEP, STRIP, REJECT }

    /** Longest entry path accepted (Linux's PATH_MAX). */
    public static final int MAX_PATH = 4096;

    public UnpackPolicy {
        if (maxBytes <= 0 || maxEntries <= 0 || devices == null || setuid == null) {
            throw new IllegalArgumentException("bad unpack policy");
        }
    }

    /**
     * The defaults: 32 GiB and one million entries, device nodes kept (root filesystems made by
     * debootstrap or mmdebstrap hold /dev/null and the like, and docker takes them; they belong to
     * the guest, whose kernel decides what they open, and are written into the image's filesystem
     * only, never made on the host), setuid bits kept (images need su, ping, passwd; they only
     * matter inside the guest, and the store's directories are root-only, so no host user can run
     * an unpacked setuid file).
     */
    public static UnpackPolicy defaults() {
        return new UnpackPolicy(32L << 30, 1_000_000, Devices.KEEP, Setuid.KEEP);
    }

    public UnpackPolicy withMaxBytes(long n) {
        return new UnpackPolicy(n, maxEntries, devices, setuid);
    }

    public UnpackPolicy withMaxEntries(long n) {
        return new UnpackPolicy(maxBytes, n, devices, setuid);
    }

    public UnpackPolicy withDevices(Devices d) {
        return new UnpackPolicy(maxBytes, maxEntries, d, setuid);
    }

    public UnpackPolicy withSetuid(Setuid s) {
        return new UnpackPolicy(maxBytes, maxEntries, devices, s);
    }
}
