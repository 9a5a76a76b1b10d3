package dev.vessel.machine;

import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.nio.file.Path;

/** The helper machine's files on the host: images, pid file, port, token, console log. */
record MachineDirectory(Path path) {
    static MachineDirectory at(Path path) throws IOException {
        PrivateFiles.createDirectories(path);
        return new MachineDirectory(path);
    }

    Path pidFile() {
        return path.resolve("qemu.pid");
    }

    Path portFile() {
        return path.resolve("port");
    }

    Path tokenFile() {
        return path.resolve("token");
    }

    Path consoleLog() {
        return path.resolve("console.log");
    }

    /** The signature of the image the running machine booted from ({@link MachineImage#signature}). */
    Path imageFile() {
        return path.resolve("image");
    }

    Path lockFile() {
        return path.resolve("lock");
    }
}
