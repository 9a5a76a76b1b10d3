package dev.vessel.container;

import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Docker's restart policy ({@code --restart}, the Engine API's {@code HostConfig.RestartPolicy}):
 * what the container's supervisor does when the main process ends ({@link RestartManager}), and
 * whether the service starts the container when it starts ({@link #startsWithService}).
 *
 * @param name {@code no}, {@code always}, {@code unless-stopped} or {@code on-failure}
 * @param maximumRetryCount for {@code on-failure}: at most this many restarts in a row, 0 for no limit
 */
public record RestartPolicy(String name, int maximumRetryCount) {
    public static final String NO = "no";
    public static final String ALWAYS = "always";
    public static final String UNLESS_STOPPED = "unless-stopped";
    public static final String ON_FAILURE = "on-failure";
    public static final RestartPolicy NONE = new RestartPolicy(NO, 0);

    public RestartPolicy {
        // dockerd reads an empty name (clients before API 1.44 send it) as "no".
        name = name == null || name.isEmpty() ? NO : name;
    }

    /**
     * docker's CLI {@code --restart NAME[:COUNT]}, in its words; the name and the count are checked
     * by {@link #validate}, as dockerd checks them (null or empty: none).
     */
    public static RestartPolicy parse(String flag) throws ContainerException {
        if (flag == null || flag.isEmpty()) {
            return NONE;
        }
        int colon = flag.indexOf(':');
        if (colon < 0) {
            return new RestartPolicy(flag, 0);
        }
        if (colon == 0) {
            throw ContainerException.invalid("invalid restart policy format: no policy provided before colon");
        }
        String count = flag.substring(colon + 1);
        int n = 0;
        if (!count.isEmpty()) {
            try {
                n = Integer.parseInt(count);
            } catch (NumberFormatException e) {
                throw ContainerException.invalid("invalid restart policy format: maximum retry count must be an integer");
            }
        }
        return new RestartPolicy(flag.substring(0, colon), n);
    }

    /** dockerd's check of a policy (the CLI's and the API's alike), in its words. */
    public RestartPolicy validate() throws ContainerException {
        switch (name) {
            case NO, ALWAYS, UNLESS_STOPPED -> {
                if (maximumRetryCount != 0) {
                    throw ContainerException.invalid("invalid restart policy: maximum retry count can only be used with '"
                            + ON_FAILURE + "'" + (maximumRetryCount < 0 ? " and cannot be negative" : ""));
                }
            }
            case ON_FAILURE -> {
                if (maximumRetryCount < 0) {
                    throw ContainerException.invalid("invalid restart policy: maximum retry count cannot be negative");
                }
            }
            default -> throw ContainerException.invalid("invalid restart policy: unknown policy '" + name
                    + "'; use one of '" + NO + "', '" + ALWAYS + "', '" + ON_FAILURE + "', or '" + UNLESS_STOPPED + "'");
        }
        return this;
    }

    @JsonIgnore
    public boolean isNone() {
        return name.equals(NO);
    }

    /**
     * Whether the main process that ended with {@code exitCode} is started again, after {@code
     * restarts} restarts of this supervisor; never after the user stopped or killed it.
     */
    public boolean restartsAfter(int exitCode, boolean stoppedByUser, int restarts) {
        if (stoppedByUser) {
            return false;
        }
        return switch (name) {
            case ALWAYS, UNLESS_STOPPED -> true;
            case ON_FAILURE -> exitCode != 0 && (maximumRetryCount == 0 || restarts < maximumRetryCount);
            default -> false;
        };
    }

    /**
     * Whether the service starts a container that is not running when it starts, as dockerd does
     * when it starts: {@code always} ones, even those the user stopped, and {@code unless-stopped}
     * ones the user did not stop.
     */
    public boolean startsWithService(boolean stoppedByUser) {
        return name.equals(ALWAYS) || name.equals(UNLESS_STOPPED) && !stoppedByUser;
    }
}
