/*
 * vessel-agent --vmm-client SOCKET -- ARGS...: runs a Vessel command line in a
 * standby VMM (see standby.h). It sends the arguments, with this process's
 * stdin, stdout and stderr, passes SIGINT, SIGTERM and SIGHUP on to the VMM
 * and exits with the status the VMM reports. Where no standby takes the
 * command it exits VS_NO_STANDBY having done nothing, and the caller runs the
 * command itself.
 *
 * INT, TERM and HUP stay blocked except while waiting in ppoll, so a signal
 * is either seen before the standby took the command (then nothing ran, and
 * the client exits 128+N at once) or forwarded to the VMM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "standby.h"

extern char **environ;

static volatile sig_atomic_t vmm_pid = 0; /* the standby, once it took the command */
static volatile sig_atomic_t last_signal = 0;

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig)
{
    int saved = errno;
    last_signal = sig;
    pid_t p = (pid_t)vmm_pid;
    if (p > 0)
        kill(p, sig);
    errno = saved;
}

struct request {
    uint8_t *p; /* VS_MAX_PAYLOAD bytes */
    size_t len;
};

/* Appends "key=value\0". -1 when a limit would be broken. */
static int put_entry(struct request *r, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    if (vlen > VS_MAX_VALUE || r->len + klen + vlen + 2 > VS_MAX_PAYLOAD)
        return -1;
    memcpy(r->p + r->len, key, klen);
    r->len += klen;
    r->p[r->len++] = '=';
    memcpy(r->p + r->len, value, vlen);
    r->len += vlen;
    r->p[r->len++] = 0;
    return 0;
}

/* The request payload. -1 when it does not fit the protocol's limits. */
static int build_request(struct request *r, char **args, int nargs)
{
    if (nargs < 1 || (unsigned)nargs > VS_MAX_ARGS)
        return -1;
    for (int i = 0; i < nargs; i++)
        if (put_entry(r, "arg", args[i]) < 0)
            return -1;
    unsigned nenv = 0;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "VESSEL_", 7) != 0 || !strchr(*e, '='))
            continue;
        if (++nenv > VS_MAX_ENV || put_entry(r, "env", *e) < 0)
            return -1;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/')
        return -1;
    return put_entry(r, "cwd", cwd);
}

/* Header (with stdin, stdout, stderr as SCM_RIGHTS), then the payload. */
static int send_request(int fd, const struct request *r)
{
    uint8_t hdr[VS_HEADER_SIZE];
    memcpy(hdr, VS_REQUEST_MAGIC, 4);
    put_u32(hdr + 4, (uint32_t)r->len);
    int fds[VS_FDS] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof fds)];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = hdr, .iov_len = sizeof hdr};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t n;
    do
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    if ((size_t)n < sizeof hdr && send_all(fd, hdr + n, sizeof hdr - (size_t)n, -1) < 0)
        return -1;
    return send_all(fd, r->p, r->len, -1);
}

/*
 * Reads exactly len bytes, taking signals only inside ppoll. What the socket
 * already holds counts before a signal that came meanwhile.
 * 0 ok, -1 error, -2 end of stream, -3 a signal came first (only with stop_on_signal).
 */
static int wait_read(int fd, uint8_t *buf, size_t len, const sigset_t *waitmask, int stop_on_signal)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            return -2;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (stop_on_signal && last_signal)
            return -3;
        struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
        if (ppoll(&p, 1, NULL, waitmask) < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

int vmm_client_main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[1], "--vmm-client") != 0 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: vessel-agent --vmm-client SOCKET -- ARGS...\n");
        return 2;
    }
    const char *path = argv[2];

    /* Without all three standard streams there is nothing faithful to pass on. */
    for (int fd = 0; fd < VS_FDS; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            return VS_NO_STANDBY;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t fwd, waitmask;
    sigemptyset(&fwd);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(&fwd, forwarded_signals[i]);
    sigprocmask(SIG_BLOCK, &fwd, &waitmask);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigdelset(&waitmask, forwarded_signals[i]);
    sa.sa_handler = on_signal;
    sa.sa_mask = fwd;
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaction(forwarded_signals[i], &sa, NULL);

    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t plen = strlen(path);
    if (plen == 0 || plen >= sizeof addr.sun_path)
        return VS_NO_STANDBY;
    memcpy(addr.sun_path, path, plen);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VS_NO_STANDBY;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return VS_NO_STANDBY;
    }
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || clen != sizeof cred || cred.pid <= 0 ||
        cred.uid != geteuid()) {
        close(fd);
        return VS_NO_STANDBY;
    }

    struct request req = {.p = malloc(VS_MAX_PAYLOAD), .len = 0};
    if (!req.p || build_request(&req, argv + 4, argc - 4) < 0 || send_request(fd, &req) < 0) {
        free(req.p);
        close(fd);
        return VS_NO_STANDBY;
    }
    free(req.p);

    uint8_t answer[4];
    int r = wait_read(fd, answer, sizeof answer, &waitmask, 1);
    if (r == -3)
        return 128 + last_signal; /* stopped before the standby took the command */
    if (r < 0)
        return VS_NO_STANDBY; /* closed (or refused) without taking it: nothing ran */
    if (memcmp(answer, VS_ACCEPTED, 4) != 0) {
        fprintf(stderr, "vessel: the standby VMM (pid %d) does not speak this protocol\n", (int)cred.pid);
        return VS_LOST;
    }
    vmm_pid = cred.pid; /* from now on INT, TERM and HUP go to the VMM */
    if (last_signal)
        kill(cred.pid, last_signal); /* came while the acceptance was already on its way */

    r = wait_read(fd, answer, sizeof answer, &waitmask, 0);
    if (r == 0) {
        uint32_t status = get_u32(answer);
        if (status <= 255)
            return (int)status;
        fprintf(stderr, "vessel: the VMM (pid %d) reported exit status %u\n", (int)cred.pid, status);
        return VS_LOST;
    }
    if (last_signal)
        return 128 + last_signal;
    fprintf(stderr, "vessel: the VMM (pid %d, started as a standby) ended without an exit status\n", (int)cred.pid);
    return VS_LOST;
}
