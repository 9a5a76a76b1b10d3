/*
 * Starts the requested process: a new session, stdio on pipes or on a
 * pseudo-terminal, and exec failures reported back through a CLOEXEC pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"

extern char **environ;

/* What the child writes to the error pipe when it cannot exec. */
struct child_failure {
    int32_t err;
    char what[32];
};

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

__attribute__((noreturn)) static void child_fail(int errfd, int err, const char *what)
{
    struct child_failure f;
    memset(&f, 0, sizeof f);
    f.err = err;
    snprintf(f.what, sizeof f.what, "%s", what);
    const char *b = (const char *)&f;
    size_t off = 0;
    while (off < sizeof f) {
        ssize_t n = write(errfd, b + off, sizeof f - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    _exit(127);
}

/* Builds the environment: the request's variables, plus (inherit-env) the agent's. */
static char **build_env(const struct exec_req *req)
{
    size_t n = req->envc + 1;
    if (req->inherit_env)
        for (char **e = environ; e && *e; e++)
            n++;
    char **env = calloc(n, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    if (req->inherit_env) {
        for (char **e = environ; e && *e; e++) {
            const char *eq = strchr(*e, '=');
            size_t nlen = eq ? (size_t)(eq - *e) + 1 : strlen(*e);
            int overridden = 0;
            for (size_t i = 0; i < req->envc && !overridden; i++)
                overridden = strncmp(req->env[i], *e, nlen) == 0;
            if (!overridden)
                env[k++] = *e;
        }
    }
    for (size_t i = 0; i < req->envc; i++)
        env[k++] = req->env[i];
    env[k] = NULL;
    return env;
}

/* Opens a pty pair; both ends close-on-exec, the master non-blocking. */
static int open_pty(const struct exec_req *req, int *master, int *slave, const char **what)
{
    *what = "open /dev/ptmx";
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 && errno == ENOENT)
        m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -1;
    char name[64];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
        *what = "unlock pty";
        int e = errno;
        close(m);
        errno = e;
        return -1;
    }
    *what = "open pty slave";
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int e = errno;
        close(m);
        errno = e;
        return -1;
    }
    struct winsize ws = {.ws_row = (unsigned short)req->rows, .ws_col = (unsigned short)req->cols};
    *what = "set pty size";
    if (ioctl(m, TIOCSWINSZ, &ws) < 0 || set_nonblock(m) < 0) {
        int e = errno;
        close(m);
        close(s);
        errno = e;
        return -1;
    }
    *master = m;
    *slave = s;
    return 0;
}

/* Closes every descriptor above 2 except keep (which is close-on-exec): the
 * process must not inherit whatever the agent itself was started with. */
static void close_other_fds(int keep)
{
    if ((keep <= 3 || close_range(3, (unsigned)keep - 1, 0) == 0) && close_range((unsigned)keep + 1, ~0u, 0) == 0)
        return;
    /* kernels before 5.9 */
    struct rlimit rl;
    int max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1048576)
        max = (int)rl.rlim_cur;
    for (int fd = 3; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

/*
 * Default dispositions and an empty mask for every signal. Raw syscalls:
 * glibc's wrappers refuse to touch the signals it reserves (32, 33), which
 * would stay ignored if the agent was started with them ignored.
 */
static void reset_signals(void)
{
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
    } dfl = {SIG_DFL, 0, NULL, 0};
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
    for (int s = 1; s <= 64; s++)
        if (s != SIGKILL && s != SIGSTOP)
            syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof dfl.mask);
}

