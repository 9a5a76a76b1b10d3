package dev.vessel.cli;

import dev.vessel.guest.DebianKernel;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Files;
import java.util.concurrent.Callable;

/** `vessel kernel`: the default guest kernel cache. */
@Command(name = "kernel", mixinStandardHelpOptions = true,
        description = "Show or fetch the default guest kernel (Debian's current cloud kernel).",
        subcommands = {KernelCommand.Fetch.class})
final class KernelCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    DebianKernel kernels() throws java.io.IOException {
        return new DebianKernel(main.stateRoot().dir("kernels"));
    }

    @Override
    public Integer call() throws Exception {
        DebianKernel.Release r = kernels().cached();
        if (r == null) {
            System.out.println("no default kernel cached yet; `vessel kernel fetch` (or the first `vessel vm run`) fetches it");
            return 0;
        }
        System.out.println(r.name() + "  " + Files.readString(r.directory().resolve("package")).strip()
                + "  " + r.vmlinuz());
        return 0;
    }

    @Command(name = "fetch", mixinStandardHelpOptions = true,
            description = "Download the kernel that linux-image-cloud-amd64 currently depends on, and make it the default.")
    static final class Fetch implements Callable<Integer> {
        @ParentCommand
        KernelCommand parent;

        @Override
        public Integer call() throws Exception {
            DebianKernel.Release r = parent.kernels().fetch(System.err);
            System.out.println(r.name());
            return 0;
        }
    }
}
