package dev.vessel.sys;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seccomp filter: its BPF program run by a small interpreter of the four instructions it
 * uses, and the real filter installed in a child JVM (this one must keep starting programs).
 */
class SeccompTest {
    static final List<Integer> DENIED = List.copyOf(Seccomp.DENIED.values());
    static final byte[] PROGRAM = Seccomp.program(DENIED);

    /** Runs the classic BPF program on struct seccomp_data {int nr; u32 arch; ...}; the return value. */
    static int run(byte[] program, int nr, int arch) {
        ByteBuffer p = ByteBuffer.wrap(program).order(ByteOrder.LITTLE_ENDIAN);
        int pc = 0;
        int a = 0;
        for (int steps = 0; steps < 1000; steps++) {
            int at = pc * 8;
            short code = p.getShort(at);
            int jt = Byte.toUnsignedInt(p.get(at + 2));
            int jf = Byte.toUnsignedInt(p.get(at + 3));
            int k = p.getInt(at + 4);
            switch (code) {
                case Seccomp.LD_W_ABS -> {
                    a = k == Seccomp.DATA_NR ? nr : k == Seccomp.DATA_ARCH ? arch : fail("load at " + k);
                    pc++;
                }
                case Seccomp.JEQ_K -> pc += 1 + (a == k ? jt : jf);
                case Seccomp.JGE_K -> pc += 1 + (Integer.compareUnsigned(a, k) >= 0 ? jt : jf);
                case Seccomp.RET_K -> {
                    return k;
                }
                default -> fail("opcode 0x" + Integer.toHexString(code));
            }
            if (pc * 8 >= program.length) {
                fail("ran off the end of the program");
            }
        }
        return fail("no return");
    }

    static int fail(String why) {
        throw new AssertionError(why);
    }

    static final int DENY = Seccomp.SECCOMP_RET_ERRNO | Seccomp.EPERM;

    @Test
    void everyDeniedCallGetsEpermAndTheUsualOnesAreAllowed() {
        for (int nr : DENIED) {
            assertEquals(DENY, run(PROGRAM, nr, Seccomp.AUDIT_ARCH_X86_64), "syscall " + nr);
        }
        // read, write, openat, mmap, ioctl (KVM_RUN), futex, clone, epoll_wait, exit_group
        for (int nr : List.of(0, 1, 257, 9, 16, 202, 56, 232, 231)) {
            assertEquals(Seccomp.SECCOMP_RET_ALLOW, run(PROGRAM, nr, Seccomp.AUDIT_ARCH_X86_64), "syscall " + nr);
        }
    }

    @Test
    void anotherAbiIsRefused() {
        assertEquals(DENY, run(PROGRAM, 0, 0x40000003), "i386");
        assertEquals(DENY, run(PROGRAM, 59 | Seccomp.X32_SYSCALL_BIT, Seccomp.AUDIT_ARCH_X86_64), "x32 execve");
        assertEquals(DENY, run(PROGRAM, 0 | Seccomp.X32_SYSCALL_BIT, Seccomp.AUDIT_ARCH_X86_64), "x32 read");
    }

    @Property
    void anyCallNumberGetsExactlyItsVerdict(@ForAll @IntRange(min = 0, max = 1023) int nr) {
        int expected = DENIED.contains(nr) ? DENY : Seccomp.SECCOMP_RET_ALLOW;
        assertEquals(expected, run(PROGRAM, nr, Seccomp.AUDIT_ARCH_X86_64));
    }

    @Test
    void installedInAProcessItRefusesToStartPrograms() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), SeccompProbe.class.getName())
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("before: started\n"), out);
        assertTrue(out.contains("after: refused"), out);
        assertTrue(out.contains("Operation not permitted") || out.contains("error=1"), out);
    }
}
