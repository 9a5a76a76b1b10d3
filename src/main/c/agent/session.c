/*
 * One connection: hello, exec request, then relay stdio between the socket
 * and the process until it exits (or the client goes away).
 *
 * Buffering is bounded in both directions:
 *  - process output is read only while the socket send buffer (sbuf) has
 *    room, so a slow client stalls the process instead of growing memory;
 *  - at most one 'I' frame is held (ibuf); while it is not fully written to
 *    the process, the socket is not read beyond the next 'I' frame.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"

#define HANDSHAKE_TIMEOUT_MS 30000
#define REJECT_TIMEOUT_MS 5000
#define LINGER_TIMEOUT_MS 5000
#define SBUF_CAP (256u * 1024u)
#define READ_CHUNK (64u * 1024u)
#define MIN_ROOM 4096u
#define RBUF_CAP (VA_HEADER_SIZE + VA_MAX_PAYLOAD)
/* After the process exited: forward at most this much per stream (a
 * background process may keep writing forever). */
#define DRAIN_CAP (4u * 1024u * 1024u)

volatile sig_atomic_t session_child_pid = 0;
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

/* The main agent process died (PR_SET_PDEATHSIG) or someone asked us to stop. */
static void on_sigterm(int sig)
{
    (void)sig;
    pid_t p = (pid_t)session_child_pid;
    if (p > 0) {
        kill(-p, SIGKILL);
        kill(p, SIGKILL);
    }
    _exit(1);
}

/* Half-close, discard what the client still sends, close when it closed. */
__attribute__((noreturn)) static void finish(int sock)
{
    shutdown(sock, SHUT_WR);
    int64_t deadline = now_ms() + LINGER_TIMEOUT_MS;
    char buf[4096];
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = sock, .events = POLLIN, .revents = 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = recv(sock, buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            break;
    }
    close(sock);
    _exit(0);
}

/* Sends 'F' (errno + message) and ends the session. */
__attribute__((noreturn)) static void reject(int sock, int err, const char *msg)
{
    size_t mlen = strlen(msg);
    if (mlen > 1024)
        mlen = 1024;
    uint8_t buf[4 + 1024];
    put_u32(buf, (uint32_t)err);
    memcpy(buf + 4, msg, mlen);
    if (send_frame(sock, VA_FAILURE, buf, (uint32_t)(4 + mlen), now_ms() + REJECT_TIMEOUT_MS) < 0) {
        close(sock);
        _exit(0);
    }
    finish(sock);
}

struct outsrc {
    int fd;
    uint8_t type;
    int open;
};

struct relay {
    int sock;
    int tty;
    int master;
    pid_t pid;
    int exited;
    int status;

    struct outsrc out[2];
    int nout;

    int in_fd;
    int in_open; /* the process may still read stdin */
    int in_eof;  /* the client sent stdin EOF */
    uint8_t veof;
    int at_line_start;
    int blocked; /* a complete 'I' frame waits in rbuf for ibuf to empty */

    uint8_t *ibuf; /* pending stdin bytes [ioff, iend) */
    size_t ioff, iend;
    uint8_t *rbuf; /* received, unparsed bytes [rstart, rend) */
    size_t rstart, rend;
    uint8_t *sbuf; /* frames to send [soff, sfill) */
    size_t soff, sfill;
};

static void close_in(struct relay *R)
{
    if (R->in_open && !R->tty)
        close(R->in_fd);
    R->in_open = 0;
    R->ioff = R->iend = 0;
}

static void close_out(struct relay *R, int k)
{
    if (R->out[k].open && !R->tty)
        close(R->out[k].fd);
    R->out[k].open = 0;
}

static void check_child(struct relay *R)
{
    for (;;) {
        int st;
        pid_t p = waitpid(R->pid, &st, WNOHANG);
        if (p == R->pid) {
            R->exited = 1;
            if (WIFEXITED(st))
                R->status = WEXITSTATUS(st);
            else if (WIFSIGNALED(st))
                R->status = 128 + WTERMSIG(st);
            else
                R->status = 255;
            session_child_pid = 0;
            return;
        }
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0) {
            agent_log("waitpid: %s", strerror(errno));
            R->exited = 1;
            R->status = 255;
            session_child_pid = 0;
        }
        return;
    }
}

