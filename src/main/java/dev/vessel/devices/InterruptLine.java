package dev.vessel.devices;

/** An interrupt input of the guest's interrupt controller, as a device sees it. */
public interface InterruptLine {
    /** An edge: raise and lower the line (ISA-style edge-triggered interrupts). */
    void trigger();

    /** Holds the line at a level (level-triggered interrupts). */
    void setLevel(boolean high);

    /** A line that goes nowhere, for tests and for devices whose interrupt is disabled. */
    InterruptLine NONE = new InterruptLine() {
        @Override
        public void trigger() {}

        @Override
        public void setLevel(boolean high) {}
    };
}
