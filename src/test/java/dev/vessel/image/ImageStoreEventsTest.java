package dev.vessel.image;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import dev.vessel.host.StateRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The image store records its changes as dockerd does: import, tag, untag and delete, by the image's id. */
class ImageStoreEventsTest {
    @TempDir
    Path dir;

    @Test
    void importTagAndRemovalAreRecordedByTheImagesId() throws Exception {
        StateRoot root = StateRoot.resolve(dir.resolve("root"));
        ImageStore store = ImageStore.open(root);
        byte[] rootfs = Tars.tar().file("hello", "hi").bytes();
        Image image = store.importRootfs(new ByteArrayInputStream(rootfs), "team/app:1", List.of("LABEL team=a"), null);
        String id = image.id().toString();
        store.tag("team/app:1", "team/app:2");
        store.remove("team/app:2", false, imageId -> Optional.empty());
        store.remove(id, true, imageId -> Optional.empty());

        List<Event> seen = EventJournal.open(root).read(0).events();
        assertEquals(List.of("import " + id, "tag " + id, "untag " + id, "untag " + id, "delete " + id),
                seen.stream().map(e -> e.action() + " " + e.actorId()).toList());
        assertEquals(Map.of("name", id, "team", "a"), seen.get(0).attributes(), "the image's labels too");
        assertEquals(Map.of("name", "team/app:2", "team", "a"), seen.get(1).attributes(), "the new name");
        assertEquals(Map.of("name", id), seen.getLast().attributes(), "a deleted image has no labels left");
        seen.forEach(e -> assertEquals(Event.IMAGE, e.type()));
    }
}
