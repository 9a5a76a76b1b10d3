package dev.vessel.image;

/**
 * An image, archive or layer that is malformed, corrupt or hostile: a digest that does not match,
 * JSON that does not parse, a layer entry escaping the root. Nothing of it is kept in the store.
 */
public class InvalidImageException extends ImageException {
    public InvalidImageException(String message) {
        super(message);
    }

    public InvalidImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
