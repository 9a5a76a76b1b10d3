package dev.vessel.image;

import com.github.luben.zstd.ZstdInputStream;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/** How a layer or archive is compressed: none, gzip or zstd (sniffed from magic bytes or a media type). */
public enum Compression {
    NONE, GZIP, ZSTD;

    /** Wraps {@code in} to decompress. */
    public InputStream decompress(InputStream in) throws IOException {
        return switch (this) {
            case NONE -> in;
            case GZIP -> new GZIPInputStream(in, 65536);
            case ZSTD -> new ZstdInputStream(in).setContinuous(false);
        };
    }

    /**
     * The compression of the stream by its first bytes. {@code in} must support mark/reset
     * (a {@link BufferedInputStream}); it is left where it was.
     */
    public static Compression sniff(InputStream in) throws IOException {
        if (!in.markSupported()) {
            throw new IllegalArgumentException("sniff needs mark/reset");
        }
        in.mark(8);
        byte[] head = in.readNBytes(4);
        in.reset();
        if (head.length >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
            return GZIP;
        }
        if (head.length >= 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5 && (head[2] & 0xff) == 0x2f
                && (head[3] & 0xff) == 0xfd) {
            return ZSTD;
        }
        return NONE;
    }

    /** Other compressions that archives come in and Vessel does not read, by magic: a name for the error. */
    static String unsupported(InputStream in) throws IOException {
        in.mark(8);
        byte[] h = in.readNBytes(6);
        in.reset();
        if (h.length >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h') {
            return "bzip2";
        }
        if (h.length >= 6 && (h[0] & 0xff) == 0xfd && h[1] == '7' && h[2] == 'z' && h[3] == 'X' && h[4] == 'Z' && h[5] == 0) {
            return "xz";
        }
        return null;
    }
}
