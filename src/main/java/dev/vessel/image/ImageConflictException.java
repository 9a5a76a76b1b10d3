package dev.vessel.image;

/** An image cannot be removed: a container uses it, or it has several names (docker's "conflict: ..."). */
public final class ImageConflictException extends ImageException {
    public ImageConflictException(String message) {
        super(message);
    }
}
