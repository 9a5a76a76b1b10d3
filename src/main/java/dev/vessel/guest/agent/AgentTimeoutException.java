package dev.vessel.guest.agent;

import java.io.IOException;

/** The agent did not answer in time: it accepted a connection but not the hello, or never got ready. */
public final class AgentTimeoutException extends IOException {
    public AgentTimeoutException(String message) {
        super(message);
    }

    public AgentTimeoutException(String message, Throwable cause) {
        super(message, cause);
    }
}
