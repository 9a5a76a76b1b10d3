package dev.vessel.container;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * The key sequence that detaches an attached client and leaves the container running (docker's
 * {@code --detach-keys}, by default ctrl-p,ctrl-q).
 */
public final class DetachKeys {
    /** No sequence: everything is input. */
    public static final DetachKeys NONE = new DetachKeys(new byte[0]);
    public static final String DEFAULT_SPEC = "ctrl-p,ctrl-q";

    private static final String CTRL_PUNCTUATION = "@[\\]^_";

    private final byte[] sequence;

    private DetachKeys(byte[] sequence) {
        this.sequence = sequence;
    }

    /** Docker's syntax: comma-separated {@code ctrl-X} (a letter or one of {@code @[\]^_}) or single characters. */
    public static DetachKeys parse(String spec) throws ContainerException {
        if (spec == null || spec.isEmpty()) {
            return NONE;
        }
        String[] parts = spec.split(",");
        byte[] out = new byte[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            if (p.length() == 1) {
                out[i] = (byte) p.charAt(0);
            } else if (p.startsWith("ctrl-") && p.length() == 6) {
                char k = Character.toLowerCase(p.charAt(5));
                if (k >= 'a' && k <= 'z') {
                    out[i] = (byte) (k - 'a' + 1);
                } else if (CTRL_PUNCTUATION.indexOf(k) >= 0) {
                    out[i] = (byte) (CTRL_PUNCTUATION.indexOf(k) == 0 ? 0 : 27 + CTRL_PUNCTUATION.indexOf(k) - 1);
                } else {
                    throw ContainerException.invalid("invalid detach keys: " + spec);
                }
            } else {
                throw ContainerException.invalid("invalid detach keys: " + spec);
            }
        }
        return new DetachKeys(out);
    }

    public byte[] sequence() {
        return sequence.clone();
    }

    /** A fresh matcher for one input stream. */
    public Matcher matcher() {
        return new Matcher();
    }

    /**
     * What to pass on of a chunk of input, and whether the sequence was typed.
     *
     * @param forward the input to send on: bytes that may begin the sequence are held back
     *     until the next byte shows whether it follows (docker's behaviour), and the sequence
     *     itself is never sent
     * @param detach the sequence is complete: stop reading, detach
     */
    public record Scan(byte[] forward, boolean detach) {}

    /** Finds the sequence in a stream of input, across the chunks it arrives in. */
    public final class Matcher {
        /** How many bytes of the sequence the input ends with, held back. */
        private int matched;

        private Matcher() {}

        public Scan scan(byte[] input, int off, int len) {
            if (sequence.length == 0) {
                return new Scan(Arrays.copyOfRange(input, off, off + len), false);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream(len);
            for (int i = off; i < off + len; i++) {
                byte b = input[i];
                if (b == sequence[matched]) {
                    matched++;
                    if (matched == sequence.length) {
                        matched = 0;
                        return new Scan(out.toByteArray(), true);
                    }
                    continue;
                }
                // The held bytes and b: keep the longest tail that still begins the sequence, send the rest.
                byte[] held = Arrays.copyOf(sequence, matched + 1);
                held[matched] = b;
                int keep = Math.min(matched, sequence.length - 1);
                while (keep > 0 && !Arrays.equals(held, held.length - keep, held.length, sequence, 0, keep)) {
                    keep--;
                }
                out.write(held, 0, held.length - keep);
                matched = keep;
            }
            return new Scan(out.toByteArray(), false);
        }
    }
}
