package dev.vessel.cli;

/** A failure caused by what the user asked for (bad file, bad size): reported in one line with its status. */
final class UserError extends Exception {
    private final int status;

    UserError(String message) {
        this(message, 2);
    }

    UserError(String message, int status) {
        super(message);
        this.status = status;
    }

    int status() {
        return status;
    }
}
