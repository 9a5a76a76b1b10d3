package dev.vessel.sys;

import java.io.IOException;

/** A TAP interface could not be opened or set up; the message is one line for the user, the cause the failed call. */
public final class TapException extends IOException {
    public TapException(String message, ErrnoException cause) {
        super(message, cause);
    }

    /** The errno of the failed call. */
    public int errno() {
        return ((ErrnoException) getCause()).errno();
    }
}
