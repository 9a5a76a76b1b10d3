package dev.vessel.devices.legacy.serial;

import dev.vessel.devices.BusDevice;
import dev.vessel.devices.InterruptLine;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A National Semiconductor 16550A UART with FIFOs, as found at COM1 on every PC: the guest's
 * unmodified 8250 driver detects it as a "16550A" and drives it with interrupts, which makes it the
 * boot console and the simplest interactive terminal a micro-VM can offer.
 *
 * <p>Transmission is instantaneous (THR and the shift register are always empty after a write), so
 * the baud rate in DLL/DLM is stored but has no effect. The modem inputs, when not in loopback,
 * read as a connected modem (DCD, DSR and CTS asserted) so that software waiting for carrier or
 * clear-to-send never blocks. As on a PC mainboard, the interrupt output only reaches the
 * interrupt controller while MCR.OUT2 is set and loopback is off.
 *
 * <p>Guest output is collected in a small buffer and handed to the host at the end of each burst:
 * on a newline, when the buffer fills, when the guest touches any register other than THR or LSR
 * (its driver has finished the burst), on {@link #flush()}, and at the latest a few milliseconds
 * after the first unflushed byte, by a timer thread the UART owns. This keeps the per-byte cost to
 * an array store without ever holding output back indefinitely.
 *
 * <h2>A host stream that blocks never stalls a vCPU</h2>
 * A finished burst goes into a ring of {@link #HOST_OUTPUT_CAPACITY} bytes, and a writer thread of
 * the UART's own writes it to the host stream; the vCPU that finished the burst only copies it.
 * When the host does not keep up (a full pipe nobody reads, a stopped terminal) and a burst does
 * not fit, the part that does not fit is <b>dropped</b> — the host gets the oldest output, in order,
 * and loses the newest — and counted in {@link #droppedOutputBytes()}, with output a failing
 * stream refused. The guest sees a UART that always transmits at once, as before; a guest that
 * needs every byte on a slow host uses virtio-console, which slows the guest down instead.
 */
public final class Uart16550 implements BusDevice, dev.vessel.devices.ConsoleSink, AutoCloseable {
    /** The legacy I/O base of COM1. */
    public static final int COM1_BASE = 0x3f8;
    /** The ISA interrupt of COM1. */
    public static final int COM1_IRQ = 4;
    /** The number of I/O ports the UART decodes. */
    public static final int PORT_COUNT = 8;
    /** Bytes the host side may queue ahead of the guest, on top of the chip's FIFO. */
    public static final int HOST_QUEUE_CAPACITY = 4096;
    /** Guest output buffered on its way to a host stream that is slow or blocks; a whole boot log fits. */
    public static final int HOST_OUTPUT_CAPACITY = 256 * 1024;
    /** How long {@link #flush()} and {@link #close()} wait for buffered output to reach the host stream. */
    public static final Duration HOST_OUTPUT_WAIT = Duration.ofSeconds(2);

    static final int FIFO_SIZE = 16;
    private static final int TX_BUFFER_SIZE = 1024;
    private static final long FLUSH_DELAY_MILLIS = 5;
    private static final System.Logger LOG = System.getLogger(Uart16550.class.getName());

    private static final int REG_DATA = 0;
    private static final int REG_IER = 1;
    private static final int REG_IIR_FCR = 2;
    private static final int REG_LCR = 3;
    private static final int REG_MCR = 4;
    private static final int REG_LSR = 5;
    private static final int REG_MSR = 6;
    private static final int REG_SCR = 7;

    static final int IER_RDI = 0x01;
    static final int IER_THRI = 0x02;
    static final int IER_RLSI = 0x04;
    static final int IER_MSI = 0x08;

    static final int IIR_NO_INT = 0x01;
    static final int IIR_MSI = 0x00;
    static final int IIR_THRI = 0x02;
    static final int IIR_RDI = 0x04;
    static final int IIR_RLSI = 0x06;
    static final int IIR_RX_TIMEOUT = 0x0c;
    static final int IIR_FIFO_ENABLED = 0xc0;

    static final int FCR_ENABLE_FIFO = 0x01;
    static final int FCR_CLEAR_RCVR = 0x02;

    static final int LCR_DLAB = 0x80;

    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;

    static final int LSR_DR = 0x01;
    static final int LSR_OE = 0x02;
    static final int LSR_BI = 0x10;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    private static final int LSR_ERROR_BITS = 0x1e;

    static final int MSR_DCTS = 0x01;
    static final int MSR_DDSR = 0x02;
    static final int MSR_TERI = 0x04;
    static final int MSR_DDCD = 0x08;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;
    private static final int MSR_EXTERNAL_LINES = MSR_DCD | MSR_DSR | MSR_CTS;

    private static final int[] TRIGGER_LEVELS = {1, 4, 8, 14};

    private final InterruptLine irq;
    private final OutputStream out;
    /** Where finished bursts go; null for a UART without threads (tests), which writes them itself. */
    private final HostOutput host;
    private final Duration hostWait;
    private final boolean flushTimer;
    private final Object lock = new Object();

    // Receiver: the chip's FIFO (1 byte deep in 16450 mode) fed from a larger host-side queue.
    private final byte[] rxFifo = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private final byte[] hostQueue = new byte[HOST_QUEUE_CAPACITY];
    private int hostHead;
    private int hostCount;
    private int lastReceived;
    private int blockedReceivers;

    private int ier;
    private int lcr;
    private int mcr;
    private int scr;
    private int dll = 0x0c;
    private int dlm;
    private boolean fifoEnabled;
    private int triggerLevel = 1;
    private int lsrErrors;
    private int msrLines = MSR_EXTERNAL_LINES;
    private int msrDeltas;
    private boolean thrInterruptPending;
    private boolean interruptOutput;

    private final byte[] txBuffer = new byte[TX_BUFFER_SIZE];
    private int txCount;
    private long transmitted;
    private long droppedInput;
    private ScheduledExecutorService flusher;
    private boolean flushScheduled;
    private boolean closed;

    public Uart16550(InterruptLine irq, OutputStream out) {
        this(irq, out, HOST_OUTPUT_CAPACITY, HOST_OUTPUT_WAIT);
    }

    /** With another output ring and wait (tests). */
    Uart16550(InterruptLine irq, OutputStream out, int hostOutputCapacity, Duration hostWait) {
        this.irq = Objects.requireNonNull(irq, "irq");
        this.out = Objects.requireNonNull(out, "out");
        this.host = new HostOutput(out, hostOutputCapacity, "uart16550-out");
        this.hostWait = Objects.requireNonNull(hostWait, "hostWait");
        this.flushTimer = true;
    }

    /**
     * With {@code threads} false, a UART without threads of its own, for tests of the register
     * model: no flush timer (output waits for the end of the burst or {@link #flush()}), and each
     * finished burst is written to the host stream on the calling thread.
     */
    Uart16550(InterruptLine irq, OutputStream out, boolean threads) {
        this.irq = Objects.requireNonNull(irq, "irq");
        this.out = Objects.requireNonNull(out, "out");
        this.host = threads ? new HostOutput(out, HOST_OUTPUT_CAPACITY, "uart16550-out") : null;
        this.hostWait = HOST_OUTPUT_WAIT;
        this.flushTimer = threads;
    }

    @Override
    public long read(long offset, int size) {
        int n = accessWidth(size);
        long value = 0;
        boolean edge;
        synchronized (lock) {
            for (int i = 0; i < n; i++) {
                value |= (long) readRegister(offset + i) << (8 * i);
            }
            edge = updateInterruptLocked();
        }
        if (edge) {
            irq.trigger();
        }
        return value;
    }

    @Override
    public void write(long offset, int size, long value) {
        int n = accessWidth(size);
        boolean edge;
        synchronized (lock) {
            for (int i = 0; i < n; i++) {
                writeRegister(offset + i, (int) (value >>> (8 * i)) & 0xff);
            }
            edge = updateInterruptLocked();
        }
        if (edge) {
            irq.trigger();
        }
    }

    /**
     * Host input: appends bytes to the receive queue and raises the receive interrupt. Bytes that
     * do not fit into the queue ({@link #HOST_QUEUE_CAPACITY}) are lost and reported to the guest
     * as an overrun; use {@link #canReceive()} or {@link #receiveBlocking} to avoid that.
     */
    public void receive(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        boolean edge;
        synchronized (lock) {
            int accepted = enqueueLocked(data, off, len);
            if (accepted < len) {
                droppedInput += len - accepted;
                lsrErrors |= LSR_OE;
            }
            edge = updateInterruptLocked();
        }
        if (edge) {
            irq.trigger();
        }
    }

    /**
     * Host input with backpressure: waits while the receive queue is full until the guest has read
     * enough to take all of {@code data}. Returns early, dropping the rest, once the UART is closed.
     */
    public void receiveBlocking(byte[] data, int off, int len) throws InterruptedException {
        Objects.checkFromIndexSize(off, len, data.length);
        while (len > 0) {
            boolean edge;
            synchronized (lock) {
                while (hostCount == HOST_QUEUE_CAPACITY && !closed) {
                    blockedReceivers++;
                    try {
                        lock.wait();
                    } finally {
                        blockedReceivers--;
                    }
                }
                if (closed) {
                    return;
                }
                int accepted = enqueueLocked(data, off, len);
                off += accepted;
                len -= accepted;
                edge = updateInterruptLocked();
            }
            if (edge) {
                irq.trigger();
            }
        }
    }

    /** Whether the host-side receive queue has room for at least one more byte. */
    public boolean canReceive() {
        synchronized (lock) {
            return hostCount < HOST_QUEUE_CAPACITY;
        }
    }

    /** Bytes the guest has transmitted to the host stream (loopback traffic excluded). */
    public long transmittedBytes() {
        synchronized (lock) {
            return transmitted;
        }
    }

    /** Host input bytes lost because the receive queue was full. */
    public long droppedInputBytes() {
        synchronized (lock) {
            return droppedInput;
        }
    }

    /** Guest output lost on its way to the host: no room while the host stream did not keep up, or the stream failed. */
    public long droppedOutputBytes() {
        return host != null ? host.lostBytes() : 0;
    }

    /**
     * Hands any buffered guest output to the host and waits, at most {@link #HOST_OUTPUT_WAIT}, until
     * it has been written to the host stream and flushed. For host threads (the VMM at the end of a
     * VM), not vCPUs: it may wait.
     */
    public void flush() {
        synchronized (lock) {
            flushLocked();
        }
        awaitHost();
    }

    /** The flush timer's: hands buffered output over without waiting. */
    private void handOver() {
        synchronized (lock) {
            flushLocked();
        }
    }

    /**
     * Hands pending output over, stops the flush timer, releases blocked {@link #receiveBlocking}
     * callers, and waits at most {@link #HOST_OUTPUT_WAIT} for the output to reach the host stream;
     * output after that is dropped. A writer blocked in the host stream for good is left behind.
     */
    @Override
    public void close() {
        ScheduledExecutorService timer;
        synchronized (lock) {
            closed = true;
            flushLocked();
            timer = flusher;
            flusher = null;
            lock.notifyAll();
        }
        if (timer != null) {
            timer.shutdownNow();
        }
        if (host != null) {
            try {
                host.close(hostWait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            long lost = host.lostBytes();
            if (lost > 0) {
                LOG.log(System.Logger.Level.WARNING, "COM1: " + lost + " bytes of guest output did not reach the host"
                        + " (the host stream did not keep up, or failed)" + (host.pending() > 0
                        ? "; " + host.pending() + " more were still waiting for it" : ""));
            }
        }
    }

    private void awaitHost() {
        if (host == null) {
            return;
        }
        try {
            host.awaitWritten(hostWait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static int accessWidth(int size) {
        return Math.clamp(size, 0, 8);
    }

    private int readRegister(long offset) {
        if (offset < 0 || offset >= PORT_COUNT) {
            return 0xff;
        }
        int reg = (int) offset;
        if (reg != REG_LSR) {
            flushLocked();
        }
        return switch (reg) {
            case REG_DATA -> (lcr & LCR_DLAB) != 0 ? dll : readRbrLocked();
            case REG_IER -> (lcr & LCR_DLAB) != 0 ? dlm : ier;
            case REG_IIR_FCR -> readIirLocked();
            case REG_LCR -> lcr;
            case REG_MCR -> mcr;
            case REG_LSR -> readLsrLocked();
            case REG_MSR -> {
                int v = msrLines | msrDeltas;
                msrDeltas = 0;
                yield v;
            }
            default -> scr;
        };
    }

    private void writeRegister(long offset, int v) {
        if (offset < 0 || offset >= PORT_COUNT) {
            return;
        }
        int reg = (int) offset;
        boolean dlab = (lcr & LCR_DLAB) != 0;
        if (reg != REG_DATA || dlab) {
            flushLocked();
        }
        switch (reg) {
            case REG_DATA -> {
                if (dlab) {
                    dll = v;
                } else {
                    transmitLocked(v);
                }
            }
            case REG_IER -> {
                if (dlab) {
                    dlm = v;
                } else {
                    writeIerLocked(v);
                }
            }
            case REG_IIR_FCR -> writeFcrLocked(v);
            case REG_LCR -> lcr = v;
            case REG_MCR -> writeMcrLocked(v);
            case REG_SCR -> scr = v;
            default -> {
                // LSR and MSR are read-only (writes are a factory test feature).
            }
        }
    }

    private int readRbrLocked() {
        if (rxCount == 0) {
            return lastReceived;
        }
        int v = rxFifo[rxHead] & 0xff;
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        lastReceived = v;
        refillLocked();
        return v;
    }

    private int readIirLocked() {
        int id = interruptIdLocked();
        if (id == IIR_THRI) {
            thrInterruptPending = false;
        }
        return id | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
    }

    private int readLsrLocked() {
        int v = LSR_THRE | LSR_TEMT | lsrErrors | (rxCount > 0 ? LSR_DR : 0);
        lsrErrors = 0;
        return v;
    }

    private void writeIerLocked(int v) {
        int old = ier;
        ier = v & 0x0f;
        // The transmitter is always idle, so enabling the THRE interrupt raises it at once; the
        // guest's driver relies on this to start transmission and probes for it at startup.
        if ((ier & IER_THRI) != 0 && (old & IER_THRI) == 0) {
            thrInterruptPending = true;
        }
    }

    private void writeFcrLocked(int v) {
        boolean enable = (v & FCR_ENABLE_FIFO) != 0;
        if (enable != fifoEnabled) {
            // Switching between 16450 and FIFO mode resets both FIFOs.
            fifoEnabled = enable;
            clearRxFifoLocked();
        }
        if (enable) {
            triggerLevel = TRIGGER_LEVELS[(v >>> 6) & 3];
            if ((v & FCR_CLEAR_RCVR) != 0) {
                clearRxFifoLocked();
            }
        }
        refillLocked();
    }

    private void writeMcrLocked(int v) {
        mcr = v & 0x1f;
        int lines;
        if ((mcr & MCR_LOOP) != 0) {
            lines = ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0)
                    | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                    | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0)
                    | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
        } else {
            lines = MSR_EXTERNAL_LINES;
        }
        int changed = lines ^ msrLines;
        if ((changed & MSR_CTS) != 0) {
            msrDeltas |= MSR_DCTS;
        }
        if ((changed & MSR_DSR) != 0) {
            msrDeltas |= MSR_DDSR;
        }
        if ((changed & MSR_DCD) != 0) {
            msrDeltas |= MSR_DDCD;
        }
        if ((msrLines & MSR_RI) != 0 && (lines & MSR_RI) == 0) {
            msrDeltas |= MSR_TERI;
        }
        msrLines = lines;
        refillLocked();
    }

    private void transmitLocked(int v) {
        if ((mcr & MCR_LOOP) != 0) {
            loopbackLocked(v);
        } else {
            emitLocked(v);
        }
        // The byte leaves THR at once, so writing THR clears the THRE interrupt only to raise it
        // again for the now empty register.
        thrInterruptPending = true;
    }

    private void loopbackLocked(int v) {
        if (rxCount < chipCapacity()) {
            rxFifo[(rxHead + rxCount) % FIFO_SIZE] = (byte) v;
            rxCount++;
        } else {
            lsrErrors |= LSR_OE;
            if (!fifoEnabled) {
                // In 16450 mode the new character overwrites the unread one.
                rxFifo[rxHead] = (byte) v;
            }
        }
    }

    private void emitLocked(int v) {
        txBuffer[txCount++] = (byte) v;
        transmitted++;
        if (v == '\n' || txCount == TX_BUFFER_SIZE || closed) {
            flushLocked();
        } else if (!flushScheduled && flushTimer) {
            scheduleFlushLocked();
        }
    }

    private void scheduleFlushLocked() {
        if (flusher == null) {
            ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
                Thread t = new Thread(r, "uart16550-flush");
                t.setDaemon(true);
                return t;
            });
            timer.setRemoveOnCancelPolicy(true);
            flusher = timer;
        }
        flushScheduled = true;
        flusher.schedule(this::handOver, FLUSH_DELAY_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void flushLocked() {
        flushScheduled = false;
        if (txCount == 0) {
            return;
        }
        int n = txCount;
        txCount = 0;
        // Handed over under the lock so that concurrent vCPUs' bytes keep their order.
        if (host != null) {
            host.offer(txBuffer, 0, n);
            return;
        }
        try {
            out.write(txBuffer, 0, n);
            out.flush();
        } catch (IOException e) {
            // The host side of the line is gone; like an unplugged cable, output is lost.
        }
    }

    /** Queues as much of the input as the host queue and the chip FIFO can take; returns how much. */
    private int enqueueLocked(byte[] data, int off, int len) {
        int accepted = 0;
        while (accepted < len && hostCount < HOST_QUEUE_CAPACITY) {
            int tail = (hostHead + hostCount) % HOST_QUEUE_CAPACITY;
            int n = Math.min(len - accepted, Math.min(HOST_QUEUE_CAPACITY - hostCount, HOST_QUEUE_CAPACITY - tail));
            System.arraycopy(data, off + accepted, hostQueue, tail, n);
            hostCount += n;
            accepted += n;
            refillLocked();
        }
        return accepted;
    }

    /** Moves host input into the chip FIFO as far as it has room; loopback disconnects the line. */
    private void refillLocked() {
        if ((mcr & MCR_LOOP) != 0 || hostCount == 0) {
            return;
        }
        boolean wasFull = hostCount == HOST_QUEUE_CAPACITY;
        int capacity = chipCapacity();
        while (rxCount < capacity && hostCount > 0) {
            rxFifo[(rxHead + rxCount) % FIFO_SIZE] = hostQueue[hostHead];
            rxCount++;
            hostHead = (hostHead + 1) % HOST_QUEUE_CAPACITY;
            hostCount--;
        }
        if (wasFull && hostCount < HOST_QUEUE_CAPACITY && blockedReceivers > 0) {
            lock.notifyAll();
        }
    }

    private void clearRxFifoLocked() {
        rxHead = 0;
        rxCount = 0;
    }

    private int chipCapacity() {
        return fifoEnabled ? FIFO_SIZE : 1;
    }

    /** The highest-priority pending, enabled interrupt, as IIR bits 3:0. */
    private int interruptIdLocked() {
        if ((ier & IER_RLSI) != 0 && (lsrErrors & LSR_ERROR_BITS) != 0) {
            return IIR_RLSI;
        }
        if ((ier & IER_RDI) != 0 && rxCount > 0) {
            // Data below the trigger level stands for the character timeout, which we signal at once.
            return fifoEnabled && rxCount < triggerLevel ? IIR_RX_TIMEOUT : IIR_RDI;
        }
        if ((ier & IER_THRI) != 0 && thrInterruptPending) {
            return IIR_THRI;
        }
        if ((ier & IER_MSI) != 0 && msrDeltas != 0) {
            return IIR_MSI;
        }
        return IIR_NO_INT;
    }

    /** Recomputes the interrupt output; returns whether it just went active (an edge to deliver). */
    private boolean updateInterruptLocked() {
        boolean gated = (mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
        boolean active = gated && interruptIdLocked() != IIR_NO_INT;
        boolean edge = active && !interruptOutput;
        interruptOutput = active;
        return edge;
    }
}
