package dev.vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A seccomp filter for the whole process (every thread, now and later): the system calls in
 * {@link #DENIED} fail with EPERM, everything else is allowed; a call made through another ABI
 * (x32, or a non-x86-64 architecture number) fails too. Once installed it cannot be removed, and
 * the process can gain no privileges (no_new_privs).
 *
 * <p>A deny list, not Firecracker's allow list: a JVM's system calls change with its version,
 * garbage collector and compilers, so an allow list would break on a JDK update. The list holds
 * what a VMM never needs and what escapes are built on: running programs, debugging other
 * processes, loading kernel code, mounts and namespaces, raw port I/O, the kernel keyring, BPF,
 * io_uring, userfaultfd, perf. EPERM rather than killing the process: a VMM that gets an error
 * reports it and its VM stops cleanly, where a killed one would take its VM with it unexplained.
 */
public final class Seccomp {
    private Seccomp() {}

    /** x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
    public static final Map<String, Integer> DENIED = denied();

    private static Map<String, Integer> denied() {
        Map<String, Integer> m = new TreeMap<>();
        m.put("execve", 59);
        m.put("execveat", 322);
        m.put("ptrace", 101);
        m.put("process_vm_readv", 310);
        m.put("process_vm_writev", 311);
        m.put("mount", 165);
        m.put("umount2", 166);
        m.put("pivot_root", 155);
        m.put("chroot", 161);
        m.put("open_tree", 428);
        m.put("move_mount", 429);
        m.put("fsopen", 430);
        m.put("fsconfig", 431);
        m.put("fsmount", 432);
        m.put("fspick", 433);
        m.put("mount_setattr", 442);
        m.put("unshare", 272);
        m.put("setns", 308);
        m.put("kexec_load", 246);
        m.put("kexec_file_load", 320);
        m.put("init_module", 175);
        m.put("finit_module", 313);
        m.put("delete_module", 176);
        m.put("bpf", 321);
        m.put("perf_event_open", 298);
        m.put("userfaultfd", 323);
        m.put("io_uring_setup", 425);
        m.put("io_uring_enter", 426);
        m.put("io_uring_register", 427);
        m.put("iopl", 172);
        m.put("ioperm", 173);
        m.put("add_key", 248);
        m.put("request_key", 249);
        m.put("keyctl", 250);
        m.put("open_by_handle_at", 304);
        m.put("swapon", 167);
        m.put("swapoff", 168);
        m.put("reboot", 169);
        m.put("acct", 163);
        m.put("settimeofday", 164);
        m.put("clock_settime", 227);
        m.put("clock_adjtime", 305);
        m.put("adjtimex", 159);
        m.put("quotactl", 179);
        return java.util.Collections.unmodifiableMap(m);
    }

    static final int PR_SET_NO_NEW_PRIVS = 38;
    static final long SYS_SECCOMP = 317;
    static final int SECCOMP_SET_MODE_FILTER = 1;
    static final int SECCOMP_FILTER_FLAG_TSYNC = 1;
    static final int AUDIT_ARCH_X86_64 = 0xC000003E;
    static final int X32_SYSCALL_BIT = 0x40000000;

    static final int SECCOMP_RET_ALLOW = 0x7FFF0000;
    static final int SECCOMP_RET_ERRNO = 0x00050000;
    static final int EPERM = 1;

    // Classic BPF opcodes.
    static final short LD_W_ABS = 0x20;   // BPF_LD | BPF_W | BPF_ABS
    static final short JEQ_K = 0x15;      // BPF_JMP | BPF_JEQ | BPF_K
    static final short JGE_K = 0x35;      // BPF_JMP | BPF_JGE | BPF_K
    static final short RET_K = 0x06;      // BPF_RET | BPF_K
    /** Offsets in struct seccomp_data. */
    static final int DATA_NR = 0;
    static final int DATA_ARCH = 4;

    private static volatile boolean installed;

    private static final class Prctl {
        static final MethodHandle H = Libc.fn("prctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Libc.CAPTURE, Linker.Option.firstVariadicArg(1));
    }

    private static final class Syscall {
        static final MethodHandle H = Libc.fn("syscall",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS),
                Libc.CAPTURE, Linker.Option.firstVariadicArg(1));
    }

    /**
     * Builds the filter and links the calls that install it, installing nothing: a warm-up does
     * this so that the start-up cache holds it, while its process may still start programs.
     */
    public static void prepare() {
        program(List.copyOf(DENIED.values()));
        MethodHandle prctl = Prctl.H;
        MethodHandle syscall = Syscall.H;
        assert prctl != null && syscall != null;
    }

    /** Whether this process installed the filter. */
    public static boolean installed() {
        return installed;
    }

    /**
     * The filter program: check the ABI, then one comparison per denied call. Each instruction is
     * struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}, little-endian.
     */
    static byte[] program(List<Integer> denied) {
        int n = denied.size();
        // 0: ld arch; 1: jeq x86-64 ? 2 : deny; 2: ld nr; 3: jge x32 ? deny : 4; 4..4+n-1: jeq nr_i ? deny;
        // 4+n: allow; 5+n: deny
        int count = 6 + n;
        int deny = count - 1;
        ByteBuffer b = ByteBuffer.allocate(count * 8).order(ByteOrder.LITTLE_ENDIAN);
        put(b, LD_W_ABS, 0, 0, DATA_ARCH);
        put(b, JEQ_K, 0, deny - 2, AUDIT_ARCH_X86_64);
        put(b, LD_W_ABS, 0, 0, DATA_NR);
        put(b, JGE_K, deny - 4, 0, X32_SYSCALL_BIT);
        for (int i = 0; i < n; i++) {
            int here = 4 + i;
            put(b, JEQ_K, deny - here - 1, 0, denied.get(i));
        }
        put(b, RET_K, 0, 0, SECCOMP_RET_ALLOW);
        put(b, RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM);
        return b.array();
    }

    private static void put(ByteBuffer b, short code, int jt, int jf, int k) {
        if (jt > 255 || jf > 255) {
            throw new IllegalStateException("seccomp filter too long for a single jump");
        }
        b.putShort(code).put((byte) jt).put((byte) jf).putInt(k);
    }

    /**
     * Installs the filter on every thread of this process. Idempotent.
     *
     * @throws ErrnoException when the kernel refuses it (no seccomp, or a thread that cannot be synchronised)
     */
    public static synchronized void install() throws ErrnoException {
        if (installed) {
            return;
        }
        byte[] prog = program(List.copyOf(DENIED.values()));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment err = Libc.errnoBuffer();
            int r = (int) Prctl.H.invokeExact(err, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L);
            if (r != 0) {
                throw new ErrnoException("prctl(PR_SET_NO_NEW_PRIVS)", Libc.errno(err));
            }
            MemorySegment filter = arena.allocate(prog.length, 8);
            MemorySegment.copy(prog, 0, filter, ValueLayout.JAVA_BYTE, 0, prog.length);
            MemorySegment fprog = arena.allocate(16, 8); // struct sock_fprog {u16 len; (pad); sock_filter *filter}
            fprog.set(ValueLayout.JAVA_SHORT, 0, (short) (prog.length / 8));
            fprog.set(ADDRESS, 8, filter);
            long s = (long) Syscall.H.invokeExact(err, SYS_SECCOMP, (long) SECCOMP_SET_MODE_FILTER,
                    (long) SECCOMP_FILTER_FLAG_TSYNC, fprog);
            if (s != 0) {
                throw new ErrnoException(s > 0 ? "seccomp: thread " + s + " could not be synchronised" : "seccomp",
                        s > 0 ? 0 : Libc.errno(err));
            }
            installed = true;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("seccomp failed", t);
        }
    }
}
