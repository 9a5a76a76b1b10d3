/* Internal declarations shared by the vessel-agent sources. */
#ifndef VESSEL_AGENT_H
#define VESSEL_AGENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct agent_config {
    const uint8_t *token; /* NULL when no --token-file was given */
    size_t token_len;
    pid_t main_pid;
    int container; /* the guest's init in container mode: 'P' is allowed */
};

/* ---- util.c ---- */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t now_ms(void);
int set_nonblock(int fd);
void drain_fd(int fd);
void put_u16(uint8_t *p, uint16_t v);
void put_u32(uint8_t *p, uint32_t v);
uint16_t get_u16(const uint8_t *p);
uint32_t get_u32(const uint8_t *p);
int ct_equal(const uint8_t *given, size_t given_len, const uint8_t *secret, size_t secret_len);
/* Deadline-bounded I/O on a non-blocking socket; deadline < 0 means none.
 * recv_exact: 0 ok, -1 error/timeout (errno set), -2 EOF. */
int recv_exact(int fd, void *buf, size_t len, int64_t deadline);
int send_all(int fd, const void *buf, size_t len, int64_t deadline);
int send_frame(int fd, uint8_t type, const void *payload, uint32_t len, int64_t deadline);
/* Reads one frame; *payload is malloc'ed with a NUL after the data.
 * 0 ok, -1 error (errno set; EMSGSIZE for an oversized frame), -2 EOF. */
int recv_frame(int fd, uint8_t *type, uint8_t **payload, uint32_t *len, int64_t deadline);

/* ---- request.c ---- */
struct exec_req {
    char **argv; /* NULL-terminated, points into the request payload */
    size_t argc;
    char **env; /* NAME=VALUE, NULL-terminated */
    size_t envc;
    const char *cwd; /* NULL: unchanged */
    int tty;
    int inherit_env;
    unsigned rows, cols;
    int has_uid, has_gid;
    uid_t uid;
    gid_t gid;
    const char *user; /* "NAME|UID[:GROUP|GID]", resolved in the process's root; NULL: none */
    const char *builtin; /* an archive builtin to run instead of argv[0]; NULL: none */
};
/* payload must stay alive while req is used. 0 ok, -1 with a message in err. */
int exec_req_parse(const uint8_t *payload, size_t len, struct exec_req *req, char *err, size_t errlen);
void exec_req_free(struct exec_req *req);

/* ---- spawn.c ---- */
struct spawned {
    pid_t pid;
    int tty;
    int master; /* tty: the pty master (stdin and output); else -1 */
    int in_fd;  /* write end of the process's stdin */
    int out_fd; /* read end of stdout (tty: master) */
    int err_fd; /* read end of stderr; -1 in tty mode */
};
/* 0 ok; -1 with *err (errno) and msg when the process could not be started. */
int spawn_process(const struct exec_req *req, struct spawned *sp, int *err, char *msg, size_t msglen);

/* ---- archive.c ---- */
/* Runs the named archive builtin (protocol.h) on stdin/stdout; returns the exit status. */
int archive_builtin(const char *builtin, char **argv);

/* ---- procinfo.c ---- */
/* Runs proc-list or proc-stats (protocol.h) on stdout; returns the exit status. */
int procinfo_builtin(const char *builtin);

/* ---- vmm_client.c ---- */
/* vessel-agent --vmm-client SOCKET -- ARGS...: returns the exit status (see standby.h). */
int vmm_client_main(int argc, char **argv);

/* ---- user.c ---- */
/* Resolves docker's --user syntax in the current root; 0, or ENOENT/EINVAL. */
int resolve_user(const char *spec, uid_t *uid, gid_t *gid);

/* ---- container_init.c ---- */
/* With vessel.timing=1 on the kernel command line: prints a start-up milestone with the uptime. */
void container_mark(const char *what);
/* Prepares the container root as PID 1 (mounts, modules, switch to the overlay root); 0 or -1. */
int container_init(void);
/* The value of KEY= on the kernel command line into out, or "" (at most len-1 bytes). */
void container_cmdline_value(const char *key, char *out, size_t len);
/* Tells the host the agent listens (vsock CID 2, port VA_READY_PORT). */
void container_ready(unsigned long port);
/* Syncs the disks and powers the VM off. */
void container_poweroff(void) __attribute__((noreturn));

/* ---- container_net.c ---- */
/* lo up, the cards of vessel.netN configured as ethN, the default route; 0 or -1. */
int container_network(void);
/* /etc/hosts, /etc/resolv.conf and /etc/hostname of the container under root; 0 or -1. */
int container_etc_files(const char *root);

/* ---- unix_relay.c ---- */
/* vessel-agent --connect-unix PATH: stdin/stdout <-> a Unix stream socket; returns the exit status. */
int unix_relay_main(int argc, char **argv);

/* ---- session.c ---- */
extern volatile sig_atomic_t session_child_pid;
void session_run(int sock, const struct agent_config *cfg) __attribute__((noreturn));

#endif
