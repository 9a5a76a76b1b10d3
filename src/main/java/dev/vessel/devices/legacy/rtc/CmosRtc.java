package dev.vessel.devices.legacy.rtc;

import dev.vessel.devices.BusDevice;
import dev.vessel.devices.InterruptLine;
import java.time.Clock;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A Motorola MC146818 real-time clock with its CMOS RAM, at ports 0x70 (index) and 0x71 (data),
 * interrupting on IRQ 8. Guests read the wall-clock time from it at boot and keep their own
 * settings in its NVRAM; the time comes from a host {@link Clock} (in UTC) plus an offset the
 * guest can shift by setting the clock.
 *
 * <p>Supported: time and date in BCD or binary and 12- or 24-hour format, the century byte at
 * 0x32, the SET bit (freezes the registers so the guest can write a new time, which takes effect
 * when SET is cleared), update-ended and alarm interrupts (with "don't care" alarm values), flag
 * register C and the VRT bit. The periodic interrupt (PIE) and square-wave output are not
 * emulated: their rate bits are stored and PF never sets. The divider bits of register A are
 * stored but do not stop the clock, and daylight-saving mode (DSE) is ignored. Day of week is
 * always derived from the date.
 *
 * <p>Update cycles are computed from the clock when they are observed (register C reads) and,
 * while UIE or AIE is enabled, by a timer thread the device owns that wakes at each second
 * boundary; {@link #close()} stops it.
 */
public final class CmosRtc implements BusDevice, AutoCloseable {
    /** The index port; the data port follows it. */
    public static final int BASE_PORT = 0x70;
    /** Index and data. */
    public static final int PORT_COUNT = 2;
    /** The ISA interrupt of the RTC. */
    public static final int IRQ = 8;

    static final int REG_SECONDS = 0x00;
    static final int REG_ALARM_SECONDS = 0x01;
    static final int REG_MINUTES = 0x02;
    static final int REG_ALARM_MINUTES = 0x03;
    static final int REG_HOURS = 0x04;
    static final int REG_ALARM_HOURS = 0x05;
    static final int REG_DAY_OF_WEEK = 0x06;
    static final int REG_DAY_OF_MONTH = 0x07;
    static final int REG_MONTH = 0x08;
    static final int REG_YEAR = 0x09;
    static final int REG_A = 0x0a;
    static final int REG_B = 0x0b;
    static final int REG_C = 0x0c;
    static final int REG_D = 0x0d;
    static final int REG_CENTURY = 0x32;
    static final int CMOS_SIZE = 128;
    private static final int[] TIME_REGISTERS = {
        REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY_OF_MONTH, REG_MONTH, REG_YEAR, REG_CENTURY
    };

    static final int A_UIP = 0x80;
    static final int A_DEFAULT = 0x26; // 32.768 kHz time base, 1024 Hz rate
    static final int B_SET = 0x80;
    static final int B_PIE = 0x40;
    static final int B_AIE = 0x20;
    static final int B_UIE = 0x10;
    static final int B_DM_BINARY = 0x04;
    static final int B_24H = 0x02;
    static final int B_DEFAULT = B_24H;
    static final int C_IRQF = 0x80;
    static final int C_PF = 0x40;
    static final int C_AF = 0x20;
    static final int C_UF = 0x10;
    static final int D_VRT = 0x80;
    private static final int ALARM_DONT_CARE = 0xc0;

    /** The chip raises UIP this long before each update; the registers are never unstable here. */
    static final long UIP_WINDOW_NANOS = 244_000;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long SECONDS_PER_DAY = 86_400;
    private static final long TIMER_SLACK_NANOS = 500_000;

    private final Clock clock;
    private final InterruptLine irq;
    private final boolean ownTimer;
    private final Object lock = new Object();

    private final int[] cmos = new int[CMOS_SIZE];
    /** The time registers as the guest left them while SET is on, indexed like {@link #cmos}. */
    private final int[] frozen = new int[CMOS_SIZE];
    private int index;
    private Duration offset = Duration.ZERO;
    private int regA = A_DEFAULT;
    private int regB = B_DEFAULT;
    private int flags;
    private boolean irqOutput;
    private long uipShownForUpdate = Long.MIN_VALUE;
    private long lastUpdateSecond;

    private ScheduledExecutorService timer;
    private ScheduledFuture<?> nextTick;
    private boolean closed;

    /** An RTC showing {@code clock}'s time, interrupting on {@code irq}, with its own update timer. */
    public CmosRtc(Clock clock, InterruptLine irq) {
        this(clock, irq, true);
    }

    /** With {@code ownTimer} false nothing runs in the background: tests drive {@link #poll()} themselves. */
    CmosRtc(Clock clock, InterruptLine irq, boolean ownTimer) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.ownTimer = ownTimer;
        this.lastUpdateSecond = guestNow().getEpochSecond();
    }

    @Override
    public long read(long offset, int size) {
        int n = Math.clamp(size, 0, 8);
        long value = 0;
        boolean edge;
        synchronized (lock) {
            for (int i = 0; i < n; i++) {
                long port = offset + i;
                int v = port == 1 ? readDataLocked() : 0xff;
                value |= (long) v << (8 * i);
            }
            edge = updateInterruptLocked();
            rescheduleLocked();
        }
        if (edge) {
            irq.trigger();
        }
        return value;
    }

    @Override
    public void write(long offset, int size, long value) {
        int n = Math.clamp(size, 0, 8);
        boolean edge;
        synchronized (lock) {
            for (int i = 0; i < n; i++) {
                long port = offset + i;
                int v = (int) (value >>> (8 * i)) & 0xff;
                if (port == 0) {
                    index = v & 0x7f; // bit 7 masks NMIs on a PC, which a VM has no use for
                } else if (port == 1) {
                    writeDataLocked(v);
                }
            }
            edge = updateInterruptLocked();
            rescheduleLocked();
        }
        if (edge) {
            irq.trigger();
        }
    }

    /** Stops the update timer. The registers stay readable. */
    @Override
    public void close() {
        ScheduledExecutorService t;
        synchronized (lock) {
            closed = true;
            t = timer;
            timer = null;
            nextTick = null;
        }
        if (t != null) {
            t.shutdownNow();
        }
    }

    /** Runs the update cycles due by now: sets UF and AF, and interrupts if that raises IRQF. */
    void poll() {
        boolean edge;
        synchronized (lock) {
            runUpdateCyclesLocked();
            edge = updateInterruptLocked();
            rescheduleLocked();
        }
        if (edge) {
            irq.trigger();
        }
    }

    private Instant guestNow() {
        return clock.instant().plus(offset);
    }

    private boolean binary() {
        return (regB & B_DM_BINARY) != 0;
    }

    private int readDataLocked() {
        int reg = index;
        return switch (reg) {
            case REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY_OF_MONTH, REG_MONTH, REG_YEAR,
                    REG_CENTURY -> (regB & B_SET) != 0 ? frozen[reg] : timeRegister(reg, now());
            case REG_A -> readALocked();
            case REG_B -> regB;
            case REG_C -> readCLocked();
            case REG_D -> D_VRT;
            default -> cmos[reg];
        };
    }

    private void writeDataLocked(int v) {
        int reg = index;
        switch (reg) {
            case REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY_OF_MONTH, REG_MONTH, REG_YEAR,
                    REG_CENTURY -> writeTimeLocked(reg, v);
            case REG_A -> regA = v & ~A_UIP;
            case REG_B -> writeBLocked(v);
            case REG_C, REG_D -> {
                // Read-only status registers.
            }
            default -> cmos[reg] = v;
        }
    }

    private int readALocked() {
        boolean uip = false;
        if ((regB & B_SET) == 0) {
            Instant now = guestNow();
            long nextUpdate = now.getEpochSecond() + 1;
            // UIP is shown once per update, on the first read inside the window: a guest polling for
            // it to clear always gets through, even when the clock does not move between its reads.
            if (now.getNano() >= NANOS_PER_SECOND - UIP_WINDOW_NANOS && nextUpdate != uipShownForUpdate) {
                uip = true;
                uipShownForUpdate = nextUpdate;
            }
        }
        return regA | (uip ? A_UIP : 0);
    }

    private int readCLocked() {
        runUpdateCyclesLocked();
        int v = flags | (irqf() ? C_IRQF : 0);
        flags = 0;
        return v;
    }

    private void writeBLocked(int v) {
        boolean wasSet = (regB & B_SET) != 0;
        boolean set = (v & B_SET) != 0;
        if (set && !wasSet) {
            runUpdateCyclesLocked();
            LocalDateTime t = now();
            for (int reg : TIME_REGISTERS) {
                frozen[reg] = timeRegister(reg, t);
            }
        }
        if (wasSet && !set) {
            // Decoded in the format the guest wrote them in, before this write may change it.
            LocalDateTime t = decode(frozen);
            // The divider restarts when SET is released: the new time starts at a whole second.
            offset = Duration.between(clock.instant(), t.toInstant(ZoneOffset.UTC));
            lastUpdateSecond = guestNow().getEpochSecond();
        }
        regB = set ? v & ~B_UIE : v; // setting SET clears UIE, as on the chip
    }

    private void writeTimeLocked(int reg, int v) {
        if ((regB & B_SET) != 0) {
            frozen[reg] = v;
            return;
        }
        if (reg == REG_DAY_OF_WEEK) {
            return;
        }
        // A write while the clock runs moves it at once, keeping the phase within the second.
        runUpdateCyclesLocked();
        Instant before = guestNow();
        LocalDateTime t = LocalDateTime.ofInstant(before, ZoneOffset.UTC);
        int[] regs = new int[CMOS_SIZE];
        for (int r : TIME_REGISTERS) {
            regs[r] = timeRegister(r, t);
        }
        regs[reg] = v;
        LocalDateTime moved = decode(regs).withNano(t.getNano());
        offset = offset.plus(Duration.between(t, moved));
        lastUpdateSecond = guestNow().getEpochSecond();
    }

    private LocalDateTime now() {
        return LocalDateTime.ofInstant(guestNow(), ZoneOffset.UTC);
    }

    /** The value of time register {@code reg} at {@code t} in the current data mode and hour format. */
    private int timeRegister(int reg, LocalDateTime t) {
        return switch (reg) {
            case REG_SECONDS -> encode(t.getSecond());
            case REG_MINUTES -> encode(t.getMinute());
            case REG_HOURS -> encodeHours(t.getHour());
            case REG_DAY_OF_WEEK -> encode(dayOfWeek(t.getDayOfWeek()));
            case REG_DAY_OF_MONTH -> encode(t.getDayOfMonth());
            case REG_MONTH -> encode(t.getMonthValue());
            case REG_YEAR -> encode(Math.floorMod(t.getYear(), 100));
            case REG_CENTURY -> encode(Math.floorDiv(t.getYear(), 100));
            default -> 0;
        };
    }

    /** Sunday is 1, as the PC BIOS and DOS use it. */
    static int dayOfWeek(DayOfWeek d) {
        return d.getValue() % 7 + 1;
    }

    private int encode(int v) {
        if (binary()) {
            return v & 0xff;
        }
        return (((v / 10) % 10) << 4) | (v % 10);
    }

    private int encodeHours(int hour) {
        if ((regB & B_24H) != 0) {
            return encode(hour);
        }
        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return encode(h12) | (hour >= 12 ? 0x80 : 0);
    }

    private int decodeValue(int raw) {
        return binary() ? raw : (raw >>> 4) * 10 + (raw & 0x0f);
    }

    private int decodeHours(int raw) {
        if ((regB & B_24H) != 0) {
            return decodeValue(raw);
        }
        int h = decodeValue(raw & 0x7f) % 12;
        return (raw & 0x80) != 0 ? h + 12 : h;
    }

    /** The time the registers describe; values out of range (guest nonsense) are clamped. */
    private LocalDateTime decode(int[] regs) {
        int year = decodeValue(regs[REG_CENTURY]) * 100 + Math.clamp(decodeValue(regs[REG_YEAR]), 0, 99);
        int month = Math.clamp(decodeValue(regs[REG_MONTH]), 1, 12);
        int lastDay = LocalDate.of(year, month, 1).lengthOfMonth();
        int day = Math.clamp(decodeValue(regs[REG_DAY_OF_MONTH]), 1, lastDay);
        int hour = Math.clamp(decodeHours(regs[REG_HOURS]), 0, 23);
        int minute = Math.clamp(decodeValue(regs[REG_MINUTES]), 0, 59);
        int second = Math.clamp(decodeValue(regs[REG_SECONDS]), 0, 59);
        return LocalDateTime.of(year, month, day, hour, minute, second);
    }

    /** Sets UF for the update cycles that have happened since the last look, and AF if one matched the alarm. */
    private void runUpdateCyclesLocked() {
        if ((regB & B_SET) != 0) {
            return;
        }
        long now = guestNow().getEpochSecond();
        if (now <= lastUpdateSecond) {
            // The host clock stepped back: resume counting from here.
            lastUpdateSecond = now;
            return;
        }
        flags |= C_UF;
        // The alarm compares time of day only, so one day's worth of cycles covers every match.
        long from = Math.max(lastUpdateSecond + 1, now - SECONDS_PER_DAY + 1);
        for (long s = from; s <= now; s++) {
            if (alarmMatches(Math.floorMod(s, SECONDS_PER_DAY))) {
                flags |= C_AF;
                break;
            }
        }
        lastUpdateSecond = now;
    }

    private boolean alarmMatches(long secondOfDay) {
        int hour = (int) (secondOfDay / 3600);
        int minute = (int) (secondOfDay / 60 % 60);
        int second = (int) (secondOfDay % 60);
        return alarmFieldMatches(cmos[REG_ALARM_SECONDS], encode(second))
                && alarmFieldMatches(cmos[REG_ALARM_MINUTES], encode(minute))
                && alarmFieldMatches(cmos[REG_ALARM_HOURS], encodeHours(hour));
    }

    private static boolean alarmFieldMatches(int alarm, int value) {
        return (alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE || alarm == value;
    }

    /** IRQF: a flag is set whose interrupt is enabled (the flag and enable bits line up in C and B). */
    private boolean irqf() {
        return (flags & regB & (C_PF | C_AF | C_UF)) != 0;
    }

    /** Recomputes the IRQ output; returns whether it just rose (an edge to deliver). */
    private boolean updateInterruptLocked() {
        boolean active = irqf();
        boolean edge = active && !irqOutput;
        irqOutput = active;
        return edge;
    }

    /** Keeps one timer tick scheduled for the next second boundary while UIE or AIE needs it. */
    private void rescheduleLocked() {
        if (!ownTimer || closed) {
            return;
        }
        boolean needed = (regB & B_SET) == 0 && (regB & (B_UIE | B_AIE)) != 0;
        if (!needed) {
            if (nextTick != null) {
                nextTick.cancel(false);
                nextTick = null;
            }
            return;
        }
        if (nextTick != null) {
            return;
        }
        if (timer == null) {
            ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
                Thread thread = new Thread(r, "cmos-rtc-update");
                thread.setDaemon(true);
                return thread;
            });
            t.setRemoveOnCancelPolicy(true);
            timer = t;
        }
        long delay = NANOS_PER_SECOND - guestNow().getNano() + TIMER_SLACK_NANOS;
        nextTick = timer.schedule(this::tick, delay, TimeUnit.NANOSECONDS);
    }

    private void tick() {
        boolean edge;
        synchronized (lock) {
            nextTick = null;
            runUpdateCyclesLocked();
            edge = updateInterruptLocked();
            rescheduleLocked();
        }
        if (edge) {
            irq.trigger();
        }
    }
}
