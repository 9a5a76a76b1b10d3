/**
 * The running VM's control socket ({@code --api-socket}): pause, resume, stop, a description of
 * the VM, and its memory balloon, one JSON request and reply per line.
 */
package dev.vessel.vmm.control;
