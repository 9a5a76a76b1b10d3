package dev.vessel.devices.virtio.net;

import dev.vessel.sys.Tap;
import dev.vessel.sys.TapException;

import java.io.IOException;
import java.util.Objects;

/** A {@link NetBackend} on a host TAP interface opened with 12-byte virtio-net headers. */
public final class TapBackend implements NetBackend {
    private final Tap tap;

    public TapBackend(Tap tap) {
        if (tap.headerSize() != NetHeader.SIZE) {
            throw new IllegalArgumentException(tap + " has " + tap.headerSize() + "-byte headers, not " + NetHeader.SIZE);
        }
        this.tap = Objects.requireNonNull(tap);
    }

    /** Opens (or creates) the TAP interface {@code name}; see {@link Tap#open}. */
    public static TapBackend open(String name) throws TapException {
        return new TapBackend(Tap.open(name, NetHeader.SIZE));
    }

    /**
     * Opens (or creates) the TAP interface {@code name} and, unless {@code bridge} is null, plugs
     * it into that bridge and brings it up ({@link Tap#joinBridge}).
     */
    public static TapBackend open(String name, String bridge) throws TapException {
        Tap tap = Tap.open(name, NetHeader.SIZE);
        try {
            if (bridge != null) {
                tap.joinBridge(bridge);
            }
            return new TapBackend(tap);
        } catch (TapException | RuntimeException e) {
            tap.close();
            throw e;
        }
    }

    @Override
    public int fd() {
        return tap.fd();
    }

    @Override
    public void setOffload(int tunFlags) throws IOException {
        tap.setOffload(tunFlags);
    }

    @Override
    public String name() {
        return tap.name();
    }

    @Override
    public void close() {
        tap.close();
    }
}
