/**
 * Containers as micro-VMs: the per-container store (config, state, writable disk, logs), the
 * supervisor ("shim") that runs one container's VM and its main process, and the guest's
 * initramfs in which vessel-agent is init.
 */
package dev.vessel.container;
