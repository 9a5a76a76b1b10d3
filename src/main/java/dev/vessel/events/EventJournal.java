package dev.vessel.events;

import dev.vessel.host.PrivateFiles;
import dev.vessel.host.RotatedFiles;
import dev.vessel.host.RotatedFiles.Segment;
import dev.vessel.host.StateRoot;
import dev.vessel.host.StoreLock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The events of a state root, in {@code ROOT/events/}: one JSON line per event ({@link Event}),
 * appended by every process that changes the root (the CLI, the Engine API service, each
 * container's supervisor) and read by {@code vessel events} and the API's {@code GET /events}.
 *
 * <p>Appends take the journal's lock ({@link StoreLock}, between threads and processes), so lines
 * never interleave and are in the order of their times, which are taken under the lock. A line a
 * killed writer left torn is ended by the next writer, so it stays one unreadable line. The
 * journal is bounded as the container log is: files of {@link Limits#maxSize} at most, the oldest
 * deleted beyond {@link Limits#maxFiles}, each named by its position in the whole journal
 * ({@link RotatedFiles}), so a follower goes from one file to the next without losing or
 * repeating an event (unless it falls more than the kept files behind).
 *
 * <p>Recording an event never fails the operation it tells of: {@link #emit} logs a failure.
 */
public final class EventJournal {
    private static final System.Logger LOG = System.getLogger(EventJournal.class.getName());
    static final String FILE = "events.log";
    /** What one read passes on at most (the journal's files hold less); the next read goes on from there. */
    static final int MAX_READ = 16 << 20;
    /** A follower looks at the files at least this often, should a change notice get lost. */
    static final Duration RECHECK = Duration.ofSeconds(5);

    /** How much the journal keeps: files of {@code maxSize} bytes at most, {@code maxFiles} of them. */
    public record Limits(long maxSize, int maxFiles) {
        /** Two files of 2 MiB: some ten thousand events. */
        public static final Limits DEFAULT = new Limits(2 << 20, 2);

        public Limits {
            if (maxSize < 1 || maxFiles < 1) {
                throw new IllegalArgumentException("journal limits must be positive");
            }
        }
    }

    /** Where events go; an exception from it ends the stream. */
    @FunctionalInterface
    public interface Sink {
        void accept(Event event) throws IOException;
    }

    /** Events after a position, and the position after them. */
    public record Chunk(List<Event> events, long next) {}

    private static final EventJournal DISCARD = new EventJournal(null, Limits.DEFAULT, EventJournal::now);

    /** Null for the journal that discards. */
    private final Path first;
    private final Limits limits;
    private final LongSupplier clock;
    private final ReentrantLock followLock = new ReentrantLock();
    private final Condition followersChanged = followLock.newCondition();
    private int followers;

    EventJournal(Path dir, Limits limits, LongSupplier clock) {
        this.first = dir == null ? null : dir.resolve(FILE);
        this.limits = limits;
        this.clock = clock;
    }

    /** The journal of a state root. */
    public static EventJournal open(StateRoot root) throws IOException {
        return at(root.dir("events"), Limits.DEFAULT);
    }

    /** The journal in {@code dir} (created if missing). */
    public static EventJournal at(Path dir, Limits limits) throws IOException {
        PrivateFiles.createDirectories(dir);
        return new EventJournal(dir.toAbsolutePath(), limits, EventJournal::now);
    }

    /** A journal that keeps nothing: for stores opened outside a state root (tests, tools). */
    public static EventJournal discard() {
        return DISCARD;
    }

    static long now() {
        Instant t = Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    // ---------------------------------------------------------------------------------------------
    // Writing

    /** Records {@code event} now; a failure is logged, never thrown: the operation it tells of happened. */
    public void emit(Event event) {
        try {
            append(event);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot record the event " + event.type() + " " + event.action() + " "
                    + event.actorId() + " in " + first + ": " + e.getMessage());
        }
    }

    /** Records {@code event} now and returns it with its time. */
    public Event append(Event event) throws IOException {
        if (first == null) {
            return event.at(clock.getAsLong());
        }
        try (StoreLock.Held ignored = StoreLock.acquire(first.resolveSibling(".lock"))) {
            List<Segment> segments = RotatedFiles.list(first);
            Segment newest = segments.isEmpty() ? RotatedFiles.at(first, 0) : segments.getLast();
            Event stamped = event.at(clock.getAsLong()); // under the lock: the journal is in time order
            byte[] line = (stamped.toJsonLine() + "\n").getBytes(StandardCharsets.UTF_8);
            // At the end, under the lock: no other writer can append meanwhile.
            FileChannel out = PrivateFiles.open(newest.file(), StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            try {
                long size = out.size();
                if (size > 0 && !endsWithNewline(out, size)) {
                    write(out, new byte[] {'\n'}, size); // a writer was killed mid-line: that line ends here
                    size++;
                }
                if (size > 0 && size + line.length > limits.maxSize()) {
                    out.close();
                    out = PrivateFiles.open(RotatedFiles.at(first, newest.start() + size).file(), StandardOpenOption.CREATE,
                            StandardOpenOption.WRITE);
                    size = out.size();
                    segments = RotatedFiles.list(first);
                    for (int i = 0; i < segments.size() - limits.maxFiles(); i++) {
                        Files.deleteIfExists(segments.get(i).file());
                    }
                }
                write(out, line, size);
            } finally {
                out.close();
            }
            return stamped;
        }
    }

    private static boolean endsWithNewline(FileChannel ch, long size) throws IOException {
        ByteBuffer last = ByteBuffer.allocate(1);
        return ch.read(last, size - 1) == 1 && last.get(0) == '\n';
    }

    private static void write(FileChannel out, byte[] bytes, long at) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            out.write(b, at + b.position());
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Reading

    /** Where the journal ends now: a follower from here sees what comes next. */
    public long end() throws IOException {
        if (first == null) {
            return 0;
        }
        List<Segment> segments = RotatedFiles.list(first);
        if (segments.isEmpty()) {
            return 0;
        }
        Segment last = segments.getLast();
        try {
            return last.start() + Files.size(last.file());
        } catch (NoSuchFileException e) {
            return end(); // rotated away meanwhile
        }
    }

    /**
     * The events after {@code position} (0: all that are kept), whole lines only; {@code next}
     * is where to go on. A position in a file deleted since goes on at the oldest file kept.
     */
    public Chunk read(long position) throws IOException {
        List<Event> out = new ArrayList<>();
        if (first == null) {
            return new Chunk(out, position);
        }
        long next = RotatedFiles.readLines(first, position, MAX_READ, line -> {
            Event e = Event.parse(line);
            if (e != null) {
                out.add(e); // a line a killed writer left torn is no event: passed over
            }
        });
        return new Chunk(out, next);
    }

    /**
     * Docker's event stream: with {@code since} or {@code until}, the kept events from
     * {@code since} (inclusive; the oldest kept without it) to {@code until} (inclusive) first;
     * then, unless {@code until} has passed, the events as they come, until {@code until} (for ever
     * without it: the caller's thread is interrupted to stop it). Only the events {@code filter}
     * accepts reach {@code sink}.
     */
    public void stream(Instant since, Instant until, Predicate<Event> filter, Sink sink)
            throws IOException, InterruptedException {
        try {
            streamFrom(since, until, filter, sink);
        } catch (java.nio.channels.ClosedByInterruptException e) {
            // An interrupt that came during a read of the journal: the follower's end, as any other.
            Thread.interrupted();
            throw new InterruptedException("the follower was interrupted");
        }
    }

    private void streamFrom(Instant since, Instant until, Predicate<Event> filter, Sink sink)
            throws IOException, InterruptedException {
        long untilNano = until == null ? Long.MAX_VALUE : nanos(until);
        long position;
        if (since == null && until == null) {
            position = end();
        } else {
            long sinceNano = since == null ? Long.MIN_VALUE : nanos(since);
            position = 0;
            while (true) {
                Chunk c = read(position);
                for (Event e : c.events()) {
                    if (e.timeNano() >= sinceNano && e.timeNano() <= untilNano && filter.test(e)) {
                        sink.accept(e);
                    }
                }
                if (c.next() == position) {
                    break;
                }
                position = c.next();
            }
            if (untilNano < clock.getAsLong()) {
                return; // only past events
            }
        }
        follow(position, untilNano, e -> {
            if (filter.test(e)) {
                sink.accept(e);
            }
        });
    }

    private static long nanos(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
    }

    /**
     * Passes the events after {@code position} to {@code sink} as they are appended, until one
     * comes after {@code untilNano} or that time has passed. Waits on change notices for the
     * journal's folder, without spinning; an interrupt ends it.
     */
    private void follow(long position, long untilNano, Sink sink) throws IOException, InterruptedException {
        if (first == null) {
            awaitUntil(untilNano);
            return;
        }
        followers(+1);
        try (WatchService w = first.getFileSystem().newWatchService()) {
            // Watched before the first read: an append after that read is noticed.
            first.getParent().register(w, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
            long next = position;
            while (true) {
                Chunk more = read(next);
                for (Event e : more.events()) {
                    if (e.timeNano() > untilNano) {
                        return;
                    }
                    sink.accept(e);
                }
                if (more.next() != next) {
                    next = more.next();
                    continue;
                }
                long left = untilNano == Long.MAX_VALUE ? Long.MAX_VALUE : untilNano - clock.getAsLong();
                if (left < 0) {
                    return;
                }
                WatchKey key = w.poll(Math.min(left, RECHECK.toNanos()), TimeUnit.NANOSECONDS);
                if (key != null) {
                    key.pollEvents();
                    key.reset();
                }
            }
        } finally {
            followers(-1);
        }
    }

    /** The discarding journal's follow: nothing comes, until {@code untilNano} or an interrupt. */
    private void awaitUntil(long untilNano) throws InterruptedException {
        followers(+1);
        try {
            followLock.lock();
            try {
                while (true) {
                    long left = untilNano == Long.MAX_VALUE ? Long.MAX_VALUE : untilNano - clock.getAsLong();
                    if (left < 0) {
                        return;
                    }
                    followersChanged.awaitNanos(Math.min(left, RECHECK.toNanos()));
                }
            } finally {
                followLock.unlock();
            }
        } finally {
            followers(-1);
        }
    }

    private void followers(int delta) {
        followLock.lock();
        try {
            followers += delta;
            followersChanged.signalAll();
        } finally {
            followLock.unlock();
        }
    }

    /** How many streams of this process follow the journal now (docker's {@code NEventsListener}). */
    public int followers() {
        followLock.lock();
        try {
            return followers;
        } finally {
            followLock.unlock();
        }
    }

    /** Waits until {@code n} streams of this process follow the journal; false when {@code timeout} passed first. */
    public boolean awaitFollowers(int n, Duration timeout) throws InterruptedException {
        long left = timeout.toNanos();
        followLock.lock();
        try {
            while (followers != n) {
                if (left <= 0) {
                    return false;
                }
                left = followersChanged.awaitNanos(left);
            }
            return true;
        } finally {
            followLock.unlock();
        }
    }
}
