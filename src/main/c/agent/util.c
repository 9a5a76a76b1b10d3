/* Small helpers: logging, big-endian codecs, EINTR-safe deadline I/O. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"

void agent_log(const char *fmt, ...)
{
    int saved = errno;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "vessel-agent[%d]: ", (int)getpid());
    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(STDERR_FILENO, buf + off, len - off);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    errno = saved;
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Empties a non-blocking self-pipe. */
void drain_fd(int fd)
{
    char buf[64];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return;
    }
}

void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Constant-time comparison: the running time depends only on given_len (which
 * the client chose), never on where the bytes differ. secret_len must be > 0.
 */
int ct_equal(const uint8_t *given, size_t given_len, const uint8_t *secret, size_t secret_len)
{
    volatile unsigned diff = given_len != secret_len;
    for (size_t i = 0; i < given_len; i++) {
        size_t j = i < secret_len ? i : 0;
        diff |= (unsigned)(given[i] ^ secret[j]);
    }
    return diff == 0;
}

/* Waits for events on fd until deadline (<0: forever). revents > 0, or -1 with errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            timeout = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int r = poll(&p, 1, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r > 0)
            return p.revents;
    }
}

int recv_exact(int fd, void *buf, size_t len, int64_t deadline)
{
    uint8_t *b = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, b + got, len - got, 0);
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
        if (wait_fd(fd, POLLIN, deadline) < 0)
            return -1;
    }
    return 0;
}

int send_all(int fd, const void *buf, size_t len, int64_t deadline)
{
    const uint8_t *b = buf;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, b + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (wait_fd(fd, POLLOUT, deadline) < 0)
            return -1;
    }
    return 0;
}

int send_frame(int fd, uint8_t type, const void *payload, uint32_t len, int64_t deadline)
{
    uint8_t hdr[VA_HEADER_SIZE];
    hdr[0] = type;
    put_u32(hdr + 1, len);
    if (send_all(fd, hdr, sizeof hdr, deadline) < 0)
        return -1;
    return len ? send_all(fd, payload, len, deadline) : 0;
}

int recv_frame(int fd, uint8_t *type, uint8_t **payload, uint32_t *len, int64_t deadline)
{
    uint8_t hdr[VA_HEADER_SIZE];
    *payload = NULL;
    int r = recv_exact(fd, hdr, sizeof hdr, deadline);
    if (r < 0)
        return r;
    uint32_t n = get_u32(hdr + 1);
    if (n > VA_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t *p = malloc((size_t)n + 1);
    if (!p)
        return -1;
    r = recv_exact(fd, p, n, deadline);
    if (r < 0) {
        free(p);
        if (r == -2) { /* EOF inside a frame is an error */
            errno = ECONNRESET;
            r = -1;
        }
        return r;
    }
    p[n] = 0;
    *type = hdr[0];
    *payload = p;
    *len = n;
    return 0;
}
