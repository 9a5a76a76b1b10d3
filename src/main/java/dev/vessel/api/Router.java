package dev.vessel.api;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The routes: a method and a path template whose {@code {var}} parts match one path segment, and
 * {@code {var*}} the rest of the path as dockerd's {@code {name:.*}} does (image names have
 * slashes). The first route whose template matches wins, so fixed paths such as
 * {@code /images/json} go before templates that would also match them.
 */
final class Router {
    /** What a route does. */
    @FunctionalInterface
    interface Endpoint {
        ApiResponse handle(ApiRequest request) throws ApiException, IOException;
    }

    /**
     * @param greedy whether a variable takes the rest of the path (then another method's path may look alike)
     * @param streamsBody whether the endpoint reads its body as it arrives ({@link ApiRequest#stream})
     */
    private record Route(String method, Pattern pattern, List<String> names, boolean greedy, boolean streamsBody,
                         Endpoint endpoint) {}

    private static final Pattern VARIABLE = Pattern.compile("\\{([a-zA-Z]+)(\\*?)}");

    private final List<Route> routes = new ArrayList<>();

    Router add(String method, String template, Endpoint endpoint) {
        return add(method, template, false, endpoint);
    }

    /** A route whose endpoint reads its (large) body as it arrives, not held whole in memory. */
    Router addStreaming(String method, String template, Endpoint endpoint) {
        return add(method, template, true, endpoint);
    }

    private Router add(String method, String template, boolean streamsBody, Endpoint endpoint) {
        List<String> names = new ArrayList<>();
        boolean greedy = false;
        StringBuilder regex = new StringBuilder();
        Matcher m = VARIABLE.matcher(template);
        int last = 0;
        while (m.find()) {
            regex.append(Pattern.quote(template.substring(last, m.start())));
            greedy |= !m.group(2).isEmpty();
            regex.append(m.group(2).isEmpty() ? "([^/]+)" : "(.+)");
            names.add(m.group(1));
            last = m.end();
        }
        regex.append(Pattern.quote(template.substring(last)));
        routes.add(new Route(method, Pattern.compile(regex.toString()), names, greedy, streamsBody, endpoint));
        return this;
    }

    /** Whether the route that {@link #dispatch} would run for this method and path streams its body. */
    boolean streamsBody(String method, String path) {
        for (Route r : routes) {
            if (r.method().equals(method) && r.pattern().matcher(path).matches()) {
                return r.streamsBody();
            }
        }
        return false;
    }

    /**
     * Runs the request's route: 404 "page not found" for an unknown path, 405 for a path that a
     * route of another method names exactly ({@code POST /containers/json}).
     */
    ApiResponse dispatch(ApiRequest request) throws ApiException, IOException {
        boolean pathKnown = false;
        for (Route r : routes) {
            Matcher m = r.pattern().matcher(request.path());
            if (!m.matches()) {
                continue;
            }
            // HEAD is GET without the body (the server drops it).
            if (!r.method().equals(request.method()) && !(request.method().equals("HEAD") && r.method().equals("GET"))) {
                pathKnown |= !r.greedy();
                continue;
            }
            Map<String, String> vars = new HashMap<>();
            for (int i = 0; i < r.names().size(); i++) {
                vars.put(r.names().get(i), m.group(i + 1));
            }
            return r.endpoint().handle(request.withVariables(vars));
        }
        if (pathKnown) {
            throw new ApiException(405, "method " + request.method() + " not allowed on " + request.path());
        }
        throw ApiException.notFound("page not found");
    }
}
