package dev.vessel.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerDetails;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerState;
import dev.vessel.container.ContainerSummary;
import dev.vessel.host.HostCapabilities;
import dev.vessel.image.Image;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.ImageSummary;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * {@code _ping}, {@code version} and {@code info} (what every client asks first), and {@code system
 * df}; {@code events} is {@link EventEndpoints}.
 */
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
                .add("GET", "/info", this::info)
                .add("GET", "/system/df", this::diskUsage);
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

    /** The kinds {@code GET /system/df?type=} takes (API 1.42). */
    private static final List<String> DF_TYPES = List.of("container", "image", "volume", "build-cache");

    /**
     * {@code docker system df}: the images and containers with what they take on disk (allocated
     * blocks: the blobs and root filesystem disk of an image, a container's writable disk), in
     * dockerd's shape before API 1.52. Vessel has no volumes and no build cache: empty lists.
     */
    private ApiResponse diskUsage(ApiRequest r) throws ApiException, IOException {
        List<String> types = r.query().get("type");
        if (types == null || r.version().compareTo(new ApiVersion(1, 42)) < 0) {
            types = DF_TYPES;
        }
        for (String t : types) {
            if (!DF_TYPES.contains(t)) {
                throw ApiException.badRequest("unknown object type: " + t);
            }
        }
        ObjectNode o = EngineApi.JSON.createObjectNode();
        ImageStore.Usage imageUsage = images.diskUsage();
        Map<String, Long> imageSizes = new HashMap<>();
        imageUsage.images().forEach(u -> imageSizes.put(u.image().id().toString(), u.size()));
        List<ContainerSummary> all = containers.list(true);
        if (types.contains("image")) {
            Map<String, Long> users = new HashMap<>();
            all.forEach(c -> users.merge(c.imageId(), 1L, Long::sum));
            if (imageUsage.total() > 0) {
                o.put("LayersSize", imageUsage.total()); // omitted when 0, as Go's omitempty
            }
            ArrayNode list = o.putArray("Images");
            for (ImageStore.ImageUsage u : imageUsage.images()) {
                Image img = u.image();
                ObjectNode i = ImageEndpoints.summary(img.id(), img.config().createdAt().orElse(null), u.size());
                img.references().forEach(ref -> ImageEndpoints.addName(i, ref));
                i.put("Containers", users.getOrDefault(img.id().toString(), 0L));
                i.set("Labels", EngineApi.JSON.valueToTree(new TreeMap<>(img.config().labels())));
                i.put("SharedSize", u.shared());
                list.add(i);
            }
        }
        if (types.contains("container")) {
            ArrayNode list = o.putArray("Containers");
            for (ContainerSummary s : all) {
                ContainerDetails d;
                long sizeRw;
                try {
                    d = containers.inspect(s.id());
                    sizeRw = containers.writableSize(s.id());
                } catch (ContainerException e) {
                    continue; // removed since the list was read
                }
                ObjectNode c = ContainerEndpoints.summary(s, d);
                // Both omitted when 0, as Go's omitempty; the root filesystem is the writable disk over the image's.
                if (sizeRw > 0) {
                    c.put("SizeRw", sizeRw);
                }
                long rootFs = sizeRw + imageSizes.getOrDefault(s.imageId(), 0L);
                if (rootFs > 0) {
                    c.put("SizeRootFs", rootFs);
                }
                list.add(c);
            }
        }
        if (types.contains("volume")) {
            o.putArray("Volumes");
        }
        if (types.contains("build-cache")) {
            o.putArray("BuildCache");
        }
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
