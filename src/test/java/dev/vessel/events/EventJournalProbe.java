package dev.vessel.events;

import java.nio.file.Path;

/**
 * Another process appending to a journal, for {@link EventJournalTest}: {@code DIR MAX_SIZE
 * MAX_FILES WRITER COUNT}. Says "ready", appends once a line arrives on stdin, then says "done".
 */
public final class EventJournalProbe {
    public static void main(String[] args) throws Exception {
        EventJournal journal = EventJournal.at(Path.of(args[0]),
                new EventJournal.Limits(Long.parseLong(args[1]), Integer.parseInt(args[2])));
        String writer = args[3];
        int count = Integer.parseInt(args[4]);
        System.out.println("ready");
        System.out.flush();
        System.in.read();
        for (int i = 0; i < count; i++) {
            journal.append(EventJournalTest.numbered(writer, i));
        }
        System.out.println("done");
    }

    private EventJournalProbe() {}
}
