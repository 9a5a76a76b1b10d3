package dev.vessel.sys;

import java.io.IOException;

/** Run in a child JVM by SeccompTest: starts a program, installs the filter, tries again. */
public final class SeccompProbe {
    private SeccompProbe() {}

    public static void main(String[] args) throws Exception {
        System.out.println("before: " + tryStart());
        Seccomp.install();
        System.out.println("after: " + tryStart());
        System.exit(Seccomp.installed() ? 0 : 3);
    }

    static String tryStart() throws InterruptedException {
        try {
            new ProcessBuilder("true").start().waitFor();
            return "started";
        } catch (IOException e) {
            return "refused: " + e.getMessage();
        }
    }
}
