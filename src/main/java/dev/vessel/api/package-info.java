/**
 * The Docker Engine API: HTTP/1.1 on a Unix socket, so that the {@code docker} CLI (and other
 * clients of dockerd's API) drive Vessel unchanged, as Podman's compatible API does.
 *
 * <p>{@link dev.vessel.api.ApiServer} is the transport (Netty's epoll Unix-socket channels); it
 * hands each whole request to {@link dev.vessel.api.EngineApi}, which routes it, with or without a
 * {@code /vX.Y} prefix, to an endpoint class per resource ({@code SystemEndpoints},
 * {@code ContainerEndpoints}, {@code ImageEndpoints}, {@code NetworkEndpoints}). Endpoints only
 * translate: they parse and check the request, call the same services as the CLI
 * ({@link dev.vessel.container.ContainerService}, {@link dev.vessel.network.NetworkService},
 * {@link dev.vessel.image.ImageStore}) and render docker's JSON, so the CLI and the API cannot
 * drift apart. Failures are {@link dev.vessel.api.ApiException}s, answered as dockerd does:
 * {@code {"message": "..."}} with its status, which the docker CLI prints as
 * "Error response from daemon: ...".
 *
 * <p>Answers are whole bodies or chunked streams ({@link dev.vessel.api.ApiResponse.Stream}: pull
 * progress and logs now; wait and events later). Not yet: the {@code 101 UPGRADED} hijack of attach
 * and exec, which will be a further kind of {@link dev.vessel.api.ApiResponse}.
 */
package dev.vessel.api;
