/*
 * vessel-agent wire protocol, version 1.
 *
 * Keep this file and dev.vessel.guest.agent.AgentProtocol (Java) in lockstep:
 * every constant below has a twin there with the same value.
 *
 * Transport: one stream socket (TCP or AF_VSOCK) per exec. All integers are
 * big-endian. Every message is a frame:
 *
 *     u8  type
 *     u32 payload length   (0 .. VA_MAX_PAYLOAD; larger is a protocol error
 *                           and the agent closes the connection)
 *     u8  payload[length]
 *
 * Conversation:
 *
 *   client -> agent  'H' hello. Payload: the shared secret (token) bytes, at
 *                    most VA_MAX_TOKEN; empty when the agent has no token.
 *                    Must be the first frame. The agent compares it in
 *                    constant time with the content of its --token-file; on a
 *                    mismatch it answers 'F' (EACCES) and closes.
 *   agent -> client  'H' hello reply. Payload: VA_PROTOCOL_VERSION (ASCII).
 *
 *   client -> agent  'E' exec request (exactly one per connection, right
 *                    after the hello). Payload: a sequence of NUL-terminated
 *                    "key=value" strings (the payload ends with a NUL):
 *                      arg=VALUE        argv, in order; repeated; at least one;
 *                                       argv[0] must not be empty. Looked up
 *                                       in the PATH of the process environment
 *                                       (default /bin:/usr/bin) unless it
 *                                       contains a '/'.
 *                      env=NAME=VALUE   environment; repeated; NAME non-empty,
 *                                       unique. The process gets exactly these
 *                                       variables, plus the agent's own
 *                                       environment (overridden by these) when
 *                                       inherit-env=1.
 *                      inherit-env=0|1  default 0
 *                      cwd=/ABS/PATH    working directory (absolute); default:
 *                                       the agent's
 *                      tty=0|1          allocate a pseudo-terminal; default 0
 *                      rows=N, cols=N   initial terminal size, 0..65535;
 *                                       default 24x80; ignored without tty
 *                      uid=N, gid=N     numeric credentials, 0..4294967294;
 *                                       default: the agent's. With gid the
 *                                       supplementary groups become [gid];
 *                                       with uid alone they are dropped.
 *                      builtin=NAME     instead of executing argv[0], the
 *                                       process runs one of the agent's own
 *                                       builtins with argv as its arguments
 *                                       (the archive builtins below).
 *                    Every key except arg/env at most once; unknown keys, a
 *                    missing '=', empty strings or bad numbers make the agent
 *                    answer 'F' (EINVAL) and close.
 *
 *   After the exec request, in any order:
 *   client -> agent  'I' stdin bytes. An empty 'I' means stdin EOF: the agent
 *                    closes the process's stdin pipe, or in tty mode writes
 *                    the terminal's VEOF character (^D; twice when the last
 *                    byte written did not end a line). Later 'I' frames are
 *                    ignored, as is stdin the process no longer reads.
 *                    The agent buffers at most one 'I' frame: it stops reading
 *                    the socket while the process does not consume its stdin.
 *                    'R'/'S' frames queued behind such a frame wait too.
 *   client -> agent  'R' resize: u16 rows, u16 cols (payload exactly 4 bytes).
 *                    TIOCSWINSZ on the terminal; ignored without tty.
 *   client -> agent  'S' signal: u8 signal number 1..64 (payload exactly 1
 *                    byte), sent with kill(-pgid, sig) to the process group
 *                    (the process is a session and process-group leader).
 *   agent -> client  'O' stdout bytes (in tty mode all terminal output).
 *   agent -> client  'e' stderr bytes (never in tty mode).
 *   agent -> client  'X' exit: i32 status, the exit code 0..255, or 128+signo
 *                    when the process was killed by a signal. Sent after all
 *                    output that was readable when the process exited (a
 *                    background process that keeps the pipes open does not
 *                    delay it). Last frame; the agent then closes.
 *   agent -> client  'F' failure: u32 errno + UTF-8 message. Sent instead of
 *                    'X' when the process could not be started (ENOENT: not
 *                    found, EACCES/ENOEXEC: not executable, ...), when the
 *                    request was invalid (EINVAL), the token wrong (EACCES) or
 *                    the conversation malformed (EPROTO). Last frame.
 *                    Clients map ENOENT to exit status 127 and any other
 *                    failure to 126, like docker.
 *
 * The archive builtins (docker cp), in the process's root and credentials:
 *   archive-stat PATH NAME
 *                       stdout: one record, PATH's own (lstat) named NAME
 *                       (one clean component), no data.
 *   archive-get PATH NAME
 *                       stdout: the records of PATH (named NAME) and of all
 *                       below it (NAME/...), then the end record.
 *   archive-put DIR [no-overwrite-dir-non-dir]
 *                       stdin: records, extracted beneath DIR (no symlink
 *                       leads out of it), until the end record.
 *   Exit 0; 2 when PATH or DIR does not exist; 1 for any other failure, with
 *   the reason on stderr. A record (integers big-endian):
 *     u8 type ('f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c'/'b'
 *        character/block device, 'p' fifo, 's' socket (stat only), 'Z' end)
 *     u32 mode (permission bits, 07777), u32 uid, u32 gid, i64 mtime (s),
 *     u32 device major, u32 device minor, u64 size (of the data that follows:
 *     files only), u16 name length, u16 link length, name, link (symlink
 *     target, or a hard link's earlier name). Names are relative, made of
 *     components other than "", "." and "..", at most VA_ARCHIVE_MAX_NAME.
 *
 * The process builtins (docker top, docker stats) print lines read from the
 * process root's /proc (argv is ignored but must hold one argument):
 *   proc-list    "clock TICKS boot BTIME uptime SECONDS", then per process
 *                "PID PPID UID START CPU TTY STATE COMM<TAB>CMDLINE".
 *   proc-stats   "cpu USER NICE SYSTEM IDLE ...", "cpus N", "clock TICKS",
 *                "mem_total B", "mem_available B", "mem_free B", "cached B",
 *                "pids N", "net IF RXB RXP RXE RXD TXB TXP TXE TXD",
 *                "disk NAME SECTORS_READ SECTORS_WRITTEN READS WRITES".
 *
 * After 'X' or 'F' the agent half-closes, discards what the client still
 * sends and closes once the client closed (or after a few seconds). The
 * client must keep its sending side open until then: an EOF (or half-close),
 * a reset, or any malformed frame from the client while the process runs
 * counts as a dropped connection, and the agent kills the process's whole
 * process group with SIGKILL.
 */
