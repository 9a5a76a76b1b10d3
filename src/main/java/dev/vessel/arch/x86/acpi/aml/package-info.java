/** A minimal ACPI Machine Language encoder for building a DSDT at run time. */
package dev.vessel.arch.x86.acpi.aml;
