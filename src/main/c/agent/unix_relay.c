/*
 * vessel-agent --connect-unix PATH | --connect-vsock CID:PORT | --connect-tcp IP:PORT: joins this
 * process's stdin/stdout to a Unix, vsock or TCP stream socket. --connect-udp IP:PORT: to a UDP
 * socket, each datagram framed on stdin and stdout as a big-endian u16 length and its bytes.
 *
 * Why: a VM that runs inside the helper machine has its hybrid-vsock socket there, and a container
 * there its address on a bridge there; the host reaches them by running this through an exec
 * session, whose stdin and stdout carry the bytes (a published port's connections, say).
 * Half-closes pass through both ways (stdin EOF -> shutdown(SHUT_WR); socket EOF -> stdout closed),
 * so request/response protocols that end with EOF work as on a direct connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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

/* "A.B.C.D:PORT" (PORT 1..65535), connected with a socket of TYPE. */
static int connect_inet(const char *spec, int type)
{
    char ip[16];
    const char *colon = strrchr(spec, ':');
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (!colon || (size_t)(colon - spec) >= sizeof ip || *end || port < 1 || port > 65535) {
        fprintf(stderr, "vessel-agent: bad address '%s' (want IPv4:PORT)\n", spec);
        return -2;
    }
    memcpy(ip, spec, (size_t)(colon - spec));
    ip[colon - spec] = 0;
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        fprintf(stderr, "vessel-agent: bad address '%s' (want IPv4:PORT)\n", spec);
        return -2;
    }
    sa.sin_port = htons((unsigned short)port);
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "vessel-agent: cannot connect to %s: %s\n", spec, strerror(errno));
        return -1;
    }
    return s;
}

/* Reads exactly len bytes; 1, 0 on EOF before any, -1 on error or EOF midway. */
static int read_full(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 && got == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}

static int write_full(int fd, const unsigned char *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Datagrams both ways, framed on the stream side; ends at stdin EOF. */
static int udp_relay(int s)
{
    static unsigned char buf[65536 + 2];
    int in_open = 1;
    while (in_open) {
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = s, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            int r = read_full(0, buf, 2);
            size_t len = r > 0 ? ((size_t)buf[0] << 8) | buf[1] : 0;
            if (r <= 0 || read_full(0, buf + 2, len) < 0 || (len > 0 && len > 65507)) {
                in_open = 0;
                continue;
            }
            send(s, buf + 2, len, 0); /* a refused datagram is lost, as on the wire */
        }
        if (p[1].revents & (POLLIN | POLLERR)) {
            ssize_t n = recv(s, buf + 2, 65535, 0);
            if (n >= 0) {
                buf[0] = (unsigned char)(n >> 8);
                buf[1] = (unsigned char)n;
                if (write_full(1, buf, (size_t)n + 2) < 0)
                    return 1;
            }
        }
    }
    close(1);
    close(s);
    return 0;
}

int unix_relay_main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vessel-agent --connect-unix PATH | --connect-vsock CID:PORT | --connect-tcp IP:PORT"
                        " | --connect-udp IP:PORT\n");
        return 2;
    }
    int udp = strcmp(argv[1], "--connect-udp") == 0;
    int s = strcmp(argv[1], "--connect-vsock") == 0 ? connect_vsock(argv[2])
            : strcmp(argv[1], "--connect-tcp") == 0 ? connect_inet(argv[2], SOCK_STREAM)
            : udp                                   ? connect_inet(argv[2], SOCK_DGRAM)
                                                    : connect_unix(argv[2]);
    if (s < 0)
        return s == -2 ? 2 : 1;
    if (udp) {
        signal(SIGPIPE, SIG_IGN);
        return udp_relay(s);
    }
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