/* Runs in the forked child; never returns. */
__attribute__((noreturn)) static void child_main(const struct exec_req *req, char **env, int errfd, int in, int out,
                                                 int errout, int tty)
{
    reset_signals();

    /* die with the session process, whatever kills it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);

    if (setsid() < 0)
        child_fail(errfd, errno, "setsid");
    if (tty && ioctl(in, TIOCSCTTY, 0) < 0)
        child_fail(errfd, errno, "acquire controlling terminal");
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errout, 2) < 0)
        child_fail(errfd, errno, "dup2");
    close_other_fds(errfd);

    int root = geteuid() == 0;
    uid_t uid = req->uid;
    gid_t gid = req->gid;
    int has_uid = req->has_uid, has_gid = req->has_gid;
    if (req->user) {
        int e = resolve_user(req->user, &uid, &gid);
        if (e)
            child_fail(errfd, e, "user");
        has_uid = has_gid = 1;
    }
    if (has_gid) {
        if (setgroups(1, &gid) < 0 && (root || errno != EPERM))
            child_fail(errfd, errno, "setgroups");
        if (setgid(gid) < 0)
            child_fail(errfd, errno, "setgid");
    }
    if (has_uid) {
        if (!has_gid && setgroups(0, NULL) < 0 && (root || errno != EPERM))
            child_fail(errfd, errno, "setgroups");
        if (setuid(uid) < 0)
            child_fail(errfd, errno, "setuid");
    }
    if (req->cwd && chdir(req->cwd) < 0)
        child_fail(errfd, errno, "chdir");

    if (req->builtin) {
        close(errfd); /* its EOF tells the agent the process started */
        _exit(strncmp(req->builtin, "proc-", 5) == 0 ? procinfo_builtin(req->builtin)
                                                      : archive_builtin(req->builtin, req->argv));
    }
    environ = env; /* execvp searches the PATH of the new environment */
    execvp(req->argv[0], req->argv);
    child_fail(errfd, errno, "exec");
}

int spawn_process(const struct exec_req *req, struct spawned *sp, int *err, char *msg, size_t msglen)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, report[2] = {-1, -1};
    int master = -1, slave = -1;
    const char *what = "pipe";
    char **env = NULL;

    memset(sp, 0, sizeof *sp);
    sp->master = sp->in_fd = sp->out_fd = sp->err_fd = -1;

    env = build_env(req);
    if (!env) {
        what = "build environment";
        goto fail;
    }
    if (pipe2(report, O_CLOEXEC) < 0)
        goto fail;
    if (req->tty) {
        if (open_pty(req, &master, &slave, &what) < 0)
            goto fail;
    } else {
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
            goto fail;
        if (set_nonblock(in[1]) < 0 || set_nonblock(out[0]) < 0 || set_nonblock(errp[0]) < 0)
            goto fail;
    }

    what = "fork";
    pid_t pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        close(report[0]);
        if (req->tty)
            child_main(req, env, report[1], slave, slave, slave, 1);
        child_main(req, env, report[1], in[0], out[1], errp[1], 0);
    }
    session_child_pid = pid;
    close_fd(&report[1]);
    close_fd(&slave);
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    free(env);
    env = NULL;

    /* EOF on the report pipe means exec succeeded (the write end was CLOEXEC). */
    struct child_failure f;
    size_t got = 0;
    while (got < sizeof f) {
        ssize_t n = read(report[0], (char *)&f + got, sizeof f - got);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    close_fd(&report[0]);
    if (got == sizeof f) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        session_child_pid = 0;
        f.what[sizeof f.what - 1] = 0;
        *err = f.err;
        if (strcmp(f.what, "exec") == 0)
            snprintf(msg, msglen, "exec %s: %s", req->argv[0], strerror(f.err));
        else if (strcmp(f.what, "user") == 0)
            snprintf(msg, msglen, "unable to find user %s: no matching entries in passwd or group file", req->user);
        else if (strcmp(f.what, "chdir") == 0)
            snprintf(msg, msglen, "chdir %s: %s", req->cwd, strerror(f.err));
        else
            snprintf(msg, msglen, "%s: %s", f.what, strerror(f.err));
        close_fd(&master);
        close_fd(&in[1]);
        close_fd(&out[0]);
        close_fd(&errp[0]);
        return -1;
    }

    sp->pid = pid;
    sp->tty = req->tty;
    if (req->tty) {
        sp->master = sp->in_fd = sp->out_fd = master;
    } else {
        sp->in_fd = in[1];
        sp->out_fd = out[0];
        sp->err_fd = errp[0];
    }
    return 0;

fail:
    *err = errno ? errno : EIO;
    snprintf(msg, msglen, "%s: %s", what, strerror(*err));
    free(env);
    close_fd(&report[0]);
    close_fd(&report[1]);
    close_fd(&master);
    close_fd(&slave);
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&errp[i]);
    }
    return -1;
}
