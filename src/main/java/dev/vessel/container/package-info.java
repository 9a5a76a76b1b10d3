/**
 * Containers as micro-VMs. {@link dev.vessel.container.ContainerService} is docker's container
 * API (create, start, stop, kill, wait, remove, list, logs, attach, exec, inspect) that the CLI and
 * the Engine API both call; beneath it the per-container store (config, state, writable disk,
 * logs), the supervisor ("shim") that runs one container's VM and its main process, how it is
 * launched ({@link dev.vessel.container.SupervisorLauncher}) and attached to
 * ({@link dev.vessel.container.AttachClient}), and the guest's initramfs in which vessel-agent is init.
 */
package dev.vessel.container;
