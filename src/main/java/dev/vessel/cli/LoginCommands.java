package dev.vessel.cli;

import dev.vessel.registry.Credentials;
import dev.vessel.registry.DockerConfig;
import dev.vessel.registry.Endpoint;
import dev.vessel.registry.RegistryClient;
import dev.vessel.registry.RegistryException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/** `vessel login` and `vessel logout`: credentials in docker's config.json, as docker keeps them. */
final class LoginCommands {
    private LoginCommands() {}

    /** {@code https://host/v1/} or {@code host} → {@code host}; nothing → Docker Hub. */
    static Endpoint endpoint(String server) {
        if (server == null || server.isBlank()) {
            return Endpoint.of("docker.io");
        }
        String s = server.strip();
        int scheme = s.indexOf("://");
        if (scheme >= 0) {
            s = s.substring(scheme + 3);
        }
        int slash = s.indexOf('/');
        if (slash >= 0) {
            s = s.substring(0, slash);
        }
        return Endpoint.of(s);
    }

    @Command(name = "login", mixinStandardHelpOptions = true,
            description = {"Log in to a registry (default: Docker Hub).",
                    "The credentials are checked with the registry, then stored in docker's config.json "
                            + "($DOCKER_CONFIG/config.json, default ~/.docker/config.json) for pull and run."},
            footer = {"", "Exit status: 0, or 1 (the registry refused the credentials, or none were given)."})
    static final class Login implements Callable<Integer> {
        @Parameters(index = "0", arity = "0..1", paramLabel = "SERVER")
        String server;

        @Option(names = {"-u", "--username"}, paramLabel = "USER", description = "Username.")
        String username;

        @Option(names = {"-p", "--password"}, paramLabel = "PASSWORD", description = "Password or token (prefer --password-stdin).")
        String password;

        @Option(names = "--password-stdin", description = "Take the password or token from STDIN.")
        boolean passwordStdin;

        @Override
        public Integer call() {
            try {
                if (password != null && passwordStdin) {
                    throw new RegistryException("--password and --password-stdin are mutually exclusive");
                }
                if (passwordStdin) {
                    if (username == null || username.isEmpty()) {
                        throw new RegistryException("Must provide --username with --password-stdin");
                    }
                    password = stripNewline(new String(System.in.readNBytes(64 << 10), StandardCharsets.UTF_8));
                } else if (password != null) {
                    System.err.println("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
                }
                java.io.Console console = System.console();
                if (username == null || username.isEmpty()) {
                    if (console == null || !console.isTerminal()) {
                        throw new RegistryException("Cannot perform an interactive login from a non TTY device");
                    }
                    username = console.readLine("Username: ");
                }
                if (password == null) {
                    if (console == null || !console.isTerminal()) {
                        throw new RegistryException("Cannot perform an interactive login from a non TTY device");
                    }
                    char[] p = console.readPassword("Password: ");
                    password = p == null ? "" : new String(p);
                }
                if (username == null || username.isBlank() || password.isEmpty()) {
                    throw new RegistryException("Error: Non-null Username and Password required");
                }
                Endpoint endpoint = endpoint(server);
                try (RegistryClient client = new RegistryClient(endpoint, Credentials.basic(username.strip(), password))) {
                    client.checkLogin();
                }
                DockerConfig.standard().store(endpoint, username.strip(), password);
                System.out.println("Login Succeeded");
                return 0;
            } catch (IOException | RegistryException e) {
                return PullSupport.fail(e, 1);
            }
        }

        static String stripNewline(String s) {
            String out = s;
            while (out.endsWith("\n") || out.endsWith("\r")) {
                out = out.substring(0, out.length() - 1);
            }
            return out;
        }
    }

    @Command(name = "logout", mixinStandardHelpOptions = true,
            description = "Log out from a registry (default: Docker Hub): remove its credentials from docker's config.json.",
            footer = {"", "Exit status: 0, or 1 (config.json could not be read or written)."})
    static final class Logout implements Callable<Integer> {
        @Parameters(index = "0", arity = "0..1", paramLabel = "SERVER")
        String server;

        @Override
        public Integer call() {
            try {
                Endpoint endpoint = endpoint(server);
                String shown = endpoint.authKey();
                if (DockerConfig.standard().remove(endpoint)) {
                    System.out.println("Removing login credentials for " + shown);
                } else {
                    System.out.println("Not logged in to " + shown);
                }
                return 0;
            } catch (IOException | RegistryException e) {
                return PullSupport.fail(e, 1);
            }
        }
    }
}
