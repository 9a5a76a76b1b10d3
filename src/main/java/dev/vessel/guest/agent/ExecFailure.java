package dev.vessel.guest.agent;

/**
 * Why the agent could not start a process ('F' frame): a Linux errno and the agent's message, e.g. {@code 2, "exec
 * foo: No such file or directory"}.
 */
public record ExecFailure(int errno, String message) {
    public ExecFailure {
        message = message == null ? "" : message;
    }

    /** The exit status a shell or docker would report: 127 for "not found" (ENOENT), else 126. */
    public int exitStatus() {
        return AgentProtocol.exitStatusFor(errno);
    }
}
