/*
 * Container mode: vessel-agent as the guest's PID 1 (the /init of an initramfs Vessel writes).
 *
 * The VM's disks: /dev/vda is the image (ext4, read-only), /dev/vdb the container's own writable
 * disk (ext4). Init loads the kernel modules listed in /lib/modules/load-order, mounts the image
 * read-only, the writable disk, overlayfs of both as the container's root, and inside it /proc,
 * /sys, a minimal /dev with /dev/pts and /dev/shm, and /tmp; sets the hostname from the kernel
 * command line (vessel.hostname=), configures the network and /etc's files (container_net.c), and
 * moves into the new root. Then the agent serves the host
 * over vsock, which runs the container's processes through it, and tells the host it is ready by
 * connecting to the host's vsock port VA_READY_PORT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent.h"
#include "protocol.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vessel-init: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int timing = -1; /* vessel.timing on the kernel command line: -1 not read yet */

/* With vessel.timing=1 (VESSEL_TIMING on the host): a start-up milestone with the guest's uptime. */
void container_mark(const char *what)
{
    if (timing < 0) {
        char v[8];
        container_cmdline_value("vessel.timing", v, sizeof v);
        timing = v[0] == '1';
    }
    if (!timing)
        return;
    char up[64] = "?";
    int fd = open("/proc/uptime", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, up, sizeof up - 1);
        up[n > 0 ? n : 0] = 0;
        char *sp = strchr(up, ' ');
        if (sp)
            *sp = 0;
        close(fd);
    }
    say("timing: uptime %s s %s", up, what);
}

static int mount_or_say(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
    mkdir(dst, 0755);
    if (mount(src, dst, type, flags, data) < 0) {
        say("mount %s on %s (%s): %s", src, dst, type, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Loads the modules named in /lib/modules/load-order, one per line: NAME, then optional module
 * parameters (e.g. "virtio_blk async_probe": its disks are probed, partition tables read, while
 * the next modules load; the reads of a disk served over NBD wait on the host, not on this CPU).
 */
static void load_modules(void)
{
    FILE *f = fopen("/lib/modules/load-order", "re");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *params = strchr(line, ' ');
        if (params)
            *params++ = 0;
        else
            params = "";
        const char *name = line;
        if (!name[0] || strlen(name) > 64 || strchr(name, '/'))
            continue;
        char path[192];
        snprintf(path, sizeof path, "/lib/modules/%s.ko", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            say("module %s: %s", name, strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, params, 0) < 0 && errno != EEXIST)
            say("module %s: %s", name, strerror(errno));
        close(fd);
        char what[160];
        snprintf(what, sizeof what, "module %s loaded", name);
        container_mark(what);
    }
    fclose(f);
}

/* The block device node appears once its driver probed; that may trail the module load. */
static int wait_for(const char *path)
{
    struct timespec step = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 2000; i++) { /* 10 s */
        if (access(path, F_OK) == 0)
            return 0;
        nanosleep(&step, NULL);
    }
    say("%s did not appear", path);
    return -1;
}

/*
 * Which disk is which: the image is the read-only one, the container's layer the writable one.
 * Not by name: the disks are probed in parallel (async_probe), so vda is whichever came first.
 */
static int find_disks(char image[16], char rw[16])
{
    image[0] = rw[0] = 0;
    const char *names[] = {"vda", "vdb"};
    for (int i = 0; i < 2; i++) {
        char p[64], v[4] = "";
        snprintf(p, sizeof p, "/sys/block/%s/ro", names[i]);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, v, sizeof v - 1);
            v[n > 0 ? n : 0] = 0;
            close(fd);
        }
        char *which = v[0] == '1' ? image : v[0] == '0' ? rw : NULL;
        if (!which || which[0]) {
            say("cannot tell the image disk from the container's disk (%s: read-only flag '%s')", names[i], v);
            return -1;
        }
        snprintf(which, 16, "/dev/%s", names[i]);
    }
    return 0;
}

/* The value of KEY= on the kernel command line, or "" (at most len-1 bytes). */
void container_cmdline_value(const char *key, char *out, size_t len)
{
    out[0] = 0;
    char buf[4096];
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    size_t klen = strlen(key);
    for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
        if (strncmp(tok, key, klen) == 0 && tok[klen] == '=') {
            snprintf(out, len, "%s", tok + klen + 1);
            return;
        }
    }
}

static void make_dev(void)
{
    static const struct {
        const char *name;
        unsigned major, minor;
    } nodes[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    mount_or_say("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
    mode_t old = umask(0);
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        char p[64];
        snprintf(p, sizeof p, "/dev/%s", nodes[i].name);
        if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0)
            say("mknod %s: %s", p, strerror(errno));
    }
    umask(old);
    mount_or_say("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mount_or_say("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    symlink("pts/ptmx", "/dev/ptmx");
    symlink("/proc/self/fd", "/dev/fd");
    symlink("/proc/self/fd/0", "/dev/stdin");
    symlink("/proc/self/fd/1", "/dev/stdout");
    symlink("/proc/self/fd/2", "/dev/stderr");
}

int container_init(void)
{
    mount_or_say("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mount_or_say("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_say("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    container_mark("init started");
    load_modules();
    container_mark("modules loaded");

    if (wait_for("/dev/vda") < 0 || wait_for("/dev/vdb") < 0)
        return -1;
    container_mark("disks present");
    char image[16], rw[16];
    if (find_disks(image, rw) < 0)
        return -1;
    if (mount_or_say(image, "/run/image", "ext4", MS_RDONLY, NULL) < 0
        || mount_or_say(rw, "/run/rw", "ext4", 0, NULL) < 0)
        return -1;
    mkdir("/run/rw/upper", 0755);
    mkdir("/run/rw/work", 0700);
    if (mount_or_say("overlay", "/newroot", "overlay", 0,
                     "lowerdir=/run/image,upperdir=/run/rw/upper,workdir=/run/rw/work") < 0)
        return -1;

    container_mark("image and disk mounted");
    char hostname[65];
    container_cmdline_value("vessel.hostname", hostname, sizeof hostname);
    if (hostname[0] && sethostname(hostname, strlen(hostname)) < 0)
        say("sethostname: %s", strerror(errno));
    if (container_network() < 0 || container_etc_files("/newroot") < 0)
        return -1;

    /* Into the new root, as switch_root does: the initramfs cannot be pivot_root'ed away. */
    umount2("/dev", MNT_DETACH);
    umount2("/proc", MNT_DETACH);
    umount2("/sys", MNT_DETACH);
    if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        say("switching to the container root: %s", strerror(errno));
        return -1;
    }
    mount_or_say("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_say("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
    make_dev();
    mount_or_say("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    /* The console stays the agent's stderr; fds 0 and 1 go to /dev/null. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }
    return 0;
}

void container_ready(unsigned long port)
{
    int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = VA_READY_PORT};
    char line[64];
    int n = snprintf(line, sizeof line, "READY %lu\n", port);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 || write(s, line, (size_t)n) != n)
        say("telling the host it is ready: %s", strerror(errno));
    if (s >= 0)
        close(s);
}

void container_poweroff(void)
{
    kill(-1, SIGKILL); /* every process but init and this one */
    sync();
    reboot(RB_POWER_OFF);
    _exit(1);
}
