package dev.vessel.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.events.Event;
import dev.vessel.events.EventFilter;
import dev.vessel.events.EventJournal;
import dev.vessel.events.EventTime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.PrintStream;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** `vessel events`: what happens to containers, images and networks, as docker prints it. */
@Command(name = "events", mixinStandardHelpOptions = true,
        description = {"Show what happens to containers, images and networks, as it happens (Ctrl-C ends it).",
                "With --since or --until the recorded events between them come first; with an --until that has "
                        + "passed, only those."},
        footer = {"", "Times: Unix seconds, RFC 3339 (2026-12-07T12:00:00Z; without a zone, this host's), or a duration "
                + "back from now (10m, 1h30m).",
                "Filters: type, event, container, image, network, label (KEY or KEY=VALUE); a key given twice takes "
                        + "either value.",
                "Exit status: 0; 1 for a bad time or filter; 125 for a filter that is not KEY=VALUE."})
final class EventsCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Go's {@code 2006-01-02T15:04:05.000000000Z07:00}, which docker prints events' times with. */
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX");

    @ParentCommand
    Main main;

    @Option(names = "--since", paramLabel = "TIME", description = "Show the events from this time on.")
    String since;

    @Option(names = "--until", paramLabel = "TIME", description = "Stream events until this time.")
    String until;

    @Option(names = {"-f", "--filter"}, paramLabel = "KEY=VALUE", description = "Show only the events that match.")
    List<String> filters = new ArrayList<>();

    @Option(names = "--format", paramLabel = "FORMAT",
            description = "'{{json .}}' (or 'json'): each event as docker's JSON; or a template of {{.Field}} and "
                    + "{{json .Field}}, such as '{{.Action}} {{.Actor.Attributes.name}}'.")
    String format;

    @Override
    public Integer call() throws Exception {
        Instant now = Instant.now();
        Instant from = time(since, now);
        Instant to = time(until, now);
        EventFilter filter;
        try {
            filter = EventFilter.of(filters(filters));
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage(), 1);
        }
        Template template = format == null ? null : Template.parse(format);
        PrintStream out = System.out;
        EventJournal.open(main.stateRoot()).stream(from, to, filter, e -> {
            out.println(template == null ? line(e, ZoneId.systemDefault()) : template.render(e));
            out.flush();
        });
        return 0;
    }

    private static Instant time(String value, Instant now) throws UserError {
        if (value == null || value.isEmpty()) {
            return null;
        }
        try {
            return EventTime.parse(value, now);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage(), 1);
        }
    }

    /** {@code KEY=VALUE} flags by key, as docker's CLI reads them. */
    static Map<String, List<String>> filters(List<String> flags) throws UserError {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String f : flags) {
            int eq = f.indexOf('=');
            if (eq <= 0) {
                throw new UserError("invalid argument \"" + f + "\" for \"-f, --filter\" flag: bad format of filter "
                        + "(expected name=value)", 125);
            }
            out.computeIfAbsent(f.substring(0, eq).strip().toLowerCase(java.util.Locale.ROOT), k -> new ArrayList<>())
                    .add(f.substring(eq + 1).strip());
        }
        return out;
    }

    /** docker's line: {@code TIME TYPE ACTION ID (KEY=VALUE, ...)}, its time in {@code zone}. */
    static String line(Event e, ZoneId zone) {
        StringBuilder b = new StringBuilder();
        if (e.timeNano() != 0) {
            b.append(TIME.format(e.time().atZone(zone))).append(' ');
        }
        b.append(e.type()).append(' ').append(e.action()).append(' ').append(e.actorId());
        if (!e.attributes().isEmpty()) {
            List<String> pairs = new ArrayList<>();
            e.attributes().forEach((k, v) -> pairs.add(k + "=" + v));
            b.append(" (").append(String.join(", ", pairs)).append(')');
        }
        return b.toString();
    }

    /**
     * The part of Go's templates that {@code --format} takes here: text, {@code {{.Field.Field}}}
     * and {@code {{json .Field}}} (or {@code {{json .}}}) over docker's event ({@code Type},
     * {@code Action}, {@code Actor.ID}, {@code Actor.Attributes.KEY}, {@code Status}, {@code ID},
     * {@code From}, {@code Scope}, {@code Time}, {@code TimeNano}); {@code json} alone is
     * {@code {{json .}}}.
     */
    static final class Template {
        private static final Pattern ACTION = Pattern.compile("\\{\\{\\s*(json\\s+)?\\.((?:[A-Za-z0-9_.-]+)?)\\s*}}");

        private final List<Object> parts;

        private Template(List<Object> parts) {
            this.parts = parts;
        }

        /** A field path ({@code Actor.ID}; empty for the event itself), and whether it is printed as JSON. */
        private record Field(List<String> path, boolean json) {}

        static Template parse(String format) throws UserError {
            String f = format.equals("json") ? "{{json .}}" : format;
            List<Object> parts = new ArrayList<>();
            Matcher m = ACTION.matcher(f);
            int last = 0;
            while (m.find()) {
                text(parts, f.substring(last, m.start()), format);
                String path = m.group(2);
                parts.add(new Field(path.isEmpty() ? List.of() : List.of(path.split("\\.")), m.group(1) != null));
                last = m.end();
            }
            text(parts, f.substring(last), format);
            return new Template(parts);
        }

        private static void text(List<Object> parts, String text, String format) throws UserError {
            if (text.contains("{{")) {
                throw new UserError("unsupported --format '" + format + "': Vessel's templates take text, {{.Field}} and "
                        + "{{json .Field}}", 125);
            }
            if (!text.isEmpty()) {
                parts.add(text);
            }
        }

        String render(Event e) {
            ObjectNode json = e.toJson();
            StringBuilder b = new StringBuilder();
            for (Object p : parts) {
                if (p instanceof Field f) {
                    JsonNode n = f.path().isEmpty() ? json : field(json, f.path());
                    if (f.json()) {
                        b.append(n.isMissingNode() ? "null" : n.toString());
                    } else {
                        b.append(n.isMissingNode() ? "<no value>" : goValue(n));
                    }
                } else {
                    b.append(p);
                }
            }
            return b.toString();
        }

        /** The event's field by its Go name ({@code Status}, {@code Actor}...); attributes by their own names. */
        private static JsonNode field(ObjectNode json, List<String> path) {
            JsonNode n = json;
            for (int i = 0; i < path.size(); i++) {
                String name = path.get(i);
                JsonNode next = n.get(name);
                if (next == null && i == 0) {
                    // Message's fields whose JSON names differ from their Go names.
                    next = switch (name) {
                        case "Status" -> json.get("status");
                        case "ID" -> json.get("id");
                        case "From" -> json.get("from");
                        case "Scope" -> json.get("scope");
                        case "Time" -> json.get("time");
                        case "TimeNano" -> json.get("timeNano");
                        default -> null;
                    };
                    if (next == null && List.of("Status", "ID", "From").contains(name)) {
                        next = JSON.getNodeFactory().textNode(""); // omitted when empty, as Go's omitempty
                    }
                }
                if (next == null) {
                    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
                }
                n = next;
            }
            return n;
        }

        /** Go's {@code %v} of a map ({@code map[k:v]}) or of the actor ({@code {ID map[...]}}). */
        private static String goValue(JsonNode n) {
            if (n.isValueNode()) {
                return n.asText();
            }
            if (n.has("ID") && n.has("Attributes")) {
                return "{" + n.get("ID").asText() + " " + goValue(n.get("Attributes")) + "}";
            }
            List<String> items = new ArrayList<>();
            n.fields().forEachRemaining(f -> items.add(f.getKey() + ":" + goValue(f.getValue())));
            return "map[" + String.join(" ", items) + "]";
        }
    }
}