/* Free space at the end of sbuf, compacting it when that helps. */
static size_t sbuf_room(struct relay *R)
{
    if (R->soff == R->sfill) {
        R->soff = R->sfill = 0;
    } else if (R->soff > 0 && SBUF_CAP - R->sfill < VA_HEADER_SIZE + MIN_ROOM) {
        memmove(R->sbuf, R->sbuf + R->soff, R->sfill - R->soff);
        R->sfill -= R->soff;
        R->soff = 0;
    }
    return SBUF_CAP - R->sfill;
}

/* Sends what the socket accepts now. -1: the connection is gone. */
static int flush_some(struct relay *R)
{
    while (R->soff < R->sfill) {
        ssize_t n = send(R->sock, R->sbuf + R->soff, R->sfill - R->soff, MSG_NOSIGNAL);
        if (n > 0) {
            R->soff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
    R->soff = R->sfill = 0;
    return 0;
}

/* Sends everything buffered, discarding client input meanwhile (used once the
 * process has exited). -1: the connection is gone. */
static int flush_blocking(struct relay *R)
{
    while (R->soff < R->sfill) {
        if (flush_some(R) < 0)
            return -1;
        if (R->soff >= R->sfill)
            break;
        struct pollfd p = {.fd = R->sock, .events = POLLOUT | POLLIN | POLLRDHUP, .revents = 0};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL | POLLRDHUP))
            return -1;
        if (p.revents & POLLIN) {
            ssize_t n = recv(R->sock, R->rbuf, RBUF_CAP, 0);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
                return -1;
        }
    }
    return 0;
}

