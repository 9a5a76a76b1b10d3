/*
 * Container mode: the container's network and the files docker writes into every container.
 *
 * Everything comes from the kernel command line, which the host composes (dev.vessel.container):
 *   vessel.net0=MAC,IP/PREFIX ... vessel.net7   one card each; the card with that MAC becomes ethN
 *   vessel.gw=IP                                the default route, through eth0
 *   vessel.hosts=BASE64                         /etc/hosts, as the host wrote it
 *   vessel.resolv=BASE64                        /etc/resolv.conf
 *   vessel.hostname=NAME                        also /etc/hostname
 * lo is brought up always, as docker does (also with --network none).
 *
 * The files are kept in the initramfs (under /run/vessel-etc) and bind-mounted over the
 * container's own, as docker bind-mounts them: the image's files stay as they are, and a process
 * that rewrites /etc/resolv.conf changes only this start's copy.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define MAX_CARDS 8
#define ETC_DIR "/run/vessel-etc"

static void say(const char *what, const char *name)
{
    fprintf(stderr, "vessel-init: %s %s: %s\n", what, name, strerror(errno));
}

static int set_flags_up(int sock, const char *ifname)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
        return -1;
    ifr.ifr_flags |= IFF_UP;
    return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

static int rename_if(int sock, const char *from, const char *to)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", from);
    snprintf(ifr.ifr_newname, IFNAMSIZ, "%s", to);
    return ioctl(sock, SIOCSIFNAME, &ifr);
}

static int set_inet(int sock, unsigned long request, const char *ifname, in_addr_t addr)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = addr;
    return ioctl(sock, request, &ifr);
}

/* The interface whose address is MAC (lower case, colon-separated), into name[IFNAMSIZ]; 0 or -1. */
static int find_by_mac(const char *mac, char name[IFNAMSIZ])
{
    DIR *d = opendir("/sys/class/net");
    if (!d)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= IFNAMSIZ)
            continue;
        char p[64], a[32] = "";
        snprintf(p, sizeof p, "/sys/class/net/%s/address", e->d_name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, a, sizeof a - 1);
        close(fd);
        a[n > 0 ? n : 0] = 0;
        a[strcspn(a, "\n")] = 0;
        if (strcasecmp(a, mac) == 0) {
            snprintf(name, IFNAMSIZ, "%s", e->d_name);
            found = 0;
        }
    }
    closedir(d);
    return found;
}

/* Parses "MAC,A.B.C.D/PREFIX"; 0 or -1. */
static int parse_card(const char *v, char mac[18], in_addr_t *addr, int *prefix)
{
    const char *comma = strchr(v, ',');
    if (!comma || comma - v != 17)
        return -1;
    memcpy(mac, v, 17);
    mac[17] = 0;
    char ip[32];
    const char *slash = strchr(comma + 1, '/');
    if (!slash || (size_t)(slash - comma - 1) >= sizeof ip)
        return -1;
    memcpy(ip, comma + 1, (size_t)(slash - comma - 1));
    ip[slash - comma - 1] = 0;
    struct in_addr a;
    char *end;
    long p = strtol(slash + 1, &end, 10);
    if (inet_pton(AF_INET, ip, &a) != 1 || *end || p < 1 || p > 32)
        return -1;
    *addr = a.s_addr;
    *prefix = (int)p;
    return 0;
}

/* Waits up to 5 s for the card with MAC to appear (virtio_net probes it as its module loads). */
static int await_card(const char *mac, char name[IFNAMSIZ])
{
    struct timespec step = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 1000; i++) {
        if (find_by_mac(mac, name) == 0)
            return 0;
        nanosleep(&step, NULL);
    }
    return -1;
}

