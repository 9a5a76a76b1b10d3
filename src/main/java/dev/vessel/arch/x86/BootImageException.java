package dev.vessel.arch.x86;

/** A kernel or initrd image that cannot be booted; the message says why, in one line. */
public final class BootImageException extends Exception {
    public BootImageException(String message) {
        super(message);
    }
}
