package dev.vessel.machine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

public class MachineConsoleTest {
    /** A healthy machine's boot, as its console shows it (abridged from a real one). */
    public static final String HEALTHY_BOOT = """
            Probing EDD (edd=off to disable)... ok
            [    0.000000] Linux version 6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)
            [    0.000000] Command line: console=ttyS0 panic=-1 softlockup_panic=1 watchdog_thresh=30 vessel.notify=10.0.2.2:43927
            [    0.000000] tsc: Fast TSC calibration failed
            [    2.057375] rcu: Preemptible hierarchical RCU implementation.
            [    2.057422] rcu: \tRCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=2.
            [    2.228054] tsc: Marking TSC unstable due to TSCs unsynchronized
            [    2.277147] NMI watchdog: Perf NMI watchdog permanently disabled
            [    2.853325] clocksource: Switched to clocksource refined-jiffies
            [    7.405891] kvm: Nested Virtualization enabled
            [    7.406258] SVM: kvm: Nested Paging enabled
            [    8.152700] EXT4-fs (vdb): mounted filesystem with ordered data mode. Quota mode: none.
            vessel-agent[127]: listening on tcp:0.0.0.0:1024 (port 1024, vessel-agent/1, token required)
            """;

    /** `echo c > /proc/sysrq-trigger` in the machine: its console up to QEMU's exit (real). */
    public static final String SYSRQ_CRASH = """
            [   15.149969] sysrq: Trigger a crash
            [   15.150443] Kernel panic - not syncing: sysrq triggered crash
            [   15.150879] CPU: 0 PID: 135 Comm: sh Not tainted 6.1.0-50-cloud-amd64 #1  Debian 6.1.176-1
            [   15.151538] Call Trace:
            [   15.152751]  <TASK>
            [   15.153137]  dump_stack_lvl+0x44/0x5c
            [   15.153137]  panic+0x118/0x2f4
            [   15.153137]  sysrq_handle_crash+0x16/0x20
            [   15.153137]  </TASK>
            [   15.153137] Kernel Offset: 0xfe00000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)
            Probing EDD (edd=off to disable)... ok""";

    /**
     * The lockup of 2026-11-26 (docs/helper-machine.md: L1 KVM stuck delivering a VM's APIC timer),
     * rebuilt around the lines that note quotes; times, pids and offsets are illustrative.
     */
    public static final String SOFT_LOCKUP = """
            [ 1893.271184] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [vcpu-0:2961]
            [ 1893.271902] Modules linked in: kvm_amd kvm irqbypass virtio_net net_failover failover virtio_blk
            [ 1893.272614] CPU: 1 PID: 2961 Comm: vcpu-0 Not tainted 6.1.0-50-cloud-amd64 #1  Debian 6.1.176-1
            [ 1893.273311] RIP: 0010:__apic_accept_irq+0x72/0x2d0 [kvm]
            [ 1893.275902] Call Trace:
            [ 1893.276113]  <TASK>
            [ 1893.276298]  kvm_inject_apic_timer_irqs+0x45/0x70 [kvm]
            [ 1893.276690]  kvm_arch_vcpu_ioctl_run+0x9a1/0x1720 [kvm]
            [ 1893.277045]  kvm_vcpu_ioctl+0x24f/0x6d0 [kvm]
            [ 1893.277402]  __x64_sys_ioctl+0x90/0xd0
            [ 1893.277610]  </TASK>
            [ 1921.271184] watchdog: BUG: soft lockup - CPU#1 stuck for 48s! [vcpu-0:2961]
            [ 1938.402215] rcu: INFO: rcu_preempt self-detected stall on CPU
            [ 1938.402899] rcu: \t1-....: (16302 ticks this GP) idle=d7c4/1/0x4000000000000000 softirq=47105/47105 fqs=6481
            """;

    @Test
    void aHealthyBootShowsNoDeath() {
        assertEquals(Optional.empty(), MachineConsole.fatalLine(HEALTHY_BOOT));
        assertEquals(Optional.empty(), MachineConsole.stuckTaskLine(HEALTHY_BOOT));
    }

    @Test
    void aPanicIsNamedByItsFirstLine() {
        assertEquals(Optional.of("[   15.150443] Kernel panic - not syncing: sysrq triggered crash"),
                MachineConsole.fatalLine(HEALTHY_BOOT + SYSRQ_CRASH));
    }

    @Test
    void aSoftLockupIsNamedByItsFirstReportNotTheStallAfterIt() {
        assertEquals(Optional.of("[ 1893.271184] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [vcpu-0:2961]"),
                MachineConsole.fatalLine(HEALTHY_BOOT + SOFT_LOCKUP));
    }

