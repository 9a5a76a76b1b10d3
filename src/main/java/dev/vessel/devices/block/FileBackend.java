package dev.vessel.devices.block;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.FileIo;
import dev.vessel.sys.Libc;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/** A raw disk image file, accessed with pread/pwrite straight into guest memory. */
public final class FileBackend implements BlockBackend {
    private final Path path;
    private final int fd;
    private final boolean readOnly;
    private final long size;
    private volatile boolean discardWorks = true;

    private FileBackend(Path path, int fd, boolean readOnly, long size) {
        this.path = path;
        this.fd = fd;
        this.readOnly = readOnly;
        this.size = size;
    }

    public static FileBackend open(Path path, boolean readOnly) throws IOException {
        int fd;
        try {
            fd = Libc.open(path.toString(), (readOnly ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC, 0);
        } catch (ErrnoException e) {
            throw new IOException("cannot open disk " + path + ": " + Libc.strerror(e.errno()), e);
        }
        try {
            return new FileBackend(path, fd, readOnly, FileIo.size(fd));
        } catch (ErrnoException e) {
            Libc.close(fd);
            throw new IOException("cannot size disk " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        FileIo.preadFully(fd, dst, offset);
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        if (readOnly) {
            throw new IOException("disk " + path + " is read-only");
        }
        FileIo.pwriteFully(fd, src, offset);
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            FileIo.fdatasync(fd);
        }
    }

    @Override
    public boolean supportsDiscard() {
        return !readOnly && discardWorks;
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (readOnly) {
            throw new IOException("disk " + path + " is read-only");
        }
        if (!FileIo.punchHole(fd, offset, length)) {
            discardWorks = false;
        }
    }

    @Override
    public void close() throws IOException {
        Libc.close(fd);
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
