package dev.vessel.cli;

import java.io.IOException;

/**
 * Run in a child JVM by VmWarmUpCommandTest: the cache's training run (`vm warm-up`), then what the
 * JVM does at the end of a training, and a standby after its warm-up: start a program.
 */
public final class WarmUpProbe {
    private WarmUpProbe() {}

    public static void main(String[] args) throws Exception {
        System.out.println("warm-up status " + new VmWarmUpCommand().call());
        try {
            new ProcessBuilder("true").start().waitFor();
            System.out.println("after: started");
        } catch (IOException e) {
            System.out.println("after: refused: " + e.getMessage());
        }
        System.exit(0);
    }
}
