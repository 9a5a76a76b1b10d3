package dev.vessel.image;

/** A malformed image reference; the message is docker's ("invalid reference format ..."). */
public final class InvalidReferenceException extends ImageException {
    public InvalidReferenceException(String message) {
        super(message);
    }
}
