package dev.vessel.image;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * An image reference normalised the way docker normalises it: {@code busybox} is
 * {@code docker.io/library/busybox:latest}, {@code user/app} is {@code docker.io/user/app:latest},
 * {@code host:5000/a/b:tag} keeps its registry, and {@code name@sha256:...} names a manifest by
 * digest (the tag, if one was also given, is dropped: the digest decides).
 *
 * <p>Grammar (docker's distribution reference): the first component is a registry when it contains
 * a dot or a colon or is {@code localhost}; path components are lowercase alphanumerics joined by
 * {@code .}, {@code _}, {@code __} or runs of {@code -}; a tag is {@code [\w][\w.-]{0,127}}.
 */
public record Reference(String domain, String path, String tag, Digest digest) {
    public static final String DEFAULT_DOMAIN = "docker.io";
    public static final String DEFAULT_TAG = "latest";

    private static final Pattern PATH_COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
    private static final Pattern DOMAIN = Pattern.compile(
            "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?");
    private static final Pattern TAG = Pattern.compile("[\\w][\\w.-]{0,127}");
    private static final Pattern HEX64 = Pattern.compile("[a-f0-9]{64}");
    private static final int NAME_TOTAL_LENGTH_MAX = 255;
    /** What normalising can take off a name's length ({@code index.docker.io} becomes {@code docker.io}). */
    private static final int INDEX_PREFIX_SAVED = "index.".length();

    public Reference {
        Objects.requireNonNull(domain);
        Objects.requireNonNull(path);
        if (tag == null && digest == null) {
            throw new IllegalArgumentException("a reference needs a tag or a digest");
        }
    }

    /** Parses and normalises {@code s}; without tag or digest the tag is {@code latest}. */
    public static Reference parse(String s) throws InvalidReferenceException {
        if (s == null || s.isEmpty()) {
            throw new InvalidReferenceException("invalid reference format");
        }
        String name = s;
        Digest digest = null;
        int at = name.indexOf('@');
        if (at >= 0) {
            String d = name.substring(at + 1);
            if (!Digest.isValid(d)) {
                throw new InvalidReferenceException("invalid reference format");
            }
            digest = Digest.parse(d);
            name = name.substring(0, at);
        }
        String tag = null;
        int colon = name.lastIndexOf(':');
        if (colon > name.lastIndexOf('/')) {
            tag = name.substring(colon + 1);
            name = name.substring(0, colon);
            if (!TAG.matcher(tag).matches()) {
                throw new InvalidReferenceException("invalid reference format");
            }
        }
        if (name.isEmpty()) {
            throw new InvalidReferenceException("invalid reference format");
        }
        if (name.length() > NAME_TOTAL_LENGTH_MAX + INDEX_PREFIX_SAVED) {
            // Refused before the patterns run: they recurse per repetition, and a name of some
            // thousand characters overflowed the stack (StackOverflowError, not this exception).
            throw new InvalidReferenceException("invalid reference format: repository name must not be more than "
                    + NAME_TOTAL_LENGTH_MAX + " characters");
        }
        if (HEX64.matcher(name).matches() && tag == null && digest == null) {
            throw new InvalidReferenceException("invalid repository name (" + name + "), cannot specify 64-byte hexadecimal strings");
        }
        String domain;
        String remainder;
        int slash = name.indexOf('/');
        String first = slash < 0 ? null : name.substring(0, slash);
        if (first == null || (first.indexOf('.') < 0 && first.indexOf(':') < 0 && !first.equals("localhost")
                && first.toLowerCase(java.util.Locale.ROOT).equals(first))) {
            domain = DEFAULT_DOMAIN;
            remainder = name;
        } else {
            domain = first;
            remainder = name.substring(slash + 1);
        }
        if (domain.equals("index.docker.io")) {
            domain = DEFAULT_DOMAIN;
        }
        if (domain.equals(DEFAULT_DOMAIN) && remainder.indexOf('/') < 0) {
            remainder = "library/" + remainder;
        }
        if (!remainder.toLowerCase(java.util.Locale.ROOT).equals(remainder)) {
            throw new InvalidReferenceException("invalid reference format: repository name (" + remainder + ") must be lowercase");
        }
        if (!DOMAIN.matcher(domain).matches()) {
            throw new InvalidReferenceException("invalid reference format");
        }
        for (String component : remainder.split("/", -1)) {
            if (!PATH_COMPONENT.matcher(component).matches()) {
                throw new InvalidReferenceException("invalid reference format");
            }
        }
        if (domain.length() + 1 + remainder.length() > NAME_TOTAL_LENGTH_MAX) {
            throw new InvalidReferenceException("invalid reference format: repository name must not be more than "
                    + NAME_TOTAL_LENGTH_MAX + " characters");
        }
        if (digest != null) {
            tag = null;
        } else if (tag == null) {
            tag = DEFAULT_TAG;
        }
        return new Reference(domain, remainder, tag, digest);
    }

    /** Whether {@code s} parses as a reference. */
    public static boolean isValid(String s) {
        try {
            parse(s);
            return true;
        } catch (InvalidReferenceException e) {
            return false;
        }
    }

    /** {@code docker.io/library/busybox}. */
    public String repository() {
        return domain + "/" + path;
    }

    /**
     * The repository as docker shows it: {@code busybox}, {@code user/app}, {@code host:5000/a/b}.
     * Unlike docker's, it always reads back as the same repository: {@code docker.io/a.b/c} stays
     * so, as {@code a.b/c} would name the registry {@code a.b}.
     */
    public String familiarRepository() {
        if (domain.equals(DEFAULT_DOMAIN)) {
            if (path.startsWith("library/") && path.indexOf('/', 8) < 0) {
                return path.substring(8);
            }
            int slash = path.indexOf('/');
            String first = slash < 0 ? path : path.substring(0, slash);
            if (first.indexOf('.') >= 0 || first.indexOf(':') >= 0 || first.equals("localhost")) {
                return repository();
            }
            return path;
        }
        return repository();
    }

    /** {@code busybox:latest}, as docker prints a reference. */
    public String familiar() {
        return familiarRepository() + suffix();
    }

    public Reference withTag(String newTag) {
        return new Reference(domain, path, newTag, null);
    }

    public boolean isDigest() {
        return digest != null;
    }

    private String suffix() {
        return (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
    }

    /** The full normalised form, {@code docker.io/library/busybox:latest}: the store's ref name. */
    @Override
    public String toString() {
        return repository() + suffix();
    }
}
