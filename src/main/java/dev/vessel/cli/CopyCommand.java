package dev.vessel.cli;

import dev.vessel.container.ContainerArchive;
import dev.vessel.container.ContainerException;
import dev.vessel.container.HostArchive;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/** `vessel cp`: files between a running container and this host, with docker cp's rules for where they land. */
@Command(name = "cp", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Copy files/folders between a container and the local filesystem.",
                "Use '-' as the source to read a tar archive from stdin and extract it to a directory destination in a "
                        + "container. Use '-' as the destination to stream a tar archive of a container source to stdout."},
        customSynopsis = {"vessel cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-", "       vessel cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"})
final class CopyCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-a", "--archive"}, description = "Archive mode (copy all uid/gid information).")
    boolean archive;

    @Option(names = {"-L", "--follow-link"}, description = "Always follow symbol link in SRC_PATH.")
    boolean followLink;

    @Parameters(index = "0", paramLabel = "SRC")
    String source;

    @Parameters(index = "1", paramLabel = "DEST")
    String destination;

    /** A side of the copy: a container's path, or (container null) a local one. */
    record Side(String container, String path) {
        /** docker's split: a colon before any slash, unless the argument starts with "/" or "." (a local path). */
        static Side parse(String arg) {
            if (arg.startsWith("/") || arg.startsWith(".") || arg.equals("-")) {
                return new Side(null, arg);
            }
            int colon = arg.indexOf(':');
            int slash = arg.indexOf('/');
            if (colon > 0 && (slash < 0 || colon < slash)) {
                return new Side(arg.substring(0, colon), arg.substring(colon + 1));
            }
            return new Side(null, arg);
        }
    }

    @Override
    public Integer call() throws Exception {
        Side from = Side.parse(source);
        Side to = Side.parse(destination);
        if ((from.container() == null) == (to.container() == null)) {
            throw new UserError(from.container() == null
                    ? "must specify at least one container source" : "copying between containers is not supported", 1);
        }
        ContainerArchive containers = ContainerSupport.service(main).archive();
        try {
            if (from.container() != null) {
                copyOut(containers, from, to.path());
            } else {
                copyIn(containers, from.path(), to);
            }
        } catch (ContainerException e) {
            throw new UserError(e.getMessage(), 1);
        }
        return 0;
    }

    private static String absolute(String containerPath) {
        return containerPath.startsWith("/") ? containerPath : "/" + containerPath;
    }

    private void copyOut(ContainerArchive containers, Side from, String dest) throws Exception {
        String src = absolute(from.path());
        ContainerArchive.PathStat stat = containers.stat(from.container(), src);
        if (followLink && (stat.mode() & (1L << 27)) != 0) {
            String target = stat.linkTarget();
            src = target.startsWith("/") ? target : Path.of(src).resolveSibling(target).toString();
            stat = containers.stat(from.container(), src);
        }
        if (dest.equals("-")) {
            try (OutputStream out = new FileOutputStream(FileDescriptor.out)) {
                containers.get(from.container(), src, out);
            }
            return;
        }
        Path local = Path.of(dest).toAbsolutePath();
        boolean exists = Files.exists(local, LinkOption.NOFOLLOW_LINKS);
        Path target;
        if (exists && Files.isDirectory(local)) {
            target = stat.name().equals(".") ? local : local.resolve(stat.name());
        } else if (exists) {
            if (stat.isDirectory()) {
                throw new UserError("cannot copy a directory to a file: " + dest, 1);
            }
            target = local;
        } else {
            if (dest.endsWith("/") && !stat.isDirectory()) {
                throw new UserError("destination directory \"" + dest + "\" does not exist", 1);
            }
            if (local.getParent() == null || !Files.isDirectory(local.getParent())) {
                throw new UserError("no such directory: " + local.getParent(), 1);
            }
            target = local;
        }
        String path = src;
        extractFrom(out -> containers.get(from.container(), path, out), target);
    }

    /** Runs {@code producer} (which writes a tar) and extracts what it writes at {@code target}, side by side. */
    private void extractFrom(TarProducer producer, Path target) throws Exception {
        PipedInputStream in = new PipedInputStream(1 << 20);
        PipedOutputStream out = new PipedOutputStream(in);
        CompletableFuture<Void> extracted = CompletableFuture.runAsync(() -> {
            try (in) {
                HostArchive.extract(in, target, archive);
            } catch (IOException | ContainerException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, r -> Thread.ofPlatform().name("cp-extract").start(r));
        try (out) {
            producer.write(out);
        } catch (IOException e) {
            if (!extracted.isCompletedExceptionally()) {
                throw e;
            }
        }
        try {
            extracted.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof ContainerException ce ? new UserError(ce.getMessage(), 1)
                    : new UserError("cannot write " + target + ": " + e.getCause().getMessage(), 1);
        }
    }

    @FunctionalInterface
    private interface TarProducer {
        void write(OutputStream tar) throws IOException, ContainerException;
    }

    private void copyIn(ContainerArchive containers, String src, Side to) throws Exception {
        String dest = absolute(to.path());
        if (src.equals("-")) {
            try (InputStream in = new FileInputStream(FileDescriptor.in)) {
                containers.put(to.container(), dest, in, new ContainerArchive.PutOptions(true, archive));
            }
            return;
        }
        Path local = Path.of(src).toAbsolutePath();
        if (!Files.exists(local, followLink ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS})) {
            throw new UserError("no such file or directory: " + src, 1);
        }
        boolean srcDir = Files.isDirectory(local, followLink ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS});
        boolean contents = src.endsWith("/.") || src.equals(".");
        String dir;
        String name;
        ContainerArchive.PathStat there = statOrNull(containers, to.container(), dest);
        if (there != null && there.isDirectory()) {
            dir = dest;
            name = contents ? "." : local.getFileName().toString();
        } else if (there != null) {
            if (srcDir) {
                throw new UserError("cannot copy a directory to a file: " + to.container() + ":" + dest, 1);
            }
            dir = parent(dest);
            name = Path.of(dest).getFileName().toString();
        } else {
            if (dest.endsWith("/")) {
                throw new UserError("destination directory \"" + to.container() + ":" + dest + "\" does not exist", 1);
            }
            dir = parent(dest);
            name = Path.of(dest).getFileName().toString();
        }
        String topName = name;
        PipedInputStream in = new PipedInputStream(1 << 20);
        PipedOutputStream out = new PipedOutputStream(in);
        CompletableFuture<Void> written = CompletableFuture.runAsync(() -> {
            try (out) {
                HostArchive.write(local, topName, followLink, out);
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, r -> Thread.ofPlatform().name("cp-archive").start(r));
        try (in) {
            containers.put(to.container(), dir, in, new ContainerArchive.PutOptions(true, archive));
        }
        try {
            written.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw new UserError("cannot read " + src + ": " + e.getCause().getMessage(), 1);
        }
    }

    private static String parent(String path) {
        Path p = Path.of(path).getParent();
        return p == null ? "/" : p.toString();
    }

    private static ContainerArchive.PathStat statOrNull(ContainerArchive containers, String container, String path)
            throws IOException, ContainerException {
        try {
            return containers.stat(container, path);
        } catch (ContainerException e) {
            if (e.kind() == ContainerException.Kind.NOT_FOUND && containers.stat(container, parent(path)) != null) {
                return null;
            }
            throw e;
        }
    }
}
