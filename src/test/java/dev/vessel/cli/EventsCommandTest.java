package dev.vessel.cli;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import dev.vessel.host.StateRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `vessel events`: docker's lines, its --format and --filter, and the recorded events between two times. */
class EventsCommandTest {
    private static final long NOON = Instant.parse("2026-12-07T12:00:00Z").getEpochSecond() * 1_000_000_000L;
    private static final Event START = Event.of(Event.CONTAINER, "start", "c0ffee",
            Map.of("name", "foo", "image", "busybox")).at(NOON + 5);

    @TempDir
    Path dir;

    @Test
    void theLineIsDockersWithItsTimeInTheLocalZone() {
        assertEquals("2026-12-07T12:00:00.000000005Z container start c0ffee (image=busybox, name=foo)",
                EventsCommand.line(START, ZoneId.of("UTC")));
        assertEquals("2026-12-07T13:00:00.000000005+01:00 container start c0ffee (image=busybox, name=foo)",
                EventsCommand.line(START, ZoneId.of("Europe/Paris")));
        assertEquals("1970-01-01T00:00:00.000000001Z image delete sha256:ab",
                EventsCommand.line(Event.of(Event.IMAGE, "delete", "sha256:ab", Map.of()).at(1), ZoneId.of("UTC")));
    }

    @Test
    void formatTakesJsonAndFieldsOfDockersEvent() throws Exception {
        String json = START.toJsonLine();
        assertEquals(json, EventsCommand.Template.parse("{{json .}}").render(START));
        assertEquals(json, EventsCommand.Template.parse("json").render(START));
        assertEquals("start foo busybox", EventsCommand.Template.parse("{{.Action}} {{.Actor.Attributes.name}} {{.From}}")
                .render(START));
        assertEquals("c0ffee start container local 1796644800 " + (NOON + 5),
                EventsCommand.Template.parse("{{.ID}} {{.Status}} {{.Type}} {{.Scope}} {{.Time}} {{.TimeNano}}").render(START));
        assertEquals("{\"image\":\"busybox\",\"name\":\"foo\"} map[image:busybox name:foo] {c0ffee map[image:busybox name:foo]}",
                EventsCommand.Template.parse("{{json .Actor.Attributes}} {{.Actor.Attributes}} {{ .Actor }}").render(START));
        assertEquals("<no value> null", EventsCommand.Template.parse("{{.Nope}} {{json .Nope}}").render(START));
        UserError e = assertThrows(UserError.class, () -> EventsCommand.Template.parse("{{if .Action}}x{{end}}"));
        assertEquals(125, e.status());
    }

    @Test
    void filtersAreKeyEqualsValue() throws Exception {
        assertEquals(Map.of("type", List.of("container", "image"), "label", List.of("a=b")),
                EventsCommand.filters(List.of("type=container", "label=a=b", "type=image")));
        UserError e = assertThrows(UserError.class, () -> EventsCommand.filters(List.of("container")));
        assertEquals("invalid argument \"container\" for \"-f, --filter\" flag: bad format of filter (expected name=value)",
                e.getMessage());
        assertEquals(125, e.status());
    }

    private CliRun vessel(String... args) {
        return CliRun.vessel(dir.resolve("state"), args);
    }

    @Test
    void sinceAndAPastUntilPrintTheRecordedEventsAndEnd() throws Exception {
        EventJournal journal = EventJournal.open(StateRoot.resolve(dir.resolve("state")));
        journal.append(Event.of(Event.CONTAINER, "create", "c1", Map.of("name", "web", "image", "busybox")));
        journal.append(Event.of(Event.NETWORK, "create", "n1", Map.of("name", "back", "type", "bridge")));
        journal.append(Event.of(Event.CONTAINER, "destroy", "c1", Map.of("name", "web", "image", "busybox")));
        Instant now = Instant.now(); // after the events, and past by the time the command looks
        String until = now.getEpochSecond() + "." + String.format("%09d", now.getNano());

        CliRun all = vessel("events", "--since", "10m", "--until", until, "--filter", "type=container", "--format",
                "{{.Action}} {{.Actor.Attributes.name}}");
        assertEquals(0, all.status(), all.toString());
        assertEquals("create web\ndestroy web\n", all.out());
        CliRun lines = vessel("events", "--since", "0", "--until", until, "-f", "network=back");
        assertTrue(lines.out().matches("\\S+ network create n1 \\(name=back, type=bridge\\)\n"), lines.out());

        CliRun bad = vessel("events", "--since", "yesterday");
        assertEquals(1, bad.status());
        assertEquals("vessel: failed to parse value as time or duration: \"yesterday\"\n", bad.err());
        CliRun badFilter = vessel("events", "--until", until, "--filter", "colour=red");
        assertEquals(1, badFilter.status());
        assertEquals("vessel: invalid filter 'colour'\n", badFilter.err());
    }
}
