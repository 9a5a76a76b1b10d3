package dev.vessel.image;

/** No image answers to a reference or id: "No such image: busybox:latest", as docker says it. */
public final class NoSuchImageException extends ImageException {
    private final String reference;

    public NoSuchImageException(String reference) {
        super("No such image: " + reference);
        this.reference = reference;
    }

    /** The reference as the user wrote it, normalised to docker's familiar form with a tag. */
    public String reference() {
        return reference;
    }
}
