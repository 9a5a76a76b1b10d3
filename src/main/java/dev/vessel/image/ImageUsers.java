package dev.vessel.image;

import java.util.Optional;

/** Tells the store which container, if any, uses an image (by image id): removing it is then refused. */
@FunctionalInterface
public interface ImageUsers {
    ImageUsers NONE = id -> Optional.empty();

    Optional<Container> containerUsing(Digest imageId);

    /** A container using an image: its 64-hex id and whether it runs. */
    record Container(String id, boolean running) {
        public String shortId() {
            return id.length() > 12 ? id.substring(0, 12) : id;
        }
    }
}
