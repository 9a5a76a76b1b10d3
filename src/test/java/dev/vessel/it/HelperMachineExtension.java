package dev.vessel.it;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

import java.lang.reflect.Method;
import java.time.Duration;

/**
 * One helper machine for the whole test run: started before the first integration test that
 * needs it (unless one already runs in the test root), stopped after the last one if this run
 * started it. A test that fails because the machine itself died under it runs once more on a
 * fresh machine ({@link MachineDeathRetry}). On a host with hardware virtualization the tests run
 * VMs directly and no machine is started.
 */
final class HelperMachineExtension implements BeforeAllCallback, InvocationInterceptor {
    private static final String KEY = "vessel-helper-machine";

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        machine(context);
    }

    private static Machine machine(ExtensionContext context) {
        return context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL).getOrComputeIfAbsent(KEY, k -> {
            try {
                return start();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, Machine.class);
    }

    @Override
    public void interceptTestMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                    ExtensionContext context) throws Throwable {
        if (machine(context).used() && !context.getRequiredTestClass().isAnnotationPresent(NotRetried.class)) {
            MachineDeathRetry.intercept(invocation, call, context);
        } else {
            invocation.proceed();
        }
    }

    private static Machine start() throws Exception {
        if (dev.vessel.host.HostCapabilities.hardwareVirtualization()) {
            return new Machine(false, false);
        }
        VesselCli.Result status = VesselCli.run("machine", "status");
        boolean wasRunning = status.status() == 0;
        if (wasRunning && status.stdout().contains("outdated:")) {
            // Another build's machine (the test root is the tests' own): this build's may need more of it.
            VesselCli.Result stop = VesselCli.run(Duration.ofMinutes(2), null, "machine", "stop");
            if (stop.status() != 0) {
                throw new AssertionError("could not stop another build's helper machine in the test root\n" + stop);
            }
            wasRunning = false;
        }
        if (!wasRunning) {
            VesselCli.Result r = VesselCli.run(Duration.ofMinutes(5), null, "machine", "start");
            if (r.status() != 0) {
                throw new AssertionError("the integration tests need the helper machine, and it did not start "
                        + "(install qemu-system-x86, busybox-static, e2fsprogs; see .ci/run)\n" + r);
            }
        }
        return new Machine(true, !wasRunning);
    }

    /** Stops the machine when the test run ends, if this run started it. */
    record Machine(boolean used, boolean startedHere) implements ExtensionContext.Store.CloseableResource, AutoCloseable {
        @Override
        public void close() throws Exception {
            if (startedHere && !Boolean.getBoolean("vessel.it.keepMachine")) {
                VesselCli.run(Duration.ofMinutes(2), null, "machine", "stop");
            }
        }
    }
}
