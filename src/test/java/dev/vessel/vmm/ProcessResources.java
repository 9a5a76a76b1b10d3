package dev.vessel.vmm;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What this process holds, from /proc/self: its open file descriptors (number and target), its
 * memory mappings and its threads. Taken before and after VMs come and go, it shows what they left.
 */
record ProcessResources(Map<Integer, String> fds, List<Mapping> mappings, int threads) {
    /** One line of /proc/self/maps. */
    record Mapping(long start, long end, String perms, String name) {
        long size() {
            return end - start;
        }

        @Override
        public String toString() {
            return Long.toHexString(start) + "-" + Long.toHexString(end) + " " + perms + " " + name
                    + " (" + (size() >> 10) + " KiB)";
        }
    }

    static ProcessResources now() throws IOException {
        Map<Integer, String> fds = new TreeMap<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : d) {
                try {
                    fds.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                } catch (IOException e) {
                    // the fd of this very listing, closed by now
                }
            }
        }
        List<Mapping> maps = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            String[] range = f[0].split("-");
            maps.add(new Mapping(Long.parseUnsignedLong(range[0], 16), Long.parseUnsignedLong(range[1], 16), f[1],
                    f.length > 5 ? f[5] : ""));
        }
        int threads;
        try (var t = Files.list(Path.of("/proc/self/task"))) {
            threads = (int) t.count();
        }
        return new ProcessResources(fds, maps, threads);
    }

    /** Mappings of KVM objects: each vCPU's kvm_run page. */
    List<Mapping> kvmMappings() {
        return mappings.stream().filter(m -> m.name().contains("kvm")).toList();
    }

    /** How many bytes of [start, end) are mapped. */
    long mappedWithin(long start, long end) {
        long n = 0;
        for (Mapping m : mappings) {
            long lo = Math.max(start, m.start());
            long hi = Math.min(end, m.end());
            if (hi > lo) {
                n += hi - lo;
            }
        }
        return n;
    }

    long mappedBytes() {
        return mappings.stream().mapToLong(Mapping::size).sum();
    }
}
