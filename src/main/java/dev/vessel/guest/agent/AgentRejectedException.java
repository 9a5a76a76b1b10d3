package dev.vessel.guest.agent;

import java.io.IOException;

/** The agent refused the connection during the hello (wrong token, ...), answering with a failure frame. */
public class AgentRejectedException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient ExecFailure failure;

    public AgentRejectedException(ExecFailure failure) {
        super("vessel-agent rejected the connection: " + failure.message() + " (errno " + failure.errno() + ")");
        this.failure = failure;
    }

    public ExecFailure failure() {
        return failure;
    }
}
