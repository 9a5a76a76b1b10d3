package dev.vessel.image;

/** What a garbage collection removed; {@code bytes} is what the blobs and disks it deleted took on disk. */
public record GcResult(int blobs, long bytes, int disks, int temporaries) {}
