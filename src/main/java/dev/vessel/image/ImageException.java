package dev.vessel.image;

/**
 * A failure of the image store that the user can act on; its message is one line, worded the way
 * docker's daemon words it where docker has a word for it.
 */
public class ImageException extends Exception {
    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
