package dev.vessel.guest.agent;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * What to run through the agent.
 *
 * @param argv the command and its arguments (at least one; argv[0] non-empty); argv[0] is looked up in the PATH of
 *     {@code env} (the agent falls back to /bin:/usr/bin) unless it contains a '/'
 * @param env the exact environment of the process (plus the agent's own when {@code inheritEnv}); order is kept
 * @param cwd absolute working directory, or null for the agent's
 * @param tty whether to run on a pseudo-terminal (stdout and stderr then arrive merged as stdout)
 * @param rows initial terminal rows (only with tty)
 * @param cols initial terminal columns (only with tty)
 * @param uid numeric user id to run as, or empty for the agent's
 * @param gid numeric group id to run as, or empty for the agent's
 * @param inheritEnv start from the agent's environment, overridden by {@code env}
 * @param user docker's {@code --user}: {@code NAME|UID[:GROUP|GID]}, resolved by the agent against the
 *     process root's /etc/passwd and /etc/group; null for none (exclusive with uid/gid)
 * @param builtin one of the agent's {@link #BUILTINS} to run instead of argv[0] (argv are its
 *     arguments), or null to execute argv[0]
 */
public record ExecRequest(
        List<String> argv,
        Map<String, String> env,
        String cwd,
        boolean tty,
        int rows,
        int cols,
        OptionalLong uid,
        OptionalLong gid,
        boolean inheritEnv,
        String user,
        String builtin) {

    private static final long MAX_ID = 4294967294L;

    /** The agent's builtins: {@code docker cp}'s three (protocol.h, {@link ArchiveRecord}), and top's and stats'. */
    public static final java.util.Set<String> BUILTINS = java.util.Set.of("archive-stat", "archive-get", "archive-put",
            "proc-list", "proc-stats");

    public ExecRequest {
        argv = List.copyOf(argv);
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("argv must not be empty");
        }
        if (argv.getFirst().isEmpty()) {
            throw new IllegalArgumentException("argv[0] must not be empty");
        }
        for (String a : argv) {
            noNul("argument", a);
        }
        env = Collections.unmodifiableMap(new LinkedHashMap<>(env == null ? Map.of() : env));
        for (Map.Entry<String, String> e : env.entrySet()) {
            String name = e.getKey();
            if (name == null || name.isEmpty() || name.indexOf('=') >= 0) {
                throw new IllegalArgumentException("bad environment variable name: " + name);
            }
            noNul("environment variable name", name);
            if (e.getValue() == null) {
                throw new IllegalArgumentException("environment variable " + name + " has no value");
            }
            noNul("environment variable " + name, e.getValue());
        }
        if (cwd != null) {
            if (!cwd.startsWith("/")) {
                throw new IllegalArgumentException("cwd must be absolute: " + cwd);
            }
            noNul("cwd", cwd);
        }
        if (rows < 0 || rows > 65535 || cols < 0 || cols > 65535) {
            throw new IllegalArgumentException("terminal size out of range: " + rows + "x" + cols);
        }
        uid = uid == null ? OptionalLong.empty() : uid;
        gid = gid == null ? OptionalLong.empty() : gid;
        checkId("uid", uid);
        checkId("gid", gid);
        if (builtin != null && !BUILTINS.contains(builtin)) {
            throw new IllegalArgumentException("vessel-agent has no builtin " + builtin);
        }
        if (user != null) {
            if (user.isEmpty() || user.length() > 256) {
                throw new IllegalArgumentException("user must be 1..256 characters");
            }
            noNul("user", user);
            if (uid.isPresent() || gid.isPresent()) {
                throw new IllegalArgumentException("give user, or uid/gid, not both");
            }
        }
    }

    private static void noNul(String what, String s) {
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what + " contains a NUL character");
        }
    }

    private static void checkId(String what, OptionalLong id) {
        if (id.isPresent() && (id.getAsLong() < 0 || id.getAsLong() > MAX_ID)) {
            throw new IllegalArgumentException(what + " out of range 0.." + MAX_ID + ": " + id.getAsLong());
        }
    }

    /** A request without tty, with an empty environment, in the agent's working directory. */
    public static ExecRequest of(String... argv) {
        return of(List.of(argv));
    }

    public static ExecRequest of(List<String> argv) {
        return new ExecRequest(argv, Map.of(), null, false, AgentProtocol.DEFAULT_ROWS, AgentProtocol.DEFAULT_COLS,
                OptionalLong.empty(), OptionalLong.empty(), false, null, null);
    }

    public ExecRequest withEnv(Map<String, String> newEnv) {
        return new ExecRequest(argv, newEnv, cwd, tty, rows, cols, uid, gid, inheritEnv, user, builtin);
    }

    public ExecRequest withCwd(String newCwd) {
        return new ExecRequest(argv, env, newCwd, tty, rows, cols, uid, gid, inheritEnv, user, builtin);
    }

    /** Runs on a pseudo-terminal of the given size. */
    public ExecRequest withTty(int newRows, int newCols) {
        return new ExecRequest(argv, env, cwd, true, newRows, newCols, uid, gid, inheritEnv, user, builtin);
    }

    public ExecRequest withoutTty() {
        return new ExecRequest(argv, env, cwd, false, rows, cols, uid, gid, inheritEnv, user, builtin);
    }

    public ExecRequest withUser(long newUid, long newGid) {
        return new ExecRequest(argv, env, cwd, tty, rows, cols, OptionalLong.of(newUid), OptionalLong.of(newGid),
                inheritEnv, user, builtin);
    }

    public ExecRequest withUid(long newUid) {
        return new ExecRequest(argv, env, cwd, tty, rows, cols, OptionalLong.of(newUid), gid, inheritEnv, user, builtin);
    }

    /** Runs as docker's {@code --user} value ({@code NAME|UID[:GROUP|GID]}), resolved in the guest. */
    public ExecRequest withUserSpec(String spec) {
        return new ExecRequest(argv, env, cwd, tty, rows, cols, OptionalLong.empty(), OptionalLong.empty(), inheritEnv, spec, builtin);
    }

    public ExecRequest withInheritEnv(boolean inherit) {
        return new ExecRequest(argv, env, cwd, tty, rows, cols, uid, gid, inherit, user, builtin);
    }

    /** Runs the agent's builtin {@code name} with {@code args} instead of a program. */
    public ExecRequest withBuiltin(String name) {
        return new ExecRequest(argv, env, cwd, tty, rows, cols, uid, gid, inheritEnv, user, name);
    }
}
