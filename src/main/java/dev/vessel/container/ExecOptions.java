package dev.vessel.container;

import java.util.List;
import java.util.Objects;

/**
 * Another process in a running container ({@code docker exec}; the Engine API's exec create).
 *
 * @param cmd the argv, not empty
 * @param env {@code NAME=VALUE}, over the container's own
 * @param workdir absolute, or null for the container's
 * @param user {@code user[:group]}, or null for the container's
 * @param tty a pseudo-terminal of {@code rows} x {@code cols} (0: 24 x 80)
 * @param rows the terminal's rows
 * @param cols the terminal's columns
 * @param terminalType TERM for a tty when neither the container nor {@code env} sets it; null: xterm
 */
public record ExecOptions(List<String> cmd, List<String> env, String workdir, String user, boolean tty,
                          int rows, int cols, String terminalType) {
    public ExecOptions {
        cmd = List.copyOf(Objects.requireNonNull(cmd, "cmd"));
        env = env == null ? List.of() : List.copyOf(env);
    }

    public static ExecOptions of(List<String> cmd) {
        return new ExecOptions(cmd, List.of(), null, null, false, 0, 0, null);
    }
}