    @Test
    void rcuStallsOnTheirOwnCount() {
        String selfDetected = "[  812.004410] rcu: INFO: rcu_preempt self-detected stall on CPU\n";
        String detected = "[  812.004410] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
                + "[  812.005121] rcu: \t0-...!: (1 GPs behind) idle=5e4/0/0x1 softirq=9810/9811 fqs=0\n";
        String sched = "[  99.1] rcu: INFO: rcu_sched self-detected stall on CPU\n";
        assertEquals(Optional.of(selfDetected.strip()), MachineConsole.fatalLine(selfDetected));
        assertEquals(Optional.of("[  812.004410] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"),
                MachineConsole.fatalLine(detected));
        assertEquals(Optional.of(sched.strip()), MachineConsole.fatalLine(sched));
    }

    @Test
    void oopsesOfTheMachinesKernelCount() {
        String nullDeref = """
                [  402.118420] BUG: kernel NULL pointer dereference, address: 0000000000000008
                [  402.118988] #PF: supervisor read access in kernel mode
                [  402.119400] Oops: 0000 [#1] PREEMPT SMP NOPTI
                """;
        assertEquals(Optional.of("[  402.118420] BUG: kernel NULL pointer dereference, address: 0000000000000008"),
                MachineConsole.fatalLine(nullDeref));
        String bug = "[  77.5] kernel BUG at arch/x86/kvm/mmu/mmu.c:6471!\n[  77.5] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n";
        assertEquals(Optional.of("[  77.5] kernel BUG at arch/x86/kvm/mmu/mmu.c:6471!"), MachineConsole.fatalLine(bug));
        String gp = "[ 3.2] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI\n";
        assertEquals(Optional.of(gp.strip()), MachineConsole.fatalLine(gp));
        // Seen in a CI rehearsal: recursive page faults under a vCPU thread's KVM_RUN overran its kernel stack.
        String guard = "[  456.876159] BUG: TASK stack guard page was hit at 00000000240471c6 (stack is 000000002214868a..000000003b5b51a7)\n"
                + "[  456.877945] stack guard page: 0000 [#1] PREEMPT SMP NOPTI\n";
        assertEquals(Optional.of("[  456.876159] BUG: TASK stack guard page was hit at 00000000240471c6 (stack is "
                + "000000002214868a..000000003b5b51a7)"), MachineConsole.fatalLine(guard));
    }

    @Test
    void aUserProcessCrashOrAQuotedMessageIsNotTheKernelsDeath() {
        String userCrash = """
                [  310.551830] traps: java[2210] general protection fault ip:7f3a1c2b4e10 sp:7ffd5e1c8a40 error:0 in libc.so.6[7f3a1c28a000+155000]
                [  311.002044] sh[2230]: segfault at 0 ip 000000000047b7a0 sp 00007ffff7987378 error 4 in busybox[401000+1a3000]
                vessel-agent[127]: exec sh -c echo 'Kernel panic - not syncing: fake'
                [  312.000001] kvm [2961]: vcpu0, guest rIP: 0xffffffff81000000 Unhandled WRMSR(0xc0010117) = 0x0
                [  312.500000] WARNING: CPU: 1 PID: 2961 at arch/x86/kvm/x86.c:11080 kvm_arch_vcpu_ioctl_run+0x10f/0x1720 [kvm]
                """;
        assertEquals(Optional.empty(), MachineConsole.fatalLine(userCrash));
    }

    @Test
    void aHungTaskIsReportedSeparately() {
        String hung = """
                [  726.310425] INFO: task java:2251 blocked for more than 120 seconds.
                [  726.311013]       Not tainted 6.1.0-50-cloud-amd64 #1 Debian 6.1.176-1
                [  726.311640] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
                """;
        assertEquals(Optional.empty(), MachineConsole.fatalLine(hung));
        assertEquals(Optional.of("[  726.310425] INFO: task java:2251 blocked for more than 120 seconds."),
                MachineConsole.stuckTaskLine(hung));
    }

    @Test
    void serialLineEndsAreAccepted() {
        String crlf = "[    1.0] ok\r\n[   15.150443] Kernel panic - not syncing: sysrq triggered crash\r\n";
        assertEquals(Optional.of("[   15.150443] Kernel panic - not syncing: sysrq triggered crash"),
                MachineConsole.fatalLine(crlf));
    }

    @Test
    void readFromStartsAtTheOffsetAndKeepsOnlyTheTail(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("console.log"), "0123456789abcdef", StandardCharsets.UTF_8);
        assertEquals("abcdef", MachineConsole.readFrom(f, 10, 100));
        assertEquals("cdef", MachineConsole.readFrom(f, 10, 4));
        assertEquals("0123456789abcdef", MachineConsole.readFrom(f, 0, 100));
        assertEquals("", MachineConsole.readFrom(f, 16, 100));
        assertEquals("", MachineConsole.readFrom(f, 99, 100));
        assertEquals("", MachineConsole.readFrom(dir.resolve("gone.log"), 0, 100));
    }
}
