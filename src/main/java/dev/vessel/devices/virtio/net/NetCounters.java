package dev.vessel.devices.virtio.net;

/**
 * A virtio-net device's counters since it was made (they survive driver resets).
 *
 * @param rxFrames frames from the host delivered to the guest
 * @param rxBytes their bytes, Ethernet header on, virtio-net header off
 * @param rxDropped frames from the host the guest did not get: larger than its buffers, needing
 *     an offload it did not negotiate, truncated
 * @param rxBadBuffers receive buffers returned unused because they could not hold a header
 * @param txFrames guest frames the host took
 * @param txBytes their bytes, as for rxBytes
 * @param txDropped guest frames not sent: malformed (short, oversized, a writable part, a header
 *     its features do not allow) or refused by the host
 */
public record NetCounters(long rxFrames, long rxBytes, long rxDropped, long rxBadBuffers,
                          long txFrames, long txBytes, long txDropped) {}
