/*
 * vessel-agent: a small remote-exec server for Vessel guests.
 *
 * The main process listens (TCP or AF_VSOCK), forks one session process per
 * connection (session.c) and reaps every child, including orphans it inherits
 * as PID 1 or as a child subreaper. It never exits because of a client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent.h"
#include "protocol.h"

static int chld_pipe[2] = {-1, -1};

static void on_sigchld(int sig)
{
    (void)sig;
    int saved = errno;
    if (chld_pipe[1] >= 0) {
        char c = 0;
        ssize_t r = write(chld_pipe[1], &c, 1);
        (void)r;
    }
    errno = saved;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vessel-agent --listen SPEC [--token-file PATH] [--notify-ready]\n"
            "       vessel-agent --vmm-client SOCKET -- ARGS...\n"
            "       vessel-agent --connect-unix PATH | --connect-vsock CID:PORT | --connect-tcp IP:PORT"
            " | --connect-udp IP:PORT\n"
            "\n"
            "Remote-exec server for Vessel guests (protocol " VA_PROTOCOL_VERSION ").\n"
            "\n"
            "  --listen SPEC       where to listen:\n"
            "                        tcp:PORT           all IPv4 addresses\n"
            "                        tcp:ADDR:PORT      an IPv4 address, or [IPv6]\n"
            "                        vsock:PORT         AF_VSOCK, any CID\n"
            "                      PORT 0 picks a free port. The bound port is\n"
            "                      printed as the first line on stdout.\n"
            "  --notify-ready      once listening on vsock, tell the host: connect to\n"
            "                      its vsock port " VA_STR(VA_READY_PORT) " and send \"READY <port>\" (as the\n"
            "                      container init does)\n"
            "  --token-file PATH   shared secret; every connection must present it\n"
            "                      in its hello frame (a trailing newline in the\n"
            "                      file is ignored)\n"
            "  --vmm-client SOCKET run the Vessel command line ARGS in the standby VMM\n"
            "                      listening on SOCKET (see standby.h), with this\n"
            "                      process's stdio; exit with its status, or 200 at\n"
            "                      once when no standby takes it\n"
            "  --connect-unix PATH join stdin/stdout to the Unix stream socket PATH\n"
            "                      (how the host reaches a socket in the helper machine)\n"
            "  --connect-vsock CID:PORT  the same with a vsock stream (CID 2: the host)\n"
            "  --connect-tcp IP:PORT     the same with a TCP connection (a published port)\n"
            "  --connect-udp IP:PORT     datagrams to and from IP:PORT, each framed on\n"
            "                      stdin/stdout as a big-endian u16 length and its bytes\n"
            "  --help              show this help\n");
}

union any_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_vm vm;
};

static int parse_port(const char *s, unsigned long max, unsigned long *out)
{
    if (!*s || strlen(s) > 10)
        return -1;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_listen(const char *spec, union any_addr *a, socklen_t *alen)
{
    unsigned long port;
    memset(a, 0, sizeof *a);
    if (strncmp(spec, "vsock:", 6) == 0) {
        if (parse_port(spec + 6, 0xffffffffUL, &port) < 0)
            return -1;
        a->vm.svm_family = AF_VSOCK;
        a->vm.svm_cid = VMADDR_CID_ANY;
        a->vm.svm_port = (unsigned int)port;
        *alen = sizeof a->vm;
        return 0;
    }
    if (strncmp(spec, "tcp:", 4) != 0)
        return -1;
    const char *rest = spec + 4;
    const char *colon = strrchr(rest, ':');
    if (!colon) {
        if (parse_port(rest, 65535, &port) < 0)
            return -1;
        a->in4.sin_family = AF_INET;
        a->in4.sin_addr.s_addr = htonl(INADDR_ANY);
        a->in4.sin_port = htons((uint16_t)port);
        *alen = sizeof a->in4;
        return 0;
    }
    if (parse_port(colon + 1, 65535, &port) < 0)
        return -1;
    char host[64];
    size_t hlen = (size_t)(colon - rest);
    if (hlen == 0 || hlen >= sizeof host)
        return -1;
    memcpy(host, rest, hlen);
    host[hlen] = 0;
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']')
            return -1;
        host[hlen - 1] = 0;
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->in6.sin6_addr) != 1)
            return -1;
        *alen = sizeof a->in6;
        return 0;
    }
    a->in4.sin_family = AF_INET;
    a->in4.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->in4.sin_addr) != 1)
        return -1;
    *alen = sizeof a->in4;
    return 0;
}

static int open_listener(const union any_addr *a, socklen_t alen, unsigned long *bound_port)
{
    int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (a->sa.sa_family != AF_VSOCK)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, &a->sa, alen) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    union any_addr b;
    socklen_t blen = sizeof b;
    memset(&b, 0, sizeof b);
    if (getsockname(fd, &b.sa, &blen) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (b.sa.sa_family == AF_INET)
        *bound_port = ntohs(b.in4.sin_port);
    else if (b.sa.sa_family == AF_INET6)
        *bound_port = ntohs(b.in6.sin6_port);
    else
        *bound_port = b.vm.svm_port;
    return fd;
}

/* Reads the shared secret; a trailing "\n" or "\r\n" is not part of it. */
static int read_token(const char *path, uint8_t **tok, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "vessel-agent: cannot open token file %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(VA_MAX_TOKEN + 3);
    size_t n = 0;
    while (buf && n < VA_MAX_TOKEN + 3) {
        ssize_t r = read(fd, buf + n, VA_MAX_TOKEN + 3 - n);
        if (r > 0)
            n += (size_t)r;
        else if (r < 0 && errno == EINTR)
            continue;
        else if (r < 0) {
            fprintf(stderr, "vessel-agent: cannot read token file %s: %s\n", path, strerror(errno));
            close(fd);
            free(buf);
            return -1;
        } else
            break;
    }
    close(fd);
    if (!buf) {
        fprintf(stderr, "vessel-agent: out of memory\n");
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n == 0 || n > VA_MAX_TOKEN) {
        fprintf(stderr, "vessel-agent: token file %s must hold 1..%u bytes\n", path, VA_MAX_TOKEN);
        free(buf);
        return -1;
    }
    *tok = buf;
    *len = n;
    return 0;
}

