package dev.vessel.devices.legacy.i8042;

import dev.vessel.devices.Bus;
import dev.vessel.devices.BusDevice;
import dev.vessel.devices.InterruptLine;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * An Intel 8042 PS/2 keyboard controller with nothing plugged into either port. Guests expect one
 * at ports 0x60/0x64: Linux probes it at boot, and its default reboot method pulses the CPU reset
 * line through it (command 0xFE), which is how a guest asks the VMM to restart it.
 *
 * <p>The controller appears as two one-byte devices, {@link #dataPort()} at {@value #DATA_PORT}
 * and {@link #commandPort()} at {@value #COMMAND_PORT}, rather than one device spanning
 * 0x60..0x64, because ports 0x61..0x63 belong to other chipset functions (0x61 is the PIT/speaker
 * control port). Bytes sent to the absent keyboard or mouse are answered like a real controller
 * with an empty socket: a 0xFE with the timeout status bit, so the guest's probes fail fast.
 */
public final class I8042Controller {
    /** The data port (read output buffer, write input buffer). */
    public static final int DATA_PORT = 0x60;
    /** The status (read) and command (write) port. */
    public static final int COMMAND_PORT = 0x64;
    /** The ISA interrupt of the keyboard port. */
    public static final int KEYBOARD_IRQ = 1;
    /** The ISA interrupt of the auxiliary (mouse) port. */
    public static final int AUX_IRQ = 12;

    static final int STATUS_OBF = 0x01;
    static final int STATUS_IBF = 0x02;
    static final int STATUS_SYS = 0x04;
    static final int STATUS_CMD = 0x08;
    static final int STATUS_UNLOCKED = 0x10;
    static final int STATUS_AUX_DATA = 0x20;
    static final int STATUS_TIMEOUT = 0x40;

    static final int CTR_KBD_INT = 0x01;
    static final int CTR_AUX_INT = 0x02;
    static final int CTR_SYS = 0x04;
    static final int CTR_KBD_DISABLE = 0x10;
    static final int CTR_AUX_DISABLE = 0x20;
    static final int CTR_XLATE = 0x40;
    /** The configuration a PC BIOS typically hands over: translation, system flag, both ports on. */
    static final int CTR_DEFAULT = CTR_XLATE | CTR_SYS | CTR_AUX_INT | CTR_KBD_INT;

    static final int OUTPUT_PORT_RESET = 0x01;
    static final int OUTPUT_PORT_A20 = 0x02;

    static final int RESPONSE_NAK = 0xfe;
    private static final int OUTPUT_QUEUE_LIMIT = 8;
    private static final int NO_PENDING_COMMAND = -1;

    private record Output(int value, boolean aux, boolean timeout) {}

    private final Runnable resetRequested;
    private final InterruptLine keyboardIrq;
    private final InterruptLine auxIrq;
    private final Object lock = new Object();

    private final int[] ram = new int[32];
    private final ArrayDeque<Output> outputBuffer = new ArrayDeque<>();
    private int lastOutput;
    private int outputPort = OUTPUT_PORT_RESET | OUTPUT_PORT_A20;
    private int pendingCommand = NO_PENDING_COMMAND;
    private boolean lastWriteWasCommand;

    private final BusDevice dataPort = new Port(true);
    private final BusDevice commandPort = new Port(false);

    /** A controller whose (unused) port interrupts go nowhere. */
    public I8042Controller(Runnable resetRequested) {
        this(resetRequested, InterruptLine.NONE, InterruptLine.NONE);
    }

    /**
     * A controller that raises {@code keyboardIrq} (IRQ 1) and {@code auxIrq} (IRQ 12) when data
     * for that port enters the output buffer with the port's interrupt enabled. Wiring IRQ 12 lets
     * Linux's AUX interrupt test finish at once instead of waiting out its timeout.
     */
    public I8042Controller(Runnable resetRequested, InterruptLine keyboardIrq, InterruptLine auxIrq) {
        this.resetRequested = Objects.requireNonNull(resetRequested, "resetRequested");
        this.keyboardIrq = Objects.requireNonNull(keyboardIrq, "keyboardIrq");
        this.auxIrq = Objects.requireNonNull(auxIrq, "auxIrq");
        ram[0] = CTR_DEFAULT;
    }

    /** The one-byte device for port {@value #DATA_PORT}. */
    public BusDevice dataPort() {
        return dataPort;
    }

    /** The one-byte device for port {@value #COMMAND_PORT}. */
    public BusDevice commandPort() {
        return commandPort;
    }

    /** Registers {@link #dataPort()} and {@link #commandPort()} on a port-I/O bus at their legacy addresses. */
    public void attach(Bus pio) {
        pio.register(DATA_PORT, 1, "i8042-data", dataPort);
        pio.register(COMMAND_PORT, 1, "i8042-command", commandPort);
    }

    private final class Port implements BusDevice {
        private final boolean data;

        Port(boolean data) {
            this.data = data;
        }

        @Override
        public long read(long offset, int size) {
            if (offset != 0 || size <= 0) {
                return 0xff;
            }
            Effects fx = new Effects();
            int v;
            synchronized (lock) {
                v = data ? readDataLocked(fx) : statusLocked();
            }
            fx.run();
            return v;
        }

        @Override
        public void write(long offset, int size, long value) {
            if (offset != 0 || size <= 0) {
                return;
            }
            Effects fx = new Effects();
            synchronized (lock) {
                if (data) {
                    writeDataLocked((int) value & 0xff, fx);
                } else {
                    writeCommandLocked((int) value & 0xff, fx);
                }
            }
            fx.run();
        }
    }

    /** Callbacks decided under the lock and run after releasing it, so callers may re-enter. */
    private final class Effects {
        boolean reset;
        boolean keyboardEdge;
        boolean auxEdge;

        void run() {
            if (keyboardEdge) {
                keyboardIrq.trigger();
            }
            if (auxEdge) {
                auxIrq.trigger();
            }
            if (reset) {
                resetRequested.run();
            }
        }
    }

    private int statusLocked() {
        int status = STATUS_UNLOCKED | (ram[0] & CTR_SYS);
        if (lastWriteWasCommand) {
            status |= STATUS_CMD;
        }
        Output head = outputBuffer.peekFirst();
        if (head != null) {
            status |= STATUS_OBF;
            if (head.aux) {
                status |= STATUS_AUX_DATA;
            }
            if (head.timeout) {
                status |= STATUS_TIMEOUT;
            }
        }
        return status;
    }

    private int readDataLocked(Effects fx) {
        Output head = outputBuffer.pollFirst();
        if (head != null) {
            lastOutput = head.value;
            signalHeadLocked(fx);
        }
        // An empty output buffer still returns the last byte, as the real latch does.
        return lastOutput;
    }

    private void writeCommandLocked(int command, Effects fx) {
        lastWriteWasCommand = true;
        pendingCommand = NO_PENDING_COMMAND;
        if (command >= 0x20 && command <= 0x3f) {
            outputLocked(ram[command & 0x1f], false, false, fx);
            return;
        }
        if ((command >= 0x60 && command <= 0x7f) || (command >= 0xd1 && command <= 0xd4)) {
            pendingCommand = command;
            return;
        }
        if (command >= 0xf0) {
            // Pulse the output port bits whose command bit is 0; bit 0 is the CPU reset line.
            if ((command & OUTPUT_PORT_RESET) == 0) {
                fx.reset = true;
            }
            return;
        }
        switch (command) {
            case 0xa7 -> ram[0] |= CTR_AUX_DISABLE;
            case 0xa8 -> ram[0] &= ~CTR_AUX_DISABLE;
            case 0xa9, 0xab -> outputLocked(0x00, false, false, fx); // interface test: no fault
            case 0xaa -> {
                ram[0] |= CTR_SYS;
                outputLocked(0x55, false, false, fx); // self test passed
            }
            case 0xad -> ram[0] |= CTR_KBD_DISABLE;
            case 0xae -> ram[0] &= ~CTR_KBD_DISABLE;
            case 0xd0 -> outputLocked(outputPort, false, false, fx);
            default -> {
                // Vendor-specific or unknown commands are ignored.
            }
        }
    }

    private void writeDataLocked(int value, Effects fx) {
        lastWriteWasCommand = false;
        int command = pendingCommand;
        pendingCommand = NO_PENDING_COMMAND;
        if (command >= 0x60 && command <= 0x7f) {
            ram[command & 0x1f] = value;
            return;
        }
        switch (command) {
            case 0xd1 -> {
                outputPort = value;
                if ((value & OUTPUT_PORT_RESET) == 0) {
                    fx.reset = true;
                }
            }
            case 0xd2 -> outputLocked(value, false, false, fx);
            case 0xd3 -> outputLocked(value, true, false, fx);
            case 0xd4 -> outputLocked(RESPONSE_NAK, true, true, fx); // no mouse
            default -> outputLocked(RESPONSE_NAK, false, true, fx); // no keyboard
        }
    }

    private void outputLocked(int value, boolean aux, boolean timeout, Effects fx) {
        if (outputBuffer.size() >= OUTPUT_QUEUE_LIMIT) {
            return;
        }
        outputBuffer.addLast(new Output(value & 0xff, aux, timeout));
        if (outputBuffer.size() == 1) {
            signalHeadLocked(fx);
        }
    }

    /** A byte has just reached the head of the output buffer: interrupt its port if enabled. */
    private void signalHeadLocked(Effects fx) {
        Output head = outputBuffer.peekFirst();
        if (head == null) {
            return;
        }
        if (head.aux) {
            fx.auxEdge |= (ram[0] & CTR_AUX_INT) != 0;
        } else {
            fx.keyboardEdge |= (ram[0] & CTR_KBD_INT) != 0;
        }
    }
}
