package dev.vessel.registry;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.image.DockerFormat;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * docker's pull output. On a terminal each layer has a line that is rewritten in place
 * ({@code Downloading [=====>     ] 1.2MB/5MB}); otherwise every status change is a line of its
 * own and download progress is not shown; quiet shows nothing. Thread-safe: layers report from
 * their download threads.
 */
public final class PullProgress {
    /**
     * TERMINAL and PLAIN: docker's text; QUIET: nothing; JSON: the Engine API's progress messages,
     * one object a line ({@code {"status":"Pull complete","id":"a3ed95caeb02"}}), which the docker
     * CLI draws as it draws dockerd's.
     */
    public enum Mode { TERMINAL, PLAIN, QUIET, JSON }

    private static final ObjectMapper JSON = new ObjectMapper();

    private static final int BAR_WIDTH = 50;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintStream out;
    private final Mode mode;
    private final List<String> ids = new ArrayList<>();
    private final Map<String, Long> lastDraw = new HashMap<>();

    public PullProgress(PrintStream out, Mode mode) {
        this.out = out;
        this.mode = mode;
    }

    /** Nothing shown (for tests and {@code -q}). */
    public static PullProgress quiet() {
        return new PullProgress(System.out, Mode.QUIET);
    }

    /** A line of its own: {@code latest: Pulling from library/ubuntu}, {@code Digest: ...}. */
    public synchronized void line(String text) {
        if (mode == Mode.JSON) {
            json(JSON.createObjectNode().put("status", text));
        } else if (mode != Mode.QUIET) {
            out.println(text);
            out.flush();
        }
    }

    /** A layer's new status: {@code Pulling fs layer}, {@code Download complete}, {@code Pull complete}. */
    public synchronized void status(String id, String status) {
        show(id, status);
    }

    /** A layer's download progress (shown on a terminal only, at most ten times a second per layer). */
    public synchronized void downloading(String id, long done, long total) {
        if (mode != Mode.TERMINAL && mode != Mode.JSON) {
            return;
        }
        long now = System.nanoTime();
        Long last = lastDraw.get(id);
        if (last != null && now - last < REDRAW_NANOS && done < total) {
            return;
        }
        lastDraw.put(id, now);
        if (mode == Mode.JSON) {
            ObjectNode o = JSON.createObjectNode().put("status", "Downloading");
            o.putObject("progressDetail").put("current", done).put("total", total);
            json(o.put("progress", bar(done, total)).put("id", id));
            return;
        }
        show(id, "Downloading " + bar(done, total));
    }

    private void show(String id, String status) {
        switch (mode) {
            case QUIET -> { }
            case JSON -> json(JSON.createObjectNode().put("status", status).put("id", id));
            case PLAIN -> {
                out.println(id + ": " + status);
                out.flush();
            }
            case TERMINAL -> {
                int at = ids.indexOf(id);
                if (at < 0) {
                    ids.add(id);
                    out.print(id + ": " + status + "\n");
                } else {
                    int up = ids.size() - at;
                    // Up to the layer's line, rewrite it, back down.
                    out.print("\033[" + up + "A\r\033[2K" + id + ": " + status + "\r\033[" + up + "B");
                }
                out.flush();
            }
        }
    }

    /** A failed pull, as dockerd ends its progress stream with it (JSON mode; a line otherwise). */
    public synchronized void error(String message) {
        if (mode == Mode.JSON) {
            ObjectNode o = JSON.createObjectNode();
            o.putObject("errorDetail").put("message", message);
            json(o.put("error", message));
        } else if (mode != Mode.QUIET) {
            out.println(message);
            out.flush();
        }
    }

    private void json(ObjectNode message) {
        out.print(message + "\r\n");
        out.flush();
    }

    /** {@code [=====>      ]  1.2MB/5MB}, as docker draws it. */
    static String bar(long done, long total) {
        if (total <= 0) {
            return human(done);
        }
        int filled = (int) Math.min(BAR_WIDTH, done * BAR_WIDTH / total);
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < BAR_WIDTH; i++) {
            sb.append(i < filled ? '=' : i == filled ? '>' : ' ');
        }
        return sb.append("]  ").append(human(done)).append('/').append(human(total)).toString();
    }

    /** Decimal sizes with four significant digits: {@code 1.234MB}, {@code 512B}, as docker prints them. */
    static String human(long bytes) {
        return DockerFormat.humanSize(bytes, 4);
    }
}
