/**
 * Docker's bridge networks, between the image layers and the containers that will join them.
 * {@link dev.vessel.network.NetworkService} is docker's network API (create, list, inspect,
 * remove, prune) over the {@link dev.vessel.network.NetworkStore} (networks, and the addresses
 * allocated to containers, under the store's lock) and a {@link dev.vessel.network.NetworkHost},
 * the host where the bridges live: {@link dev.vessel.network.HostNetworkHost} here, or the
 * helper machine's (in {@code dev.vessel.machine}, which may depend on this package). Both run
 * {@link dev.vessel.network.BridgeScript}'s bridge.sh. Nothing here imports container, machine or cli.
 */
package dev.vessel.network;
