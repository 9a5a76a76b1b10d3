package dev.vessel.guest.agent;

import java.io.IOException;

/** The peer broke the vessel-agent protocol (bad frame type, oversized or truncated frame, malformed payload). */
public class AgentProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public AgentProtocolException(String message) {
        super(message);
    }
}
