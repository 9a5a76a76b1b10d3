package dev.vessel.machine;

import dev.vessel.guest.agent.AgentBinary;

import java.io.IOException;
import java.nio.file.Path;

/** The agent binary as the machine needs it: a file beside its other images. */
final class AgentFiles {
    private AgentFiles() {}

    static Path extractAgent(Path dir) throws IOException {
        if (!AgentBinary.isAvailable()) {
            throw new IOException("this build of Vessel has no vessel-agent (build with ./mvnw package on a machine with gcc and libc6-dev)");
        }
        return AgentBinary.extractTo(dir);
    }
}
