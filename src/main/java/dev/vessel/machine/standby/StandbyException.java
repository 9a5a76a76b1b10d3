package dev.vessel.machine.standby;

/** A standby cannot serve as asked; the message says why. */
public final class StandbyException extends Exception {
    public StandbyException(String message) {
        super(message);
    }
}
