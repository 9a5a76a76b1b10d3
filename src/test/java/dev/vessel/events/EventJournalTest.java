package dev.vessel.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The journal on disk: whole lines from concurrent writers (threads and processes), rotation that
 * keeps order and a bounded size, followers that see each event once, and docker's since/until.
 * Nothing here sleeps: a test waits for the event it expects, or for the stream's end.
 */
class EventJournalTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    /** Event {@code i} of {@code writer}: a container event whose name tells both. */
    static Event numbered(String writer, int i) {
        return Event.of(Event.CONTAINER, "start", writer, Map.of("name", writer + "-" + i, "image", "busybox"));
    }

    private EventJournal journal(long maxSize, int maxFiles) throws Exception {
        return EventJournal.at(dir, new EventJournal.Limits(maxSize, maxFiles));
    }

    private static List<Event> all(EventJournal j) throws Exception {
        List<Event> out = new ArrayList<>();
        long pos = 0;
        while (true) {
            EventJournal.Chunk c = j.read(pos);
            out.addAll(c.events());
            if (c.next() == pos) {
                return out;
            }
            pos = c.next();
        }
    }

    /** Every line of every file is one whole event; returns how many there are. */
    private int wholeLines() throws Exception {
        int n = 0;
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith(EventJournal.FILE)).toList()) {
                byte[] bytes = Files.readAllBytes(f);
                assertTrue(bytes.length == 0 || bytes[bytes.length - 1] == '\n', f + " ends mid-line");
                for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
                    if (!line.isEmpty()) {
                        assertNotNull(Event.parse(line), "a torn or interleaved line in " + f + ": " + line);
                        n++;
                    }
                }
            }
        }
        return n;
    }

    /** Each writer's events arrived in its own order, and all events in time order. */
    private static void assertInOrder(List<Event> events, Map<String, Integer> expectedPerWriter) {
        Map<String, Integer> next = new HashMap<>();
        long time = Long.MIN_VALUE;
        for (Event e : events) {
            int i = next.getOrDefault(e.actorId(), 0);
            assertEquals(e.actorId() + "-" + i, e.attribute("name"), "writer " + e.actorId() + "'s order");
            next.put(e.actorId(), i + 1);
            assertTrue(e.timeNano() >= time, "time order");
            time = e.timeNano();
        }
        assertEquals(expectedPerWriter, next);
    }

    @Test
    void anEventIsRecordedWithItsTimeInDockersShape() throws Exception {
        EventJournal j = journal(1 << 20, 2);
        Instant before = Instant.now();
        Event e = j.append(Event.of(Event.CONTAINER, "die", "c0ffee", Map.of("name", "web", "image", "busybox",
                "exitCode", "3", "team", "a")));
        assertFalse(e.time().isBefore(before));
        assertEquals(List.of(e), all(j));

        JsonNode json = JSON.readTree(Files.readString(dir.resolve(EventJournal.FILE)));
        assertEquals("die", json.get("status").asText());
        assertEquals("c0ffee", json.get("id").asText());
        assertEquals("busybox", json.get("from").asText());
        assertEquals("container", json.get("Type").asText());
        assertEquals("die", json.get("Action").asText());
        assertEquals("c0ffee", json.at("/Actor/ID").asText());
        assertEquals("{\"exitCode\":\"3\",\"image\":\"busybox\",\"name\":\"web\",\"team\":\"a\"}",
                json.at("/Actor/Attributes").toString(), "every attribute, in Go's map order");
        assertEquals("local", json.get("scope").asText());
        assertEquals(e.timeNano(), json.get("timeNano").asLong());
        assertEquals(e.timeNano() / 1_000_000_000L, json.get("time").asLong());
        assertEquals(List.of("status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"),
                iterate(json.fieldNames()), "dockerd's field order");

        JsonNode network = Event.of(Event.NETWORK, "create", "n1", Map.of("name", "back", "type", "bridge")).at(5).toJson();
        assertNull(network.get("status"), "only containers and images have the old fields");
        assertNull(network.get("id"));
    }

    private static List<String> iterate(java.util.Iterator<String> it) {
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void threadsAppendingAtOnceWriteWholeLinesInOrder() throws Exception {
        EventJournal j = journal(4096, 10_000); // rotated often, nothing deleted
        int threads = 8;
        int each = 150;
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                String writer = "t" + t;
                done.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < each; i++) {
                        j.append(numbered(writer, i));
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : done) {
                f.get(1, TimeUnit.MINUTES);
            }
        }
        assertEquals(threads * each, wholeLines());
        Map<String, Integer> expected = new HashMap<>();
        for (int t = 0; t < threads; t++) {
            expected.put("t" + t, each);
        }
        assertInOrder(all(j), expected);
        try (var files = Files.list(dir)) {
            assertTrue(files.filter(p -> p.getFileName().toString().startsWith(EventJournal.FILE))
                    .allMatch(p -> p.toFile().length() <= 4096), "no file past its limit");
        }
    }

    @Test
    void processesAppendingAtOnceWriteWholeLines() throws Exception {
        EventJournal j = journal(8192, 10_000);
        int each = 200;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> others = new ArrayList<>();
        try {
            for (String writer : new String[] {"p1", "p2"}) {
                Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                        EventJournalProbe.class.getName(), dir.toString(), "8192", "10000", writer, Integer.toString(each))
                        .redirectErrorStream(true).start();
                others.add(p);
                BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                assertEquals("ready", out.readLine());
            }
            for (Process p : others) {
                p.getOutputStream().write('\n');
                p.getOutputStream().close();
            }
            for (int i = 0; i < each; i++) {
                j.append(numbered("p0", i));
            }
            for (Process p : others) {
                assertTrue(p.waitFor(2, TimeUnit.MINUTES));
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(0, p.exitValue(), out);
                assertEquals("done\n", out);
            }
        } finally {
            others.forEach(Process::destroyForcibly);
        }
        assertEquals(3 * each, wholeLines());
        assertInOrder(all(j), Map.of("p0", each, "p1", each, "p2", each));
    }

    @Test
    void rotationKeepsTheNewestEventsInOrderWithinItsLimits() throws Exception {
        int line = (numbered("w", 100).at(EventJournal.now()).toJsonLine() + "\n").length();
        EventJournal j = journal(4L * line, 2); // some four events a file, two files
        for (int i = 0; i < 100; i++) {
            j.append(numbered("w", i));
        }
        List<Path> files;
        try (var list = Files.list(dir)) {
            files = list.filter(p -> p.getFileName().toString().startsWith(EventJournal.FILE)).toList();
        }
        assertEquals(2, files.size(), files.toString());
        List<Event> kept = all(j);
        assertTrue(kept.size() >= 3 && kept.size() <= 10, kept.size() + " kept");
        int first = 100 - kept.size();
        for (int i = 0; i < kept.size(); i++) {
            assertEquals("w-" + (first + i), kept.get(i).attribute("name"), "the newest ones, in order");
        }
    }

    @Test
    void aFollowerSeesEveryEventOnceAcrossRotations() throws Exception {
        EventJournal j = journal(700, 10_000); // a rotation every two or three events
        BlockingQueue<Event> seen = new LinkedBlockingQueue<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread follower = Thread.ofPlatform().start(() -> {
            try {
                j.stream(null, null, EventFilter.ALL, seen::add);
            } catch (InterruptedException e) {
                // the end of the test
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            assertTrue(j.awaitFollowers(1, WAIT));
            int n = 300;
            List<Event> got = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                j.append(numbered("w", i));
                if (i % 50 == 0) {
                    // Now and then the follower catches up first: it also waits across rotations as they happen.
                    take(seen, got, i + 1);
                }
            }
            take(seen, got, n);
            assertInOrder(got, Map.of("w", n));
            assertNull(seen.poll(), "nothing twice");
        } finally {
            follower.interrupt();
            follower.join(WAIT.toMillis());
        }
        assertNull(failure.get());
        assertFalse(follower.isAlive());
        assertTrue(j.awaitFollowers(0, WAIT), "an interrupted follower leaves nothing behind");
    }

    private static void take(BlockingQueue<Event> seen, List<Event> got, int until) throws InterruptedException {
        while (got.size() < until) {
            Event e = seen.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertNotNull(e, "event " + got.size() + " never came");
            got.add(e);
        }
    }

    @Test
    void sinceAndUntilReplayTheEventsBetweenThemAndAPastUntilEndsTheStream() throws Exception {
        AtomicLong clock = new AtomicLong();
        EventJournal j = new EventJournal(dir, EventJournal.Limits.DEFAULT, clock::get);
        for (int s = 1; s <= 5; s++) {
            clock.set(s * 1_000_000_000L);
            j.append(numbered("w", s - 1));
        }
        clock.set(100_000_000_000L);
        assertEquals(List.of("w-1", "w-2", "w-3"), names(j, Instant.ofEpochSecond(2), Instant.ofEpochSecond(4), EventFilter.ALL),
                "both ends count");
        assertEquals(List.of("w-0", "w-1"), names(j, null, Instant.ofEpochSecond(2), EventFilter.ALL), "from the oldest kept");
        assertEquals(List.of("w-4"), names(j, Instant.ofEpochSecond(2), Instant.ofEpochSecond(99),
                EventFilter.of(Map.of("container", List.of("w"), "event", List.of("start")))
                        .and(e -> e.attribute("name").equals("w-4"))));
        assertEquals(List.of(), names(j, Instant.ofEpochSecond(6), Instant.ofEpochSecond(99), EventFilter.ALL));
    }

    private static List<String> names(EventJournal j, Instant since, Instant until, java.util.function.Predicate<Event> f)
            throws Exception {
        List<String> out = new ArrayList<>();
        j.stream(since, until, f, e -> out.add(e.attribute("name"))); // returns: until has passed
        return out;
    }

    @Test
    void sinceReplaysThenFollowsUntilAnUntilToCome() throws Exception {
        EventJournal j = journal(1 << 20, 2);
        j.append(numbered("w", 0));
        Instant until = Instant.now().plusMillis(1500);
        BlockingQueue<Event> seen = new LinkedBlockingQueue<>();
        Thread follower = Thread.ofPlatform().start(() -> {
            try {
                j.stream(Instant.EPOCH, until, EventFilter.ALL, seen::add);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertEquals("w-0", seen.poll(WAIT.toSeconds(), TimeUnit.SECONDS).attribute("name"), "replayed");
        j.append(numbered("w", 1));
        assertEquals("w-1", seen.poll(WAIT.toSeconds(), TimeUnit.SECONDS).attribute("name"), "followed");
        follower.join(WAIT.toMillis());
        assertFalse(follower.isAlive(), "the stream ends at its until");
        assertTrue(Instant.now().isAfter(until));
    }

    @Test
    void aLineAKilledWriterLeftTornIsEndedByTheNextWriter() throws Exception {
        EventJournal j = journal(1 << 20, 2);
        j.append(numbered("w", 0));
        Files.writeString(dir.resolve(EventJournal.FILE), "{\"Type\":\"contai", StandardOpenOption.APPEND);
        assertEquals(1, all(j).size(), "a torn end waits for its writer");
        j.append(numbered("w", 1));
        assertEquals(List.of("w-0", "w-1"), all(j).stream().map(e -> e.attribute("name")).toList());
        assertTrue(Files.readString(dir.resolve(EventJournal.FILE)).contains("{\"Type\":\"contai\n"));
    }

    @Test
    void aJournalThatCannotBeWrittenNeverFailsTheEmitter() throws Exception {
        EventJournal j = journal(1 << 20, 2);
        Files.delete(dir);
        Files.writeString(dir, "not a folder");
        j.emit(numbered("w", 0)); // logged, not thrown
        EventJournal.discard().emit(numbered("w", 1));
        assertEquals(List.of(), EventJournal.discard().read(0).events());
    }
}
