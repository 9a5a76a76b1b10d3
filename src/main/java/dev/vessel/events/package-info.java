/**
 * Docker's events: what happened to containers, images and networks, recorded in the state
 * root's {@link dev.vessel.events.EventJournal} by every process that changes the root (the CLI,
 * the Engine API service, each container's supervisor), and read back, filtered
 * ({@link dev.vessel.events.EventFilter}) between two times ({@link dev.vessel.events.EventTime}),
 * by {@code vessel events} and {@code GET /events}. Above {@code host}, below everything that
 * emits: nothing here imports image, network, container, api or cli.
 */
package dev.vessel.events;
