package dev.vessel.machine;

import dev.vessel.guest.DebianKernel;
import dev.vessel.guest.DefaultInitramfs;
import dev.vessel.guest.GuestImages;
import dev.vessel.host.StateRoot;
import dev.vessel.host.VesselJar;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a Java program that uses Vessel as a library inside the helper machine, where KVM is: on
 * hosts without hardware virtualization, this is how a program embedding Vessel runs its VMs.
 * The program's jars and Vessel's own jar (with its dependencies) are sent into the machine (by
 * content, once) and run on the machine's Java 25, with this process's stdio, terminal, signals
 * and exit status passed through ({@link MachineForwarder}). The host's default kernel and agent
 * initramfs go along, named by the system properties {@link GuestImages} reads.
 */
public final class MachineJava {
    private MachineJava() {}

    /** The machine's Java runtime (jlinked from the host's JDK: java.base, java.logging, java.net.http, jdk.unsupported). */
    static final String JAVA = "/opt/java/bin/java";

    /**
     * Runs {@code mainClass} with {@code args}.
     *
     * @param classpath the program's jars, on the host
     * @param properties {@code NAME=VALUE} system properties for the program's JVM
     */
    public static int run(StateRoot root, List<Path> classpath, List<String> properties, String mainClass,
                          List<String> args, boolean interactive, PrintStream log)
            throws IOException, MachineException, InterruptedException {
        for (Path jar : classpath) {
            if (!Files.isRegularFile(jar)) {
                throw new java.nio.file.NoSuchFileException(jar.toString(), null, "not a file on the class path");
            }
        }
        for (String p : properties) {
            if (p.indexOf('=') <= 0) {
                throw new IllegalArgumentException("a system property is NAME=VALUE: " + p);
            }
        }
        Path vessel = VesselJar.path().orElseThrow(() -> new MachineUnavailableException(
                "the helper machine runs Vessel's jar, and this Vessel is not running from one (use ./vessel)"));
        DebianKernel.Release kernel = new DebianKernel(root.dir("kernels")).ensure(log);
        Path initrd = DefaultInitramfs.ensure(root.dir("cache"), kernel, "agent");

        HelperMachine helper = HelperMachine.of(root);
        MachineConnection machine = MachineConnection.open(helper.ensureRunning(log));
        List<Path> toSend = new ArrayList<>(classpath);
        toSend.addAll(List.of(vessel, kernel.vmlinuz(), initrd));
        List<String> sent = machine.sendFiles(toSend);
        int n = classpath.size();

        List<String> argv = new ArrayList<>(List.of(JAVA, "--enable-native-access=ALL-UNNAMED"));
        argv.add("-D" + GuestImages.KERNEL_PROPERTY + "=" + sent.get(n + 1));
        argv.add("-D" + GuestImages.AGENT_INITRD_PROPERTY + "=" + sent.get(n + 2));
        for (String p : properties) {
            argv.add("-D" + p);
        }
        argv.add("-cp");
        argv.add(String.join(":", sent.subList(0, n + 1)));
        argv.add(mainClass);
        argv.addAll(args);
        return MachineForwarder.forward(helper, machine, argv, interactive);
    }
}