/* fds 0-2 must exist, or sockets and pipes would land there (PID 1 may start without them). */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int n = open("/dev/null", O_RDWR);
        if (n < 0)
            n = open("/", O_RDONLY);
        if (n >= 0 && n != fd) {
            dup2(n, fd);
            close(n);
        }
    }
}

static void reap_all(void)
{
    for (;;) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p > 0)
            continue;
        if (p < 0 && errno == EINTR)
            continue;
        return;
    }
}

/* Forks the session process for conn. -1 if fork failed. */
static int start_session(int lfd, int conn, const struct agent_config *cfg)
{
    pid_t pid = fork();
    if (pid < 0) {
        agent_log("fork: %s", strerror(errno));
        close(conn);
        return -1;
    }
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGCHLD, &sa, NULL);
        close(lfd);
        close(chld_pipe[0]);
        close(chld_pipe[1]);
        chld_pipe[0] = chld_pipe[1] = -1;
        session_run(conn, cfg);
    }
    close(conn);
    return 0;
}

int main(int argc, char **argv)
{
    /* before ensure_std_fds: a client passes on the stdio it got, or none at all */
    if (argc > 1 && strcmp(argv[1], "--vmm-client") == 0)
        return vmm_client_main(argc, argv);
    if (argc > 1 && (strcmp(argv[1], "--connect-unix") == 0 || strcmp(argv[1], "--connect-vsock") == 0
                     || strcmp(argv[1], "--connect-tcp") == 0 || strcmp(argv[1], "--connect-udp") == 0))
        return unix_relay_main(argc, argv);
    ensure_std_fds();

    const char *listen_spec = NULL, *token_file = NULL;
    int notify_ready = 0;
    int container = getpid() == 1 && argc == 1; /* the kernel started us as /init */
    if (container) {
        if (container_init() < 0) {
            fprintf(stderr, "vessel-init: the container cannot start; powering off\n");
            container_poweroff();
        }
        listen_spec = "vsock:" VA_STR(VA_CONTAINER_PORT);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        const char *name = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--notify-ready") == 0) {
            notify_ready = 1;
            continue;
        }
        if (strncmp(a, "--listen", 8) == 0 && (a[8] == 0 || a[8] == '=')) {
            target = &listen_spec;
            name = "--listen";
        } else if (strncmp(a, "--token-file", 12) == 0 && (a[12] == 0 || a[12] == '=')) {
            target = &token_file;
            name = "--token-file";
        } else {
            fprintf(stderr, "vessel-agent: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        const char *eq = strchr(a, '=');
        if (eq) {
            *target = eq + 1;
        } else if (i + 1 < argc) {
            *target = argv[++i];
        } else {
            fprintf(stderr, "vessel-agent: %s needs a value\n", name);
            return 2;
        }
    }
    if (!listen_spec) {
        fprintf(stderr, "vessel-agent: --listen is required\n");
        usage(stderr);
        return 2;
    }

    union any_addr addr;
    socklen_t alen;
    if (parse_listen(listen_spec, &addr, &alen) < 0) {
        fprintf(stderr, "vessel-agent: bad --listen '%s' (want tcp:PORT, tcp:ADDR:PORT or vsock:PORT)\n",
                listen_spec);
        return 2;
    }
    struct agent_config cfg = {.token = NULL, .token_len = 0, .main_pid = getpid(), .container = container};
    if (token_file) {
        uint8_t *tok;
        if (read_token(token_file, &tok, &cfg.token_len) < 0)
            return 2;
        cfg.token = tok;
    }

    signal(SIGPIPE, SIG_IGN);
    if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "vessel-agent: pipe: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    /* Orphans of exec'd processes come to us (PID 1 gets them anyway). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    unsigned long port = 0;
    int lfd = open_listener(&addr, alen, &port);
    if (lfd < 0) {
        fprintf(stderr, "vessel-agent: cannot listen on %s: %s\n", listen_spec, strerror(errno));
        return 1;
    }
    printf("%lu\n", port);
    fflush(stdout);
    if (container) {
        container_mark("agent listening");
        container_ready(port);
    } else if (notify_ready) {
        if (addr.sa.sa_family != AF_VSOCK)
            fprintf(stderr, "vessel-agent: --notify-ready needs a vsock listener; ignored\n");
        else
            container_ready(port);
    }
    agent_log("listening on %s (port %lu, %s, %s)", listen_spec, port, VA_PROTOCOL_VERSION,
              cfg.token ? "token required" : "no token");

    /* After a resource error, leave the listener alone for a moment (it would
     * stay readable and make us spin). */
    int64_t backoff_until = 0;
    for (;;) {
        reap_all();
        int64_t wait = backoff_until ? backoff_until - now_ms() : -1;
        if (backoff_until && wait <= 0) {
            backoff_until = 0;
            wait = -1;
        }
        struct pollfd pf[2] = {{.fd = backoff_until ? -1 : lfd, .events = POLLIN},
                               {.fd = chld_pipe[0], .events = POLLIN}};
        int r = poll(pf, 2, (int)wait);
        if (r < 0) {
            if (errno != EINTR) {
                agent_log("poll: %s", strerror(errno));
                backoff_until = now_ms() + 100;
            }
            continue;
        }
        if (pf[1].revents)
            drain_fd(chld_pipe[0]);
        if (!(pf[0].revents & POLLIN))
            continue;
        for (int i = 0; i < 64; i++) {
            int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (conn >= 0) {
                if (start_session(lfd, conn, &cfg) == 0)
                    continue;
                backoff_until = now_ms() + 100;
                break;
            }
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM...: wait a little instead of spinning */
            agent_log("accept: %s", strerror(errno));
            backoff_until = now_ms() + 100;
            break;
        }
    }
}
