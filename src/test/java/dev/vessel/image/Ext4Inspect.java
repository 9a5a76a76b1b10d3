package dev.vessel.image;

import dev.vessel.host.HostCommand;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads an ext4 image back for tests, with debugfs (read-only). */
public final class Ext4Inspect {
    private Ext4Inspect() {}

    /** One inode as {@code debugfs stat} shows it; major and minor are -1 for anything but a device. */
    public record Inode(String type, int mode, long uid, long gid, int major, int minor, long mtime, String content) {}

    private static final Pattern TYPE = Pattern.compile("Type: (.+?)\\s+Mode:\\s+([0-7]+)");
    private static final Pattern OWNER = Pattern.compile("User:\\s+(\\d+)\\s+Group:\\s+(\\d+)");
    private static final Pattern DEVICE = Pattern.compile("major/minor number: (\\d+):(\\d+)");
    private static final Pattern MTIME = Pattern.compile("\\bmtime: 0x([0-9a-f]+)");

    /** The inode at {@code path} in the image, or null when there is none. */
    public static Inode stat(Path image, String path) throws IOException {
        HostCommand.Output out = HostCommand.runCapturing(null, List.of(RootfsDisk.program("debugfs"), "-R",
                "stat \"" + path.replace("\"", "\"\"") + "\"", image.toString()));
        if (out.err().contains("File not found")) {
            return null;
        }
        String s = out.out();
        Matcher t = find(TYPE, s);
        Matcher o = find(OWNER, s);
        Matcher m = find(MTIME, s);
        Matcher d = DEVICE.matcher(s);
        boolean device = d.find();
        String type = t.group(1);
        String content = null;
        if (type.equals("regular")) {
            content = HostCommand.run(null, List.of(RootfsDisk.program("debugfs"), "-R",
                    "cat \"" + path.replace("\"", "\"\"") + "\"", image.toString()));
        }
        return new Inode(type, Integer.parseInt(t.group(2), 8), Long.parseLong(o.group(1)), Long.parseLong(o.group(2)),
                device ? Integer.parseInt(d.group(1)) : -1, device ? Integer.parseInt(d.group(2)) : -1,
                (int) Long.parseLong(m.group(1), 16), content);
    }

    /** Runs e2fsck on the image, checking only (never repairing): it fails unless the image is clean. */
    public static String fsck(Path image) throws IOException {
        return HostCommand.run(null, List.of(RootfsDisk.program("e2fsck"), "-fn", image.toString()));
    }

    private static Matcher find(Pattern p, String s) throws IOException {
        Matcher m = p.matcher(s);
        if (!m.find()) {
            throw new IOException("debugfs stat printed no " + p + ":\n" + s);
        }
        return m;
    }
}
