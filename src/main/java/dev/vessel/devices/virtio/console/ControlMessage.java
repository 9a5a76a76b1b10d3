package dev.vessel.devices.virtio.console;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A multiport control message (virtio 1.2 §5.3.6.2): {@code struct virtio_console_control
 * { le32 id; le16 event; le16 value; }}, followed for some events by a payload (a port's name,
 * a console size).
 *
 * @param id the port the message is about ({@link #BAD_ID} for none)
 * @param event one of the event constants
 * @param value the event's argument (0/1 for success, open/close)
 * @param payload what follows the header (empty for most events)
 */
record ControlMessage(int id, int event, int value, byte[] payload) {
    /** Size of the header. */
    static final int HEADER_SIZE = 8;
    /** The id of messages that are about no port (DEVICE_READY). */
    static final int BAD_ID = 0xFFFF_FFFF;

    /** Driver to device: the driver can take control messages now (value 1) or failed (0). */
    static final int DEVICE_READY = 0;
    /** Device to driver: a port exists ("VIRTIO_CONSOLE_DEVICE_ADD", Linux's PORT_ADD). */
    static final int PORT_ADD = 1;
    /** Device to driver: a port is gone. Not sent: Vessel's ports are fixed. */
    static final int PORT_REMOVE = 2;
    /** Driver to device: the port was set up (value 1) or not (0). */
    static final int PORT_READY = 3;
    /** Device to driver: this port is a console (hvc). */
    static final int CONSOLE_PORT = 4;
    /** Device to driver: the console's size changed; payload: le16 cols, le16 rows (see {@link VirtioConsole}). */
    static final int RESIZE = 5;
    /** Both ways: this side opened (1) or closed (0) the port. */
    static final int PORT_OPEN = 6;
    /** Device to driver: the port's name; payload: the UTF-8 name without a NUL. */
    static final int PORT_NAME = 7;

    ControlMessage {
        payload = payload.clone();
    }

    ControlMessage(int id, int event, int value) {
        this(id, event, value, new byte[0]);
    }

    /** Little-endian wire form, header then payload. */
    byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(id).putShort((short) event).putShort((short) value).put(payload);
        return b.array();
    }

    /** The header in {@code bytes} (at least {@link #HEADER_SIZE} long); the payload is not kept. */
    static ControlMessage decodeHeader(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        return new ControlMessage(b.getInt(), Short.toUnsignedInt(b.getShort()), Short.toUnsignedInt(b.getShort()));
    }

    static String eventName(int event) {
        return switch (event) {
            case DEVICE_READY -> "DEVICE_READY";
            case PORT_ADD -> "PORT_ADD";
            case PORT_REMOVE -> "PORT_REMOVE";
            case PORT_READY -> "PORT_READY";
            case CONSOLE_PORT -> "CONSOLE_PORT";
            case RESIZE -> "RESIZE";
            case PORT_OPEN -> "PORT_OPEN";
            case PORT_NAME -> "PORT_NAME";
            default -> "event " + event;
        };
    }

    @Override
    public String toString() {
        return eventName(event) + "(id " + Integer.toUnsignedString(id) + ", value " + value
                + (payload.length > 0 ? ", " + payload.length + " payload bytes" : "") + ")";
    }
}
