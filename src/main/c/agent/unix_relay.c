/*
 * vessel-agent --connect-unix PATH | --connect-vsock CID:PORT: joins this process's stdin/stdout
 * to a Unix or vsock stream socket.
 *
 * Why: a VM that runs inside the helper machine has its hybrid-vsock socket there; the host
 * reaches it by running this through an exec session, whose stdin and stdout carry the bytes.
 * Half-closes pass through both ways (stdin EOF -> shutdown(SHUT_WR); socket EOF -> stdout closed),
 * so request/response protocols that end with EOF work as on a direct connection.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

#include "agent.h"

/* Copies what one read returns; 1 on data, 0 on EOF, -1 on error. */
static int pump(int from, int to)
{
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : -1;
    if (n == 0)
        return 0;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += w;
    }
    return 1;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "vessel-agent: socket path too long: %s\n", path);
        return -2;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "vessel-agent: cannot connect to %s: %s\n", path, strerror(errno));
        return -1;
    }
    return s;
}

/* "CID:PORT", both decimal (CID 2 is the host). */
static int connect_vsock(const char *spec)
{
    char *end;
    errno = 0;
    unsigned long cid = strtoul(spec, &end, 10);
    if (errno || end == spec || *end != ':' || cid > 0xFFFFFFFFul) {
        fprintf(stderr, "vessel-agent: bad vsock address '%s' (want CID:PORT)\n", spec);
        return -2;
    }
    const char *p = end + 1;
    unsigned long port = strtoul(p, &end, 10);
    if (errno || end == p || *end || port > 0xFFFFFFFFul) {
        fprintf(stderr, "vessel-agent: bad vsock address '%s' (want CID:PORT)\n", spec);
        return -2;
    }
    struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = (unsigned)cid, .svm_port = (unsigned)port};
    int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "vessel-agent: cannot connect to vsock %s: %s\n", spec, strerror(errno));
        return -1;
    }
    return s;
}

int unix_relay_main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vessel-agent --connect-unix PATH | --connect-vsock CID:PORT\n");
        return 2;
    }
    int s = strcmp(argv[1], "--connect-vsock") == 0 ? connect_vsock(argv[2]) : connect_unix(argv[2]);
    if (s < 0)
        return s == -2 ? 2 : 1;
    signal(SIGPIPE, SIG_IGN);
    int in_open = 1, sock_open = 1;
    while (sock_open) {
        struct pollfd p[2] = {{.fd = in_open ? 0 : -1, .events = POLLIN}, {.fd = s, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (in_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            int r = pump(0, s);
            if (r <= 0) {
                in_open = 0;
                shutdown(s, SHUT_WR);
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            int r = pump(s, 1);
            if (r <= 0)
                sock_open = 0;
        }
    }
    close(1);
    close(s);
    return 0;
}
