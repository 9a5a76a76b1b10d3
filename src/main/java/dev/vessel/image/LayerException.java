package dev.vessel.image;

/** A layer that cannot be applied: the message names the layer and the entry. */
public final class LayerException extends InvalidImageException {
    public LayerException(String layer, String entry, String problem) {
        super("layer " + layer + (entry != null ? ": entry \"" + entry + "\"" : "") + ": " + problem);
    }
}
