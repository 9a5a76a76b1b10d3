package dev.vessel.image;

import com.fasterxml.jackson.core.type.TypeReference;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code docker import}: a root filesystem tarball becomes a one-layer image. Like docker, the
 * config has no Cmd or Env of its own (a container of it needs a command) unless {@code -c}
 * changes give them; the layer is stored uncompressed.
 */
final class RootfsImporter {
    private RootfsImporter() {}

    static Image importRootfs(ImageStore store, InputStream tarball, String reference, List<String> changes, String message)
            throws IOException, ImageException {
        Reference ref = reference == null ? null : Reference.parse(reference);
        if (ref != null && ref.isDigest()) {
            throw new InvalidReferenceException("refusing to create a tag with a digest reference");
        }
        ImageConfig.Config config = applyChanges(ImageConfig.Config.EMPTY, changes);
        try (Ingest ingest = store.ingest()) {
            Digest layer;
            long size;
            try (InputStream in = ArchiveLoader.decompressed(new BufferedInputStream(tarball, 1 << 16))) {
                layer = ingest.putBlob(in, null, -1, "tarball");
                size = ingest.size(layer);
            }
            String now = DateTimeFormatter.ISO_INSTANT.format(Instant.now().atOffset(ZoneOffset.UTC));
            ImageConfig c = new ImageConfig(now, null, "amd64", null, "linux", config,
                    new ImageConfig.RootFs("layers", List.of(layer)),
                    List.of(new ImageConfig.History(now, null, message != null && !message.isEmpty() ? message : "Imported from -", null)));
            Descriptor cd = ingest.putJson(c, MediaTypes.OCI_CONFIG);
            Descriptor md = ingest.putJson(Manifest.oci(cd, List.of(Descriptor.of(MediaTypes.OCI_LAYER, layer, size))), MediaTypes.OCI_MANIFEST);
            try {
                return ingest.commit(md.digest(), ref == null ? List.of() : List.of(ref));
            } catch (LayerException e) {
                throw e;
            } catch (InvalidImageException e) {
                throw new InvalidImageException("invalid tarball: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Applies Dockerfile-style changes ({@code docker import -c}): CMD, ENTRYPOINT (JSON array or
     * shell form), ENV, EXPOSE, USER, WORKDIR, LABEL, VOLUME, STOPSIGNAL, HEALTHCHECK.
     */
    static ImageConfig.Config applyChanges(ImageConfig.Config c, List<String> changes) throws ImageException {
        if (changes == null) {
            return c;
        }
        String user = c.user();
        Map<String, Object> ports = c.exposedPorts() == null ? null : new LinkedHashMap<>(c.exposedPorts());
        List<String> env = c.env() == null ? null : new ArrayList<>(c.env());
        List<String> entrypoint = c.entrypoint();
        List<String> cmd = c.cmd();
        Map<String, Object> volumes = c.volumes() == null ? null : new LinkedHashMap<>(c.volumes());
        String workdir = c.workingDir();
        Map<String, String> labels = c.labels() == null ? null : new LinkedHashMap<>(c.labels());
        String stop = c.stopSignal();
        HealthConfig health = c.healthcheck();
        for (String change : changes) {
            String s = change.strip();
            if (s.isEmpty()) {
                continue;
            }
            int sp = indexOfSpace(s);
            String word = (sp < 0 ? s : s.substring(0, sp)).toUpperCase(Locale.ROOT);
            String rest = sp < 0 ? "" : s.substring(sp + 1).strip();
            switch (word) {
                case "CMD" -> cmd = command(rest);
                case "ENTRYPOINT" -> entrypoint = command(rest);
                case "ENV" -> {
                    env = env == null ? new ArrayList<>() : env;
                    for (String[] kv : pairs(rest, "ENV")) {
                        String key = kv[0];
                        env.removeIf(e -> e.startsWith(key + "="));
                        env.add(key + "=" + kv[1]);
                    }
                }
                case "LABEL" -> {
                    labels = labels == null ? new LinkedHashMap<>() : labels;
                    for (String[] kv : pairs(rest, "LABEL")) {
                        labels.put(kv[0], kv[1]);
                    }
                }
                case "EXPOSE" -> {
                    ports = ports == null ? new LinkedHashMap<>() : ports;
                    for (String p : rest.split("\\s+")) {
                        if (!p.matches("[0-9]{1,5}(-[0-9]{1,5})?(/(tcp|udp|sctp))?")) {
                            throw new ImageException("invalid port: " + p);
                        }
                        ports.put(p.contains("/") ? p : p + "/tcp", Map.of());
                    }
                }
                case "USER" -> user = rest;
                case "WORKDIR" -> workdir = rest;
                case "STOPSIGNAL" -> stop = rest;
                case "HEALTHCHECK" -> health = healthcheck(rest);
                case "VOLUME" -> {
                    volumes = volumes == null ? new LinkedHashMap<>() : volumes;
                    for (String v : rest.startsWith("[") ? jsonArray(rest) : List.of(rest.split("\\s+"))) {
                        volumes.put(v, Map.of());
                    }
                }
                default -> throw new ImageException(word + " is not a valid change command");
            }
        }
        return new ImageConfig.Config(user, ports, env, entrypoint, cmd, volumes, workdir, labels, stop, health);
    }

    /**
     * The Dockerfile's {@code HEALTHCHECK [--interval=D --timeout=D --start-period=D
     * --start-interval=D --retries=N] CMD command} (a JSON array: {@code CMD}, else {@code
     * CMD-SHELL}) or {@code HEALTHCHECK NONE}, with BuildKit's messages.
     */
    static HealthConfig healthcheck(String rest) throws ImageException {
        Map<String, String> flags = new LinkedHashMap<>();
        String s = rest;
        while (s.startsWith("--")) {
            int sp = indexOfSpace(s);
            String flag = sp < 0 ? s : s.substring(0, sp);
            int eq = flag.indexOf('=');
            String name = eq < 0 ? flag.substring(2) : flag.substring(2, eq);
            if (!List.of("interval", "timeout", "start-period", "start-interval", "retries").contains(name)) {
                throw new ImageException("Unknown flag: " + name);
            }
            if (eq < 0) {
                throw new ImageException("Missing a value on flag: " + flag);
            }
            flags.put(name, flag.substring(eq + 1));
            s = sp < 0 ? "" : s.substring(sp + 1).strip();
        }
        if (s.isEmpty()) {
            throw new ImageException("HEALTHCHECK requires at least one argument");
        }
        int sp = indexOfSpace(s);
        String type = (sp < 0 ? s : s.substring(0, sp)).toUpperCase(Locale.ROOT);
        String command = sp < 0 ? "" : s.substring(sp + 1).strip();
        if (type.equals("NONE")) {
            if (!command.isEmpty() || !flags.isEmpty()) {
                throw new ImageException("HEALTHCHECK NONE takes no arguments");
            }
            return HealthConfig.NONE;
        }
        if (!type.equals("CMD")) {
            throw new ImageException("Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
        }
        List<String> test = new ArrayList<>();
        if (command.startsWith("[")) {
            test.add("CMD");
            test.addAll(jsonArray(command));
        } else {
            test.add("CMD-SHELL");
            test.add(command);
        }
        if (test.size() < 2 || command.isEmpty()) {
            throw new ImageException("Missing command after HEALTHCHECK CMD");
        }
        int retries = 0;
        String r = flags.get("retries");
        if (r != null && !r.isEmpty()) {
            try {
                retries = Integer.parseInt(r);
            } catch (NumberFormatException e) {
                throw new ImageException("strconv.ParseInt: parsing \"" + r + "\": invalid syntax");
            }
            if (retries < 0) {
                throw new ImageException("--retries cannot be negative (" + retries + ")");
            }
        }
        return new HealthConfig(test, interval(flags, "interval"), interval(flags, "timeout"),
                interval(flags, "start-period"), interval(flags, "start-interval"), retries);
    }

    /** A HEALTHCHECK duration flag: 0 when absent, else at least docker's 1ms. */
    private static long interval(Map<String, String> flags, String name) throws ImageException {
        String v = flags.get(name);
        if (v == null || v.isEmpty()) {
            return 0;
        }
        long d;
        try {
            d = GoDuration.parse(v);
        } catch (IllegalArgumentException e) {
            throw new ImageException(e.getMessage());
        }
        if (d != 0 && d < HealthConfig.MINIMUM_DURATION) {
            throw new ImageException("Interval \"" + name + "\" cannot be less than "
                    + GoDuration.format(HealthConfig.MINIMUM_DURATION));
        }
        return d;
    }

    private static int indexOfSpace(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isWhitespace(s.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    private static List<String> command(String rest) throws ImageException {
        if (rest.startsWith("[")) {
            return jsonArray(rest);
        }
        return List.of("/bin/sh", "-c", rest);
    }

    private static List<String> jsonArray(String s) throws ImageException {
        try {
            return Json.MAPPER.readValue(s, new TypeReference<List<String>>() {});
        } catch (IOException e) {
            throw new ImageException("invalid JSON array: " + s);
        }
    }

    /** {@code KEY=VALUE ...} (values may be double-quoted) or the old {@code KEY VALUE} form. */
    private static List<String[]> pairs(String rest, String what) throws ImageException {
        List<String[]> out = new ArrayList<>();
        int eq = rest.indexOf('=');
        int sp = indexOfSpace(rest);
        if (eq < 0 || (sp >= 0 && sp < eq)) {
            if (sp < 0) {
                throw new ImageException(what + " requires at least one argument");
            }
            out.add(new String[] {rest.substring(0, sp), rest.substring(sp + 1).strip()});
            return out;
        }
        int i = 0;
        while (i < rest.length()) {
            while (i < rest.length() && Character.isWhitespace(rest.charAt(i))) {
                i++;
            }
            if (i >= rest.length()) {
                break;
            }
            int e = rest.indexOf('=', i);
            if (e < 0) {
                throw new ImageException(what + " names a key without a value: " + rest.substring(i));
            }
            String key = rest.substring(i, e);
            i = e + 1;
            StringBuilder v = new StringBuilder();
            if (i < rest.length() && rest.charAt(i) == '"') {
                i++;
                while (i < rest.length() && rest.charAt(i) != '"') {
                    if (rest.charAt(i) == '\\' && i + 1 < rest.length()) {
                        i++;
                    }
                    v.append(rest.charAt(i++));
                }
                i++;
            } else {
                while (i < rest.length() && !Character.isWhitespace(rest.charAt(i))) {
                    v.append(rest.charAt(i++));
                }
            }
            out.add(new String[] {key, v.toString()});
        }
        return out;
    }
}
