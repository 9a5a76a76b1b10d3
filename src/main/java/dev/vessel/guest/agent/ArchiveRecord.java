package dev.vessel.guest.agent;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One record of the stream the agent's archive builtins speak (protocol.h): a file system entry
 * with its owner, mode and time, followed by its data when it is a file. The host turns tar into
 * records and back; the guest only walks and writes files. What comes from the guest is checked
 * here as from any hostile source.
 *
 * @param type one of the type constants
 * @param mode permission bits (07777)
 * @param size length of the data that follows (files only)
 * @param name relative, of components other than "", "." and ".."
 * @param link a symlink's target or a hard link's earlier name; "" for the others
 */
public record ArchiveRecord(byte type, int mode, long uid, long gid, long mtime, int devMajor, int devMinor, long size,
                            String name, String link) {
    public static final int HEADER = 41;
    public static final int MAX_NAME = 4096;

    public static final byte FILE = 'f';
    public static final byte DIRECTORY = 'd';
    public static final byte SYMLINK = 'l';
    public static final byte HARD_LINK = 'h';
    public static final byte CHAR_DEVICE = 'c';
    public static final byte BLOCK_DEVICE = 'b';
    public static final byte FIFO = 'p';
    /** Only in archive-stat's answer: a socket is never archived. */
    public static final byte SOCKET = 's';
    public static final byte END = 'Z';

    private static final String TYPES = "fdlhcbpsZ";

    public ArchiveRecord {
        if (TYPES.indexOf(type) < 0) {
            throw new IllegalArgumentException("unknown archive record type " + (type & 0xff));
        }
        if ((mode & ~07777) != 0) {
            throw new IllegalArgumentException("mode " + Integer.toOctalString(mode) + " has more than permission bits");
        }
        if (uid < 0 || uid > 0xffffffffL || gid < 0 || gid > 0xffffffffL) {
            throw new IllegalArgumentException("owner " + uid + ":" + gid + " out of range");
        }
        if (size < 0 || (size > 0 && type != FILE)) {
            throw new IllegalArgumentException("only a file has data: " + name);
        }
        if (type != END && !isCleanName(name)) {
            throw new IllegalArgumentException("not a clean relative name: '" + name + "'");
        }
        if (bytes(name).length > MAX_NAME || bytes(link).length > MAX_NAME) {
            throw new IllegalArgumentException("name longer than " + MAX_NAME + " bytes: " + name);
        }
        if (type == HARD_LINK && !isCleanName(link)) {
            throw new IllegalArgumentException("hard link " + name + " to '" + link + "', outside the archive");
        }
    }

    public static ArchiveRecord end() {
        return new ArchiveRecord(END, 0, 0, 0, 0, 0, 0, 0, "", "");
    }

    public boolean isDirectory() {
        return type == DIRECTORY;
    }

    /** A relative name of plain components, as the agent accepts it. */
    public static boolean isCleanName(String s) {
        if (s.isEmpty() || s.startsWith("/") || s.indexOf('\0') >= 0) {
            return false;
        }
        for (String c : s.split("/", -1)) {
            if (c.isEmpty() || c.equals(".") || c.equals("..")) {
                return false;
            }
        }
        return true;
    }

    public void write(OutputStream out) throws IOException {
        byte[] n = bytes(name);
        byte[] l = bytes(link);
        ByteBuffer h = ByteBuffer.allocate(HEADER);
        h.put(type).putInt(mode).putInt((int) uid).putInt((int) gid).putLong(mtime).putInt(devMajor).putInt(devMinor)
                .putLong(size).putShort((short) n.length).putShort((short) l.length);
        out.write(h.array());
        out.write(n);
        out.write(l);
    }

    /**
     * Reads the next record's header, name and link; its data (size bytes) is the caller's to read.
     *
     * @throws IOException when the stream ends or the record is malformed
     */
    public static ArchiveRecord read(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        byte[] h = new byte[HEADER];
        try {
            d.readFully(h);
        } catch (EOFException e) {
            throw new IOException("the archive stream ended before its end record");
        }
        ByteBuffer b = ByteBuffer.wrap(h);
        byte type = b.get();
        int mode = b.getInt();
        long uid = Integer.toUnsignedLong(b.getInt());
        long gid = Integer.toUnsignedLong(b.getInt());
        long mtime = b.getLong();
        int major = b.getInt();
        int minor = b.getInt();
        long size = b.getLong();
        int nlen = Short.toUnsignedInt(b.getShort());
        int llen = Short.toUnsignedInt(b.getShort());
        if (nlen > MAX_NAME || llen > MAX_NAME) {
            throw new IOException("an archive record with a name of " + Math.max(nlen, llen) + " bytes");
        }
        byte[] n = new byte[nlen];
        byte[] l = new byte[llen];
        try {
            d.readFully(n);
            d.readFully(l);
        } catch (EOFException e) {
            throw new IOException("the archive stream ended inside a record");
        }
        try {
            return new ArchiveRecord(type, mode, uid, gid, mtime, major, minor, size,
                    new String(n, StandardCharsets.UTF_8), new String(l, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IOException("a malformed archive record: " + e.getMessage());
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
