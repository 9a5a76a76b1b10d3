package dev.vessel.api;

import dev.vessel.events.EventFilter;
import dev.vessel.events.EventJournal;
import dev.vessel.events.EventTime;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.time.Instant;

/**
 * {@code GET /events}: the state root's events ({@link EventJournal}) as dockerd streams them,
 * one JSON object a line, each flushed as it comes. With {@code since} or {@code until} the kept
 * events between them come first; with an {@code until} that has passed the answer ends there,
 * else it follows the journal (until {@code until}, or until the client goes away).
 */
final class EventEndpoints {
    private final EventJournal journal;

    EventEndpoints(EventJournal journal) {
        this.journal = journal;
    }

    void register(Router router) {
        router.add("GET", "/events", this::events);
    }

    private ApiResponse events(ApiRequest r) throws ApiException {
        Instant now = Instant.now();
        Instant since = time(r, "since", now);
        Instant until = time(r, "until", now);
        if (since != null && until != null && until.isBefore(since)) {
            throw ApiException.badRequest("`since` time (" + r.param("since") + ") cannot be after `until` time ("
                    + r.param("until") + ")");
        }
        EventFilter filter;
        try {
            filter = EventFilter.of(Filters.parse(r, EventFilter.KEYS).values());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        return new ApiResponse.Stream(200, "application/json", body -> {
            body.flush(); // the head at once, as dockerd sends it: the client knows it is subscribed
            try {
                journal.stream(since, until, filter, e -> {
                    body.write(EngineApi.bytes(e.toJson()));
                    body.write('\n');
                    body.flush();
                });
            } catch (InterruptedException | ClosedByInterruptException e) {
                // The client went away (the server interrupts this thread): nothing more to send.
            }
        }, true);
    }

    /** A time parameter as docker takes it (Unix seconds, RFC 3339, a Go duration), or null when absent. */
    private static Instant time(ApiRequest r, String name, Instant now) throws ApiException {
        String v = r.param(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        try {
            return EventTime.parse(v, now);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
    }
}
