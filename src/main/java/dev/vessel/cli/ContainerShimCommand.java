package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerInitramfs;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.Shim;
import dev.vessel.guest.DebianKernel;
import dev.vessel.host.Timing;
import dev.vessel.image.Image;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.sys.Libc;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * The supervisor of one container (started by run/start, detached); not for users. It prints
 * "ready" on stdout once its socket listens, then sends its stdout to the container's console log.
 */
@Command(name = "container-shim", hidden = true, description = "Supervise one container (internal).")
final class ContainerShimCommand implements Callable<Integer> {
    private static final int O_APPEND = 02000;

    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "ID")
    String id;

    @Option(names = "--wait-attach")
    boolean waitAttach;

    @Option(names = "--restart")
    boolean restart;

    @Override
    public Integer call() throws Exception {
        Timing.mark("shim: start");
        ContainerStore store = ContainerSupport.store(main);
        ContainerStore.Container c;
        Shim.Boot boot;
        try {
            c = store.require(id);
            ImageStore images = ImageStore.open(main.stateRoot());
            Image image = images.resolve(c.config().imageId());
            Path disk = images.ensureDisk(image);
            DebianKernel.Release kernel = new DebianKernel(main.stateRoot().dir("kernels")).ensure(System.err);
            Path initrd = ContainerInitramfs.ensure(main.stateRoot().dir("cache"), kernel);
            boot = new Shim.Boot(kernel.vmlinuz(), initrd, disk);
        } catch (ContainerException e) {
            throw ContainerSupport.error(e);
        } catch (ImageException e) {
            throw new UserError(e.getMessage(), 125);
        }
        Timing.mark("shim: boot files ready");
        // The VM's console (written to fd 1) goes to the console log; the CLI that started this
        // supervisor reads one line, "ready", from the original stdout once the container runs.
        int notify = Libc.dupCloexec(1);
        int fd = Libc.open(c.consoleLog().toString(), Libc.O_WRONLY | Libc.O_CREAT | O_APPEND | Libc.O_CLOEXEC, 0644);
        Libc.dup2(fd, 1);
        Libc.close(fd);
        boolean[] told = {false};
        return Shim.run(store, c, boot, args -> {
            String[] full = new String[args.size() + 2];
            full[0] = "--root";
            full[1] = main.stateRoot().path().toString();
            for (int i = 0; i < args.size(); i++) {
                full[i + 2] = args.get(i);
            }
            return Main.run(full);
        }, waitAttach, restart, () -> {
            synchronized (told) {
                if (told[0]) {
                    return;
                }
                told[0] = true;
                try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                    java.lang.foreign.MemorySegment line = arena.allocateFrom("ready\n");
                    Libc.write(notify, line, line.byteSize() - 1);
                    Libc.close(notify);
                } catch (Exception e) {
                    System.err.println("vessel-shim: cannot tell the CLI the container runs: " + e);
                }
            }
        });
    }
}
