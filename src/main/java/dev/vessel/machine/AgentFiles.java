package dev.vessel.machine;

import dev.vessel.guest.agent.AgentBinary;
import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.nio.file.Path;

/** The agent binary as the machine needs it: a file beside its other images. */
final class AgentFiles {
    private AgentFiles() {}

    static Path extractAgent(Path dir) throws IOException {
        if (!AgentBinary.isAvailable()) {
            throw new IOException("this build of Vessel has no vessel-agent (build with ./mvnw package on a machine with gcc and libc6-dev)");
        }
        Path agent = AgentBinary.extractTo(dir);
        PrivateFiles.restrict(agent); // 0700: the machine's initramfs gives it its own mode
        return agent;
    }
}
