package dev.vessel.image;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** The file operations java.nio lacks for layers (through FFM): mkfifo, and utimensat that never opens the file. */
final class NativeFs {
    private NativeFs() {}

    private static final class Mkfifo {
        static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
        static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        static final MethodHandle H;

        static {
            Linker linker = Linker.nativeLinker();
            MemorySegment sym = linker.defaultLookup().find("mkfifo").orElseThrow(() -> new UnsatisfiedLinkError("libc has no mkfifo"));
            H = linker.downcallHandle(sym, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), Linker.Option.captureCallState("errno"));
        }
    }

    private static final class Utimensat {
        static final MethodHandle H;

        static {
            Linker linker = Linker.nativeLinker();
            MemorySegment sym = linker.defaultLookup().find("utimensat").orElseThrow(() -> new UnsatisfiedLinkError("libc has no utimensat"));
            H = linker.downcallHandle(sym, FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT),
                    Linker.Option.captureCallState("errno"));
        }
    }

    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;

    /**
     * Sets access and modification time of {@code path} itself (a symbolic link is not followed).
     * java.nio opens the file to do this, which blocks on a FIFO.
     */
    static void setMtime(Path path, long epochSeconds, int nanos) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(Mkfifo.CAPTURE_LAYOUT);
            MemorySegment times = arena.allocate(32);
            for (int i = 0; i < 2; i++) {
                times.set(java.lang.foreign.ValueLayout.JAVA_LONG, i * 16L, epochSeconds);
                times.set(java.lang.foreign.ValueLayout.JAVA_LONG, i * 16L + 8, nanos);
            }
            int rc = (int) Utimensat.H.invokeExact(errno, AT_FDCWD, arena.allocateFrom(path.toString()), times, AT_SYMLINK_NOFOLLOW);
            if (rc != 0) {
                int e = (int) Mkfifo.ERRNO.get(errno, 0L);
                throw new IOException("utimensat " + path + " failed: errno " + e);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    static void mkfifo(Path path, int mode) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(Mkfifo.CAPTURE_LAYOUT);
            int rc = (int) Mkfifo.H.invokeExact(errno, arena.allocateFrom(path.toString()), mode);
            if (rc != 0) {
                int e = (int) Mkfifo.ERRNO.get(errno, 0L);
                throw new IOException("mkfifo " + path + " failed: errno " + e);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }
}