/* Reads one chunk of output into sbuf as a frame. 1 if bytes were read. */
static int read_output(struct relay *R, int k)
{
    struct outsrc *o = &R->out[k];
    if (!o->open)
        return 0;
    size_t room = sbuf_room(R);
    if (room < VA_HEADER_SIZE + 1)
        return 0;
    size_t want = room - VA_HEADER_SIZE;
    if (want > READ_CHUNK)
        want = READ_CHUNK;
    for (;;) {
        uint8_t *hdr = R->sbuf + R->sfill;
        ssize_t n = read(o->fd, hdr + VA_HEADER_SIZE, want);
        if (n > 0) {
            hdr[0] = o->type;
            put_u32(hdr + 1, (uint32_t)n);
            R->sfill += VA_HEADER_SIZE + (size_t)n;
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        /* EOF, or EIO from a pty whose slave side is closed everywhere */
        close_out(R, k);
        return 0;
    }
}

static int process_frames(struct relay *R);

/* Writes pending stdin to the process. */
static int write_stdin(struct relay *R)
{
    while (R->in_open && R->ioff < R->iend) {
        ssize_t n = write(R->in_fd, R->ibuf + R->ioff, R->iend - R->ioff);
        if (n > 0) {
            uint8_t last = R->ibuf[R->ioff + (size_t)n - 1];
            R->at_line_start = last == '\n' || last == '\r';
            R->ioff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        /* EPIPE/EIO/...: the process does not read stdin any more */
        close_in(R);
    }
    R->ioff = R->iend = 0;
    if (!R->tty && R->in_eof && R->in_open)
        close_in(R);
    return R->blocked ? process_frames(R) : 0;
}

static void handle_stdin(struct relay *R, const uint8_t *p, uint32_t len)
{
    if (R->in_eof || !R->in_open)
        return; /* after EOF, or nobody reads: discard */
    if (len == 0) {
        R->in_eof = 1;
        if (R->tty) {
            /* ^D ends the read only at the start of a line; else it first flushes the line */
            R->ibuf[0] = R->veof;
            R->iend = 1;
            if (!R->at_line_start)
                R->ibuf[R->iend++] = R->veof;
            R->ioff = 0;
        } else {
            close_in(R);
        }
        return;
    }
    memcpy(R->ibuf, p, len);
    R->ioff = 0;
    R->iend = len;
}

/* Handles every complete frame in rbuf. -1: protocol violation. */
static int process_frames(struct relay *R)
{
    R->blocked = 0;
    for (;;) {
        size_t avail = R->rend - R->rstart;
        if (avail < VA_HEADER_SIZE)
            break;
        const uint8_t *h = R->rbuf + R->rstart;
        uint8_t type = h[0];
        uint32_t len = get_u32(h + 1);
        if (len > VA_MAX_PAYLOAD) {
            agent_log("protocol error: frame of %u bytes", len);
            return -1;
        }
        if (avail < VA_HEADER_SIZE + (size_t)len)
            break;
        const uint8_t *p = h + VA_HEADER_SIZE;
        switch (type) {
        case VA_STDIN:
            if (R->ioff < R->iend) {
                R->blocked = 1;
                return 0;
            }
            handle_stdin(R, p, len);
            break;
        case VA_RESIZE:
            if (len != 4) {
                agent_log("protocol error: resize frame of %u bytes", len);
                return -1;
            }
            if (R->tty) {
                struct winsize ws = {.ws_row = get_u16(p), .ws_col = get_u16(p + 2)};
                if (ioctl(R->master, TIOCSWINSZ, &ws) < 0)
                    agent_log("TIOCSWINSZ: %s", strerror(errno));
            }
            break;
        case VA_SIGNAL:
            if (len != 1 || p[0] < 1 || p[0] > VA_MAX_SIGNAL) {
                agent_log("protocol error: bad signal frame");
                return -1;
            }
            if (!R->exited && kill(-R->pid, p[0]) < 0 && errno == ESRCH)
                kill(R->pid, p[0]);
            break;
        default:
            agent_log("protocol error: unexpected frame type 0x%02x", type);
            return -1;
        }
        R->rstart += VA_HEADER_SIZE + (size_t)len;
    }
    if (R->rstart == R->rend)
        R->rstart = R->rend = 0;
    return 0;
}

/* Reads from the socket and handles complete frames. -1: drop the connection. */
static int sock_read(struct relay *R)
{
    if (R->rstart > 0) {
        memmove(R->rbuf, R->rbuf + R->rstart, R->rend - R->rstart);
        R->rend -= R->rstart;
        R->rstart = 0;
    }
    if (R->rend >= RBUF_CAP)
        return 0;
    for (;;) {
        ssize_t n = recv(R->sock, R->rbuf + R->rend, RBUF_CAP - R->rend, 0);
        if (n > 0) {
            R->rend += (size_t)n;
            return process_frames(R);
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

/* Relays until the process exits (0) or the client is gone or misbehaves (-1). */
static int relay_loop(struct relay *R)
{
    while (!R->exited) {
        struct pollfd pf[5];
        nfds_t n = 0;
        int is, ic, io[2] = {-1, -1}, ii = -1;

        short sev = POLLRDHUP;
        if (!R->blocked && R->rend - R->rstart < RBUF_CAP)
            sev |= POLLIN;
        if (R->soff < R->sfill)
            sev |= POLLOUT;
        pf[n] = (struct pollfd){.fd = R->sock, .events = sev};
        is = (int)n++;
        pf[n] = (struct pollfd){.fd = chld_pipe[0], .events = POLLIN};
        ic = (int)n++;
        int room = sbuf_room(R) >= VA_HEADER_SIZE + MIN_ROOM;
        for (int k = 0; k < R->nout; k++) {
            if (R->out[k].open && room) {
                pf[n] = (struct pollfd){.fd = R->out[k].fd, .events = POLLIN};
                io[k] = (int)n++;
            }
        }
        if (R->in_open && R->ioff < R->iend) {
            if (R->tty && io[0] >= 0) {
                pf[io[0]].events |= POLLOUT;
                ii = io[0];
            } else {
                pf[n] = (struct pollfd){.fd = R->in_fd, .events = POLLOUT};
                ii = (int)n++;
            }
        }

        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            agent_log("poll: %s", strerror(errno));
            return -1;
        }
        if (pf[ic].revents) {
            drain_fd(chld_pipe[0]);
            check_child(R);
        }
        short sr = pf[is].revents;
        if (sr & (POLLERR | POLLHUP | POLLNVAL | POLLRDHUP))
            return -1;
        if ((sr & POLLOUT) && flush_some(R) < 0)
            return -1;
        if ((sr & POLLIN) && sock_read(R) < 0)
            return -1;
        for (int k = 0; k < R->nout; k++)
            if (io[k] >= 0 && (pf[io[k]].revents & (POLLIN | POLLHUP | POLLERR)))
                read_output(R, k);
        if (ii >= 0 && (pf[ii].revents & (POLLOUT | POLLHUP | POLLERR)) && write_stdin(R) < 0)
            return -1;
        if (R->soff < R->sfill && flush_some(R) < 0)
            return -1;
    }
    return 0;
}

/* The process has exited: forward what is readable now, then 'X'. */
static int finish_exit(struct relay *R)
{
    close_in(R);
    for (int k = 0; k < R->nout; k++) {
        size_t total = 0;
        while (R->out[k].open && total < DRAIN_CAP) {
            if (sbuf_room(R) < VA_HEADER_SIZE + MIN_ROOM && flush_blocking(R) < 0)
                return -1;
            size_t before = R->sfill;
            if (!read_output(R, k))
                break; /* EOF, EIO or nothing more right now */
            total += R->sfill - before;
        }
    }
    if (sbuf_room(R) < VA_HEADER_SIZE + 4 && flush_blocking(R) < 0)
        return -1;
    uint8_t *h = R->sbuf + R->sfill;
    h[0] = VA_EXIT;
    put_u32(h + 1, 4);
    put_u32(h + VA_HEADER_SIZE, (uint32_t)R->status);
    R->sfill += VA_HEADER_SIZE + 4;
    return flush_blocking(R);
}

static void kill_and_reap(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    session_child_pid = 0;
}

void session_run(int sock, const struct agent_config *cfg)
{
    /* if the main agent process dies, take our process down with us */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() != cfg->main_pid)
        _exit(0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        agent_log("pipe: %s", strerror(errno));
        close(sock);
        _exit(1);
    }
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    set_nonblock(sock);
    int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on vsock */

    int64_t deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
    uint8_t type = 0, *payload = NULL;
    uint32_t len = 0;

    int r = recv_frame(sock, &type, &payload, &len, deadline);
    if (r == -2) {
        close(sock);
        _exit(0);
    }
    if (r < 0) {
        if (errno == EMSGSIZE)
            reject(sock, EPROTO, "frame too large");
        agent_log("hello: %s", strerror(errno));
        close(sock);
        _exit(0);
    }
    if (type != VA_HELLO)
        reject(sock, EPROTO, "expected a hello frame");
    if (cfg->token && !ct_equal(payload, len, cfg->token, cfg->token_len)) {
        agent_log("authentication failed");
        reject(sock, EACCES, "authentication failed");
    }
    free(payload);
    if (send_frame(sock, VA_HELLO_REPLY, VA_PROTOCOL_VERSION, (uint32_t)strlen(VA_PROTOCOL_VERSION), deadline) < 0) {
        close(sock);
        _exit(0);
    }

    r = recv_frame(sock, &type, &payload, &len, deadline);
    if (r == -2) {
        close(sock);
        _exit(0);
    }
    if (r < 0) {
        if (errno == EMSGSIZE)
            reject(sock, EPROTO, "frame too large");
        agent_log("exec request: %s", strerror(errno));
        close(sock);
        _exit(0);
    }
    if (type == VA_POWEROFF) {
        if (!cfg->container)
            reject(sock, EPERM, "power-off is for the container init only");
        agent_log("power-off requested by the host");
        container_poweroff();
    }
    if (type != VA_EXEC)
        reject(sock, EPROTO, "expected an exec request frame");

    struct exec_req req;
    char msg[512];
    if (exec_req_parse(payload, len, &req, msg, sizeof msg) < 0)
        reject(sock, EINVAL, msg);
    struct spawned sp;
    int err = 0;
    if (spawn_process(&req, &sp, &err, msg, sizeof msg) < 0)
        reject(sock, err, msg);
    exec_req_free(&req);
    free(payload);

    struct relay R;
    memset(&R, 0, sizeof R);
    R.sock = sock;
    R.tty = sp.tty;
    R.master = sp.master;
    R.pid = sp.pid;
    R.in_fd = sp.in_fd;
    R.in_open = 1;
    R.at_line_start = 1;
    R.veof = 4; /* ^D */
    R.out[0] = (struct outsrc){.fd = sp.out_fd, .type = VA_STDOUT, .open = 1};
    R.nout = 1;
    if (!sp.tty)
        R.out[R.nout++] = (struct outsrc){.fd = sp.err_fd, .type = VA_STDERR, .open = 1};
    if (sp.tty) {
        struct termios t;
        if (tcgetattr(sp.master, &t) == 0 && t.c_cc[VEOF] != 0)
            R.veof = t.c_cc[VEOF];
    }
    R.ibuf = malloc(VA_MAX_PAYLOAD);
    R.rbuf = malloc(RBUF_CAP);
    R.sbuf = malloc(SBUF_CAP);
    if (!R.ibuf || !R.rbuf || !R.sbuf) {
        agent_log("out of memory");
        kill_and_reap(R.pid);
        close(sock);
        _exit(1);
    }

    if (relay_loop(&R) < 0) {
        kill_and_reap(R.pid);
        close(sock);
        _exit(0);
    }
    if (finish_exit(&R) < 0) {
        close(sock);
        _exit(0);
    }
    finish(sock);
}
