package dev.vessel.guest.agent;

import java.io.IOException;

/** The agent accepted the connection but did not answer the hello in time: it (or its machine) is hung. */
public final class AgentTimeoutException extends IOException {
    public AgentTimeoutException(String message, Throwable cause) {
        super(message, cause);
    }
}
