package dev.vessel.vmm;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Copies host stdin to the guest's console. On a terminal, Ctrl-A x stops the VM (as in QEMU) and
 * Ctrl-A Ctrl-A sends a literal Ctrl-A; everything else, Ctrl-C included, goes to the guest.
 */
public final class ConsoleInput implements Runnable {
    static final int ESCAPE = 0x01;

    private final InputStream in;
    private final VirtualMachine vm;
    private final boolean interactive;

    public ConsoleInput(InputStream in, VirtualMachine vm, boolean interactive) {
        this.in = in;
        this.vm = vm;
        this.interactive = interactive;
    }

    public static Thread start(VirtualMachine vm, boolean interactive) {
        ConsoleInput input = new ConsoleInput(new FileInputStream(FileDescriptor.in), vm, interactive);
        return Thread.ofPlatform().name("console-input").daemon(true).start(input);
    }

    @Override
    public void run() {
        byte[] buf = new byte[4096];
        byte[] out = new byte[4096];
        boolean escape = false;
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                int o = 0;
                for (int i = 0; i < n; i++) {
                    int b = buf[i] & 0xFF;
                    if (!interactive) {
                        out[o++] = (byte) b;
                    } else if (escape) {
                        escape = false;
                        if (b == 'x' || b == 'X') {
                            vm.stop(VmExit.INTERRUPTED, "stopped with Ctrl-A x");
                            return;
                        }
                        out[o++] = (byte) b;
                    } else if (b == ESCAPE) {
                        escape = true;
                    } else {
                        out[o++] = (byte) b;
                    }
                }
                if (o > 0) {
                    vm.console().receiveBlocking(out, 0, o);
                }
            }
        } catch (IOException e) {
            // Host stdin is gone; the guest keeps running without input.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
