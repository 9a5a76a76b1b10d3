package dev.vessel.memory;

/** An access named a guest-physical range that is not (wholly) guest RAM. */
public final class GuestMemoryException extends Exception {
    public GuestMemoryException(String message) {
        super(message);
    }
}
