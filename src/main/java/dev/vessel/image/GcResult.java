package dev.vessel.image;

/** What a garbage collection removed. */
public record GcResult(int blobs, long bytes, int disks, int temporaries) {}
