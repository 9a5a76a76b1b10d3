import dev.vessel.guest.GuestImages;
import dev.vessel.guest.agent.GuestAgent;
import dev.vessel.vmm.VirtualMachine;
import dev.vessel.vmm.VmConfig;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

public class HelloVm {
    public static void main(String[] args) throws Exception {
        Path vsock = Files.createTempDirectory("hello-vm").resolve("vsock.sock");
        VmConfig config = VmConfig.builder()
                .kernel(GuestImages.defaultKernel())      // Debian's cloud kernel, fetched once
                .initrd(GuestImages.agentInitramfs())     // busybox, and vessel-agent on vsock
                .memory(256L << 20)
                .vsock(vsock)
                .build();
        try (VirtualMachine vm = VirtualMachine.create(config, OutputStream.nullOutputStream());
             GuestAgent agent = GuestAgent.listen(vsock)) {
            vm.start();
            agent.awaitReady(Duration.ofMinutes(2));
            System.out.print(agent.run("uname", "-sr").stdout());
        } // close(): the VM stops, and its fds, memory and threads are released
    }
}