int container_network(void)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        say("socket", "AF_INET");
        return -1;
    }
    int rc = 0;
    if (set_flags_up(sock, "lo") < 0) {
        say("bringing up", "lo");
        rc = -1;
    }
    struct {
        char mac[18];
        in_addr_t addr;
        int prefix;
        char name[IFNAMSIZ];
    } cards[MAX_CARDS];
    int count = 0;
    for (int i = 0; i < MAX_CARDS; i++) {
        char key[16], v[64];
        snprintf(key, sizeof key, "vessel.net%d", i);
        container_cmdline_value(key, v, sizeof v);
        if (!v[0])
            break;
        if (parse_card(v, cards[i].mac, &cards[i].addr, &cards[i].prefix) < 0) {
            fprintf(stderr, "vessel-init: %s=%s is not MAC,IP/PREFIX\n", key, v);
            close(sock);
            return -1;
        }
        if (await_card(cards[i].mac, cards[i].name) < 0) {
            fprintf(stderr, "vessel-init: no network card with address %s appeared\n", cards[i].mac);
            close(sock);
            return -1;
        }
        count++;
    }
    /* Cards are named by their place on the host's list, whatever order they were probed in: each
     * out of the way first, so that two swapped names never collide. */
    for (int i = 0; i < count; i++) {
        char want[IFNAMSIZ], tmp[IFNAMSIZ];
        snprintf(want, sizeof want, "eth%d", i);
        if (strcmp(cards[i].name, want) == 0)
            continue;
        snprintf(tmp, sizeof tmp, "vtmp%d", i);
        if (rename_if(sock, cards[i].name, tmp) < 0) {
            say("renaming", cards[i].name);
            close(sock);
            return -1;
        }
        snprintf(cards[i].name, IFNAMSIZ, "%s", tmp);
    }
    for (int i = 0; i < count; i++) {
        char want[IFNAMSIZ];
        snprintf(want, sizeof want, "eth%d", i);
        if (strcmp(cards[i].name, want) != 0 && rename_if(sock, cards[i].name, want) < 0) {
            say("renaming", cards[i].name);
            close(sock);
            return -1;
        }
        snprintf(cards[i].name, IFNAMSIZ, "%s", want);
        in_addr_t mask = htonl(cards[i].prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> cards[i].prefix));
        if (set_inet(sock, SIOCSIFADDR, want, cards[i].addr) < 0 || set_inet(sock, SIOCSIFNETMASK, want, mask) < 0
            || set_inet(sock, SIOCSIFBRDADDR, want, cards[i].addr | ~mask) < 0 || set_flags_up(sock, want) < 0) {
            say("configuring", want);
            close(sock);
            return -1;
        }
    }
    char gw[32];
    container_cmdline_value("vessel.gw", gw, sizeof gw);
    if (gw[0]) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
        struct sockaddr_in *via = (struct sockaddr_in *)&rt.rt_gateway;
        struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
        dst->sin_family = via->sin_family = mask->sin_family = AF_INET;
        if (count == 0 || inet_pton(AF_INET, gw, &via->sin_addr) != 1) {
            fprintf(stderr, "vessel-init: vessel.gw=%s: not an address, or no card to reach it through\n", gw);
            close(sock);
            return -1;
        }
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        rt.rt_dev = cards[0].name;
        if (ioctl(sock, SIOCADDRT, &rt) < 0) {
            say("adding the default route via", gw);
            rc = -1;
        }
    }
    close(sock);
    container_mark("network configured");
    return rc;
}

/* Decodes standard base64 (padding optional) into out; the length, or -1 for a bad character. */
static ssize_t base64_decode(const char *in, unsigned char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (const char *p = in; *p && *p != '='; p++) {
        int v;
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (ssize_t)n;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, data, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

/* Bind-mounts ETC_DIR/name over root/etc/name, making a regular file there to mount on. */
static int mount_over(const char *root, const char *name)
{
    char src[64], dst[256];
    snprintf(src, sizeof src, ETC_DIR "/%s", name);
    snprintf(dst, sizeof dst, "%s/etc", root);
    mkdir(dst, 0755);
    snprintf(dst, sizeof dst, "%s/etc/%s", root, name);
    struct stat st;
    /* A symlink (resolv.conf to a resolver's stub, say) would lead the mount out of the file:
     * this start's file replaces it in the container's layer. */
    if (lstat(dst, &st) == 0 && !S_ISREG(st.st_mode))
        unlink(dst);
    int fd = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
        say("bind-mounting", dst);
        return -1;
    }
    return 0;
}

int container_etc_files(const char *root)
{
    static const struct {
        const char *key, *file;
    } files[] = {{"vessel.hosts", "hosts"}, {"vessel.resolv", "resolv.conf"}};
    mkdir(ETC_DIR, 0755);
    int rc = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char v[2048];
        unsigned char text[1536];
        container_cmdline_value(files[i].key, v, sizeof v);
        if (!v[0])
            continue;
        ssize_t n = base64_decode(v, text, sizeof text);
        char path[64];
        snprintf(path, sizeof path, ETC_DIR "/%s", files[i].file);
        if (n < 0 || write_file(path, text, (size_t)n) < 0 || mount_over(root, files[i].file) < 0) {
            fprintf(stderr, "vessel-init: cannot write /etc/%s\n", files[i].file);
            rc = -1;
        }
    }
    char hostname[65];
    container_cmdline_value("vessel.hostname", hostname, sizeof hostname);
    if (hostname[0]) {
        char line[68];
        int n = snprintf(line, sizeof line, "%s\n", hostname);
        if (write_file(ETC_DIR "/hostname", line, (size_t)n) < 0 || mount_over(root, "hostname") < 0)
            rc = -1;
    }
    return rc;
}
