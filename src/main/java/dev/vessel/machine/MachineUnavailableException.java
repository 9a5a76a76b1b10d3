package dev.vessel.machine;

/**
 * The helper machine cannot be used at all: it did not start, or this Vessel cannot run in it. A
 * command that needs it cannot run (the CLI's exit status 125), unlike one that failed in it.
 */
public final class MachineUnavailableException extends MachineException {
    public MachineUnavailableException(String message) {
        super(message);
    }

    public MachineUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