#ifndef VESSEL_AGENT_PROTOCOL_H
#define VESSEL_AGENT_PROTOCOL_H

#define VA_PROTOCOL_VERSION "vessel-agent/1"

#define VA_HEADER_SIZE 5u
#define VA_MAX_PAYLOAD (1024u * 1024u)
#define VA_MAX_TOKEN 4096u
#define VA_MAX_SIGNAL 64
#define VA_DEFAULT_ROWS 24u
#define VA_DEFAULT_COLS 80u

/* Container mode (the agent is the guest's init): it connects to the host's
 * vsock port VA_READY_PORT and sends "READY <port>\n" once it listens on
 * VA_CONTAINER_PORT. A client may send 'P' (empty payload) instead of 'E'
 * after the hello: the agent kills every process, syncs the disks and powers
 * the VM off (no reply; the connection just ends). Outside container mode 'P'
 * is refused with 'F' (EPERM). */
#define VA_CONTAINER_PORT 1024
#define VA_READY_PORT 1025
#define VA_STR_(x) #x
#define VA_STR(x) VA_STR_(x)

/* client -> agent */
#define VA_HELLO 'H'
#define VA_EXEC 'E'
#define VA_STDIN 'I'
#define VA_RESIZE 'R'
#define VA_SIGNAL 'S'
#define VA_POWEROFF 'P'

/* The archive builtins' records (see above). */
#define VA_ARCHIVE_HEADER 41u
#define VA_ARCHIVE_MAX_NAME 4096u
#define VA_ARCHIVE_FILE 'f'
#define VA_ARCHIVE_DIR 'd'
#define VA_ARCHIVE_SYMLINK 'l'
#define VA_ARCHIVE_HARDLINK 'h'
#define VA_ARCHIVE_CHAR 'c'
#define VA_ARCHIVE_BLOCK 'b'
#define VA_ARCHIVE_FIFO 'p'
#define VA_ARCHIVE_SOCKET 's'
#define VA_ARCHIVE_END 'Z'

/* agent -> client */
#define VA_HELLO_REPLY 'H'
#define VA_STDOUT 'O'
#define VA_STDERR 'e'
#define VA_EXIT 'X'
#define VA_FAILURE 'F'

#endif
