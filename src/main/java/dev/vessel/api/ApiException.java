package dev.vessel.api;

import dev.vessel.container.ContainerException;
import dev.vessel.image.ImageConflictException;
import dev.vessel.image.ImageException;
import dev.vessel.image.InvalidReferenceException;
import dev.vessel.image.NoSuchImageException;
import dev.vessel.network.NetworkException;

/** A request the API refuses or fails, with the HTTP status and docker's message for it. */
public final class ApiException extends Exception {
    private final int status;

    public ApiException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public static ApiException badRequest(String message) {
        return new ApiException(400, message);
    }

    public static ApiException notFound(String message) {
        return new ApiException(404, message);
    }

    static ApiException of(ContainerException e) {
        return new ApiException(e.httpStatus(), e.getMessage());
    }

    static ApiException of(NetworkException e) {
        return new ApiException(e.httpStatus(), e.getMessage());
    }

    static ApiException of(ImageException e) {
        int status = switch (e) {
            case NoSuchImageException n -> 404;
            case ImageConflictException c -> 409;
            case InvalidReferenceException r -> 400;
            default -> 500;
        };
        return new ApiException(status, e.getMessage());
    }
}
