package dev.vessel.machine;

/** The helper machine could not be started, reached or used; the message says what to do. */
public class MachineException extends Exception {
    public MachineException(String message) {
        super(message);
    }

    public MachineException(String message, Throwable cause) {
        super(message, cause);
    }
}
