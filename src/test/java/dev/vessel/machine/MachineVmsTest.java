package dev.vessel.machine;

import dev.vessel.devices.virtio.net.MacAddress;
import dev.vessel.vmm.NetConfig;
import dev.vessel.vmm.VmConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What the host side of a VM in the helper machine tells the VMM there, and the environment it runs in. */
class MachineVmsTest {
    @Test
    void theMachineSideVmRunHasTheConfigWithTheMachinesPaths() {
        VmConfig config = new VmConfig(Path.of("/host/vmlinuz"), Path.of("/host/initrd"), "console=hvc0 quiet", 2,
                512L << 20, List.of(new VmConfig.Disk(Path.of("/host/image.img"), true),
                        new VmConfig.Disk(Path.of("/host/rw.img"), false)),
                VmConfig.Console.VIRTIO, Path.of("/host/vsock.sock"), null, true, true, Path.of("/host/api.sock"));
        assertEquals(List.of("vm", "run", "--accel", "kvm", "--kernel", "/m/vmlinuz", "--initrd", "/m/initrd",
                        "--cmdline", "console=hvc0 quiet", "--cpus", "2", "--memory", (512L << 20) + "b", "--console", "virtio",
                        "--rng", "--balloon", "--disk", "/m/image.img,ro", "--disk", "nbd://10.0.2.2:1234/x",
                        "--vsock", "/run/vessel/vm-1/vsock.sock", "--vsock-uplink", "10.0.2.2:99/s",
                        "--api-socket", "/run/vessel/vm-1/api.sock"),
                MachineVms.vmRunArgs(config, "/m/vmlinuz", "/m/initrd", List.of("/m/image.img,ro", "nbd://10.0.2.2:1234/x"),
                        "/run/vessel/vm-1/vsock.sock", "10.0.2.2:99/s", "/run/vessel/vm-1/api.sock"));
    }

    @Test
    void networkCardsGoAlongWithTheMacChosenHere() {
        NetConfig random = NetConfig.tap("tap1");
        VmConfig config = VmConfig.builder().kernel(Path.of("/k")).initrd(Path.of("/i")).cmdline("c")
                .net(new NetConfig("tap0", MacAddress.parse("02:00:00:00:00:01"))).net(random).build();
        List<String> args = MachineVms.vmRunArgs(config, "/m/k", "/m/i", List.of(), null, null, null);
        assertEquals(List.of("--net", "tap=tap0,mac=02:00:00:00:00:01", "--net", "tap=tap1,mac=" + random.mac()),
                args.subList(args.size() - 4, args.size()));
    }

    @Test
    void withoutDevicesOnlyTheBasics() {
        VmConfig config = new VmConfig(Path.of("/k"), Path.of("/i"), "console=ttyS0", 1, 64L << 20);
        assertEquals(List.of("vm", "run", "--accel", "kvm", "--kernel", "/m/k", "--initrd", "/m/i",
                        "--cmdline", "console=ttyS0", "--cpus", "1", "--memory", (64L << 20) + "b", "--console", "serial"),
                MachineVms.vmRunArgs(config, "/m/k", "/m/i", List.of(), null, null, null));
    }

    @Test
    void theCommandSeesTheTerminalTypeAndVesselsDiagnosticsOnly() {
        Map<String, String> env = MachineForwarder.environment(Map.of("TERM", "xterm", "VESSEL_TIMING", "1",
                "VESSEL_ROOT", "/home/me/vessel", "HOME", "/home/me", "SECRET", "x"));
        assertEquals(Map.of("PATH", "/sbin:/bin:/usr/sbin:/usr/bin", "HOME", "/root", "VESSEL_ROOT", "/var/lib/vessel",
                "TERM", "xterm", "VESSEL_TIMING", "1"), env);
    }
}
