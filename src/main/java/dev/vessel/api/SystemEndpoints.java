package dev.vessel.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerDetails;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerState;
import dev.vessel.container.ContainerSummary;
import dev.vessel.host.HostCapabilities;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.ImageSummary;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/** {@code _ping}, {@code version} and {@code info}: what every client asks first ({@code events} is {@link EventEndpoints}). */
final class SystemEndpoints {
    private final ContainerService containers;
    private final ImageStore images;
    private final Path stateRoot;

    SystemEndpoints(ContainerService containers, ImageStore images, Path stateRoot) {
        this.containers = containers;
        this.images = images;
        this.stateRoot = stateRoot;
    }

    void register(Router router) {
        router.add("GET", "/_ping", this::ping)
                .add("GET", "/version", r -> ApiResponse.ok(versionJson()))
                .add("GET", "/info", this::info);
    }

    /** Vessel's version, as its jar says it. */
    static String version() {
        String v = SystemEndpoints.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    /** {@code OK}, with the headers the CLI reads besides the usual ones ({@code HEAD} too). */
    private ApiResponse ping(ApiRequest r) {
        return new ApiResponse.Text(200, "OK", Map.of("Cache-Control", "no-cache, no-store, must-revalidate",
                "Pragma", "no-cache", "Swarm", "inactive"));
    }

    private static ObjectNode versionJson() {
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.putObject("Platform").put("Name", "Vessel");
        ObjectNode engine = o.putArray("Components").addObject();
        engine.put("Name", "Engine");
        engine.put("Version", version());
        ObjectNode details = engine.putObject("Details");
        details.put("ApiVersion", ApiVersion.CURRENT.toString());
        details.put("Arch", goArch());
        details.put("Experimental", "false");
        details.put("MinAPIVersion", ApiVersion.MINIMUM.toString());
        details.put("Os", "linux");
        details.put("KernelVersion", System.getProperty("os.version"));
        details.put("GoVersion", "none (Java " + Runtime.version() + ")");
        o.put("Version", version());
        o.put("ApiVersion", ApiVersion.CURRENT.toString());
        o.put("MinAPIVersion", ApiVersion.MINIMUM.toString());
        o.put("GitCommit", "");
        o.put("GoVersion", "none (Java " + Runtime.version() + ")");
        o.put("Os", "linux");
        o.put("Arch", goArch());
        o.put("KernelVersion", System.getProperty("os.version"));
        o.put("BuildTime", "");
        return o;
    }

    /** Go's name for this architecture ({@code amd64}), which docker prints. */
    private static String goArch() {
        String a = System.getProperty("os.arch");
        return a.equals("x86_64") ? "amd64" : a;
    }

    private ApiResponse info(ApiRequest r) throws ApiException, IOException {
        int running = 0;
        int stopped = 0;
        int total = 0;
        for (ContainerSummary c : containers.list(true)) {
            total++;
            if (c.running()) {
                running++;
            } else if (ContainerState.EXITED.equals(c.state().status())) {
                stopped++;
            }
        }
        long imageCount;
        try {
            imageCount = images.list().stream().map(ImageSummary::id).distinct().count();
        } catch (ImageException e) {
            throw ApiException.of(e);
        }
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("ID", UUID.nameUUIDFromBytes(stateRoot.toString().getBytes(StandardCharsets.UTF_8)).toString());
        o.put("Containers", total);
        o.put("ContainersRunning", running);
        o.put("ContainersPaused", 0);
        o.put("ContainersStopped", stopped);
        o.put("Images", imageCount);
        o.put("Driver", ContainerDetails.DRIVER);
        o.putArray("DriverStatus");
        ObjectNode plugins = o.putObject("Plugins");
        plugins.putArray("Volume");
        plugins.putArray("Network").add("bridge").add("none");
        plugins.putNull("Authorization");
        plugins.putArray("Log").add("local");
        o.put("MemoryLimit", true);
        o.put("SwapLimit", false);
        o.put("CpuCfsPeriod", false);
        o.put("CpuCfsQuota", false);
        o.put("CPUShares", false);
        o.put("CPUSet", false);
        o.put("PidsLimit", false);
        o.put("IPv4Forwarding", true);
        o.put("Debug", false);
        o.put("NFd", 0);
        o.put("OomKillDisable", false);
        o.put("NGoroutines", Thread.activeCount());
        o.put("SystemTime", Instant.now().toString());
        o.put("LoggingDriver", "local");
        o.put("CgroupDriver", "none");
        o.put("CgroupVersion", "2");
        o.put("NEventsListener", containers.events().followers());
        o.put("KernelVersion", System.getProperty("os.version"));
        o.put("OperatingSystem", operatingSystem());
        o.put("OSVersion", "");
        o.put("OSType", "linux");
        o.put("Architecture", System.getProperty("os.arch").equals("amd64") ? "x86_64" : System.getProperty("os.arch"));
        o.put("IndexServerAddress", "https://index.docker.io/v1/");
        o.put("NCPU", Runtime.getRuntime().availableProcessors());
        o.put("MemTotal", HostCapabilities.totalMemory());
        o.put("DockerRootDir", stateRoot.toString());
        o.put("Name", hostname());
        o.putArray("Labels");
        o.put("ExperimentalBuild", false);
        o.put("ServerVersion", version());
        o.putObject("Runtimes").putObject("vessel-microvm").put("path", "vessel");
        o.put("DefaultRuntime", "vessel-microvm");
        ObjectNode swarm = o.putObject("Swarm");
        swarm.put("NodeID", "");
        swarm.put("NodeAddr", "");
        swarm.put("LocalNodeState", "inactive");
        swarm.put("ControlAvailable", false);
        swarm.put("Error", "");
        swarm.putNull("RemoteManagers");
        o.put("LiveRestoreEnabled", false);
        o.put("Isolation", "");
        o.put("InitBinary", "");
        o.putArray("SecurityOptions");
        o.putArray("Warnings");
        return ApiResponse.ok(o);
    }

    private static String operatingSystem() {
        try {
            for (String line : Files.readAllLines(Path.of("/etc/os-release"))) {
                if (line.startsWith("PRETTY_NAME=")) {
                    return line.substring(12).replace("\"", "");
                }
            }
        } catch (IOException e) {
            // unknown: said as such below
        }
        return "Linux";
    }

    private static String hostname() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
