/*
 * The archive builtins behind `docker cp`: they run in the exec's child, in
 * the container's root, with its credentials, and speak the archive record
 * stream of protocol.h on stdin/stdout. The host turns tar into records and
 * back (with a real tar library); this side only walks and writes files, and
 * trusts nothing it reads.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"

#define MAX_DEPTH 256

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void complain(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t ignored = write(2, buf, (size_t)n);
    (void)ignored;
}

/* ---- buffered stdout ---- */

static uint8_t obuf[65536];
static size_t olen;

static int flush_out(void)
{
    size_t off = 0;
    while (off < olen) {
        ssize_t n = write(1, obuf + off, olen - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return -1;
    }
    olen = 0;
    return 0;
}

static int out(const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len > 0) {
        if (olen == sizeof obuf && flush_out() < 0)
            return -1;
        size_t k = sizeof obuf - olen < len ? sizeof obuf - olen : len;
        memcpy(obuf + olen, b, k);
        olen += k;
        b += k;
        len -= k;
    }
    return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static uint64_t get_u64(const uint8_t *p)
{
    return ((uint64_t)get_u32(p) << 32) | get_u32(p + 4);
}

/* One record's header, name and link (the data, for a file, follows). */
static int out_record(uint8_t type, const struct stat *st, uint64_t size, const char *name, const char *link)
{
    size_t nlen = strlen(name), llen = link ? strlen(link) : 0;
    if (nlen > VA_ARCHIVE_MAX_NAME || llen > VA_ARCHIVE_MAX_NAME) {
        complain("%s: name too long for an archive", name);
        return 1; /* skipped, not fatal */
    }
    uint8_t h[VA_ARCHIVE_HEADER];
    h[0] = type;
    put_u32(h + 1, st ? (uint32_t)(st->st_mode & 07777) : 0);
    put_u32(h + 5, st ? (uint32_t)st->st_uid : 0);
    put_u32(h + 9, st ? (uint32_t)st->st_gid : 0);
    put_u64(h + 13, st ? (uint64_t)(int64_t)st->st_mtim.tv_sec : 0);
    put_u32(h + 21, st ? major(st->st_rdev) : 0);
    put_u32(h + 25, st ? minor(st->st_rdev) : 0);
    put_u64(h + 29, size);
    put_u16(h + 37, (uint16_t)nlen);
    put_u16(h + 39, (uint16_t)llen);
    if (out(h, sizeof h) < 0 || out(name, nlen) < 0 || out(link ? link : "", llen) < 0)
        return -1;
    return 0;
}

static uint8_t type_of(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return VA_ARCHIVE_FILE;
    case S_IFDIR: return VA_ARCHIVE_DIR;
    case S_IFLNK: return VA_ARCHIVE_SYMLINK;
    case S_IFCHR: return VA_ARCHIVE_CHAR;
    case S_IFBLK: return VA_ARCHIVE_BLOCK;
    case S_IFIFO: return VA_ARCHIVE_FIFO;
    default: return 0; /* sockets: not archived, as tar */
    }
}

/* ---- hard links: the first name of each multiply-linked file ---- */

struct seen {
    dev_t dev;
    ino_t ino;
    char *name;
};
static struct seen *seen;
static size_t seen_len, seen_cap;

static const char *first_name(const struct stat *st, const char *name)
{
    for (size_t i = 0; i < seen_len; i++)
        if (seen[i].dev == st->st_dev && seen[i].ino == st->st_ino)
            return seen[i].name;
    if (seen_len == seen_cap) {
        size_t nc = seen_cap ? seen_cap * 2 : 64;
        struct seen *ns = realloc(seen, nc * sizeof *ns);
        if (!ns)
            return NULL;
        seen = ns;
        seen_cap = nc;
    }
    char *copy = strdup(name);
    if (copy)
        seen[seen_len++] = (struct seen){st->st_dev, st->st_ino, copy};
    return NULL;
}

/* ---- archive-get ---- */

/* Writes exactly size bytes of fd: a file that shrank is padded with zeros, one that grew is cut. */
static int out_data(int fd, uint64_t size, const char *name)
{
    static uint8_t buf[65536];
    uint64_t left = size;
    int short_read = 0;
    while (left > 0) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        ssize_t n = short_read ? 0 : read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!short_read)
                complain("%s: changed while it was copied", name);
            short_read = 1;
            memset(buf, 0, want);
            n = (ssize_t)want;
        }
        if (out(buf, (size_t)n) < 0)
            return -1;
        left -= (uint64_t)n;
    }
    return 0;
}

/* Archives at/leaf as name, and what is below it. -1: the output failed; else the count of entries skipped. */
static int walk(int at, const char *leaf, char *name, size_t name_len, int depth)
{
    struct stat st;
    if (fstatat(at, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        complain("%s: %s", name, strerror(errno));
        return 1;
    }
    uint8_t type = type_of(st.st_mode);
    if (type == 0)
        return 0;
    if (type == VA_ARCHIVE_SYMLINK) {
        char target[VA_ARCHIVE_MAX_NAME + 1];
        ssize_t n = readlinkat(at, leaf, target, sizeof target);
        if (n < 0 || (size_t)n > VA_ARCHIVE_MAX_NAME) {
            complain("%s: cannot read the link", name);
            return 1;
        }
        target[n] = 0;
        return out_record(type, &st, 0, name, target) < 0 ? -1 : 0;
    }
    if (type == VA_ARCHIVE_FILE) {
        if (st.st_nlink > 1) {
            const char *first = first_name(&st, name);
            if (first)
                return out_record(VA_ARCHIVE_HARDLINK, &st, 0, name, first) < 0 ? -1 : 0;
        }
        int fd = openat(at, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            complain("%s: %s", name, strerror(errno));
            return 1;
        }
        int r = out_record(type, &st, (uint64_t)st.st_size, name, NULL);
        if (r == 0)
            r = out_data(fd, (uint64_t)st.st_size, name);
        close(fd);
        return r;
    }
    if (type != VA_ARCHIVE_DIR)
        return out_record(type, &st, 0, name, NULL) < 0 ? -1 : 0;

    if (out_record(type, &st, 0, name, NULL) < 0)
        return -1;
    if (depth >= MAX_DEPTH) {
        complain("%s: nested too deep, its contents are left out", name);
        return 1;
    }
    int fd = openat(at, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        complain("%s: %s", name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    int skipped = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t elen = strlen(e->d_name);
        if (name_len + 1 + elen > VA_ARCHIVE_MAX_NAME) {
            complain("%s/%s: name too long for an archive", name, e->d_name);
            skipped++;
            continue;
        }
        name[name_len] = '/';
        memcpy(name + name_len + 1, e->d_name, elen + 1);
        int r = walk(dirfd(d), e->d_name, name, name_len + 1 + elen, depth + 1);
        name[name_len] = 0;
        if (r < 0) {
            closedir(d);
            return -1;
        }
        skipped += r;
    }
    closedir(d);
    return skipped;
}

/* archive-stat PATH NAME: one record, the path's own (lstat) named NAME, without data. */
static int archive_stat(const char *path, const char *name)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        complain("%s: %s", path, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 2 : 1;
    }
    char target[VA_ARCHIVE_MAX_NAME + 1] = "";
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = 0;
    }
    uint8_t type = type_of(st.st_mode);
    if (type == 0)
        type = VA_ARCHIVE_SOCKET;
    if (out_record(type, &st, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, name, target) != 0 || flush_out() < 0)
        return 1;
    return 0;
}

/* archive-get PATH NAME: the records of the path (named NAME) and everything below it, then the end record. */
static int archive_get(const char *path, const char *top)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        complain("%s: %s", path, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 2 : 1;
    }
    char name[VA_ARCHIVE_MAX_NAME + 1];
    snprintf(name, sizeof name, "%s", top);
    int r = walk(AT_FDCWD, path, name, strlen(name), 0);
    if (r < 0 || out_record(VA_ARCHIVE_END, NULL, 0, "", NULL) < 0 || flush_out() < 0)
        return 1;
    return 0;
}

/* ---- archive-put ---- */

static int read_exact(void *p, size_t len)
{
    uint8_t *b = p;
    while (len > 0) {
        ssize_t n = read(0, b, len);
        if (n > 0) {
            b += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return -1;
        }
    }
    return 0;
}

/* A relative name of plain components: no empty, "." or ".." component, no leading or trailing '/'. */
static int clean_name(const char *s)
{
    if (!*s || *s == '/')
        return 0;
    for (const char *p = s;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (!slash)
            return 1;
        p = slash + 1;
    }
}

static long openat2_beneath(int dirfd, const char *path, int flags)
{
    struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/*
 * The directory that holds name's last component, beneath dest (no symlink
 * may lead out of it); missing directories on the way are made when create.
 * *leaf points into name. -1 with errno.
 */
static int open_parent(int dest, char *name, const char **leaf, int create)
{
    char *slash = strrchr(name, '/');
    if (!slash) {
        *leaf = name;
        return dup(dest);
    }
    *leaf = slash + 1;
    *slash = 0;
    long fd = openat2_beneath(dest, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        /* Make each missing component inside the one before it. */
        int cur = dup(dest);
        char *p = name;
        while (cur >= 0) {
            char *next = strchr(p, '/');
            if (next)
                *next = 0;
            if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST) {
                close(cur);
                cur = -1;
            } else {
                long sub = openat2_beneath(cur, p, O_PATH | O_DIRECTORY | O_CLOEXEC);
                close(cur);
                cur = (int)sub;
            }
            if (next)
                *next = '/';
            if (!next || cur < 0)
                break;
            p = next + 1;
        }
        fd = cur;
    }
    int e = errno;
    *slash = '/';
    errno = e;
    return (int)fd;
}

struct put_options {
    int no_overwrite_dir_non_dir;
};

/* Removes what stands at leaf for a record of another kind, as docker's extraction does. */
static int make_room(int pfd, const char *leaf, const char *name, int is_dir, const struct put_options *o)
{
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        if (is_dir)
            return 0;
        if (o->no_overwrite_dir_non_dir) {
            complain("cannot overwrite directory \"%s\" with non-directory \"%s\"", name, name);
            errno = EISDIR;
            return -2;
        }
        return unlinkat(pfd, leaf, AT_REMOVEDIR);
    }
    if (is_dir && o->no_overwrite_dir_non_dir) {
        complain("cannot overwrite non-directory \"%s\" with directory \"%s\"", name, name);
        errno = ENOTDIR;
        return -2;
    }
    return unlinkat(pfd, leaf, 0);
}

static int copy_in(int fd, uint64_t size)
{
    static uint8_t buf[65536];
    while (size > 0) {
        size_t want = size < sizeof buf ? (size_t)size : sizeof buf;
        if (read_exact(buf, want) < 0)
            return -1;
        for (size_t off = 0; off < want;) {
            ssize_t n = write(fd, buf + off, want - off);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno == EINTR)
                continue;
            else
                return -2;
        }
        size -= want;
    }
    return 0;
}

struct dir_time {
    char *name;
    int64_t mtime;
};

/* archive-put DIR [no-overwrite-dir-non-dir]: extracts the records on stdin into DIR. */
static int archive_put(const char *dir, const struct put_options *o)
{
    int dest = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dest < 0) {
        complain("%s: %s", dir, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 2 : 1;
    }
    struct dir_time *dirs = NULL;
    size_t ndirs = 0, capdirs = 0;
    char name[VA_ARCHIVE_MAX_NAME + 1], link[VA_ARCHIVE_MAX_NAME + 1];
    int status = 1;
    for (;;) {
        uint8_t h[VA_ARCHIVE_HEADER];
        if (read_exact(h, sizeof h) < 0) {
            complain("the archive ended before its end record");
            goto out;
        }
        uint8_t type = h[0];
        mode_t mode = get_u32(h + 1) & 07777;
        uid_t uid = get_u32(h + 5);
        gid_t gid = get_u32(h + 9);
        int64_t mtime = (int64_t)get_u64(h + 13);
        unsigned dmaj = get_u32(h + 21), dmin = get_u32(h + 25);
        uint64_t size = get_u64(h + 29);
        size_t nlen = get_u16(h + 37), llen = get_u16(h + 39);
        if (type == VA_ARCHIVE_END) {
            status = 0;
            break;
        }
        if (nlen > VA_ARCHIVE_MAX_NAME || llen > VA_ARCHIVE_MAX_NAME || read_exact(name, nlen) < 0
            || read_exact(link, llen) < 0) {
            complain("a malformed archive record");
            goto out;
        }
        name[nlen] = 0;
        link[llen] = 0;
        if (memchr(name, 0, nlen) || memchr(link, 0, llen) || !clean_name(name)
            || (type != VA_ARCHIVE_FILE && size != 0)) {
            complain("a malformed archive record");
            goto out;
        }
        const char *leaf;
        int pfd = open_parent(dest, name, &leaf, 1);
        if (pfd < 0) {
            complain("%s: %s", name, strerror(errno));
            goto out;
        }
        int r = make_room(pfd, leaf, name, type == VA_ARCHIVE_DIR, o);
        if (r == -2) {
            close(pfd);
            goto out;
        }
        r = 0;
        int fd = -1;
        switch (type) {
        case VA_ARCHIVE_FILE:
            fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
            r = fd < 0 ? -1 : copy_in(fd, size);
            if (r == -1 && fd >= 0) {
                complain("the archive ended inside %s", name);
                close(fd);
                close(pfd);
                goto out;
            }
            break;
        case VA_ARCHIVE_DIR:
            r = mkdirat(pfd, leaf, 0700) < 0 && errno != EEXIST ? -1 : 0;
            break;
        case VA_ARCHIVE_SYMLINK:
            r = symlinkat(link, pfd, leaf);
            break;
        case VA_ARCHIVE_HARDLINK: {
            if (!clean_name(link)) {
                complain("%s: a hard link to \"%s\", outside the archive", name, link);
                close(pfd);
                goto out;
            }
            const char *tleaf;
            int tfd = open_parent(dest, link, &tleaf, 0);
            r = tfd < 0 ? -1 : linkat(tfd, tleaf, pfd, leaf, 0);
            if (tfd >= 0)
                close(tfd);
            break;
        }
        case VA_ARCHIVE_CHAR:
        case VA_ARCHIVE_BLOCK:
        case VA_ARCHIVE_FIFO: {
            mode_t kind = type == VA_ARCHIVE_CHAR ? S_IFCHR : type == VA_ARCHIVE_BLOCK ? S_IFBLK : S_IFIFO;
            r = mknodat(pfd, leaf, kind | 0600, makedev(dmaj, dmin));
            break;
        }
        default:
            complain("%s: an archive record of unknown type %u", name, type);
            close(pfd);
            goto out;
        }
        if (r != 0) {
            complain("%s: %s", name, strerror(errno));
            if (fd >= 0)
                close(fd);
            close(pfd);
            goto out;
        }
        /* Owner, then mode (a chown clears set-id bits), then times; never through a symlink. */
        struct timespec times[2] = {{.tv_sec = mtime, .tv_nsec = 0}, {.tv_sec = mtime, .tv_nsec = 0}};
        if (fd >= 0) {
            r = fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 || futimens(fd, times) < 0 ? -1 : 0;
            close(fd);
        } else if (type != VA_ARCHIVE_HARDLINK) {
            r = fchownat(pfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW);
            if (r == 0 && type != VA_ARCHIVE_SYMLINK)
                r = fchmodat(pfd, leaf, mode, 0);
            if (r == 0)
                r = utimensat(pfd, leaf, times, AT_SYMLINK_NOFOLLOW);
        }
        close(pfd);
        if (r != 0) {
            complain("%s: %s", name, strerror(errno));
            goto out;
        }
        if (type == VA_ARCHIVE_DIR) {
            /* Its time again at the end: the entries made in it since changed it. */
            if (ndirs == capdirs) {
                size_t nc = capdirs ? capdirs * 2 : 64;
                struct dir_time *nd = realloc(dirs, nc * sizeof *nd);
                if (!nd)
                    goto out;
                dirs = nd;
                capdirs = nc;
            }
            dirs[ndirs].name = strdup(name);
            dirs[ndirs].mtime = mtime;
            if (dirs[ndirs].name)
                ndirs++;
        }
    }
    for (size_t i = ndirs; i-- > 0;) {
        const char *leaf;
        int pfd = open_parent(dest, dirs[i].name, &leaf, 0);
        if (pfd >= 0) {
            struct timespec times[2] = {{.tv_sec = dirs[i].mtime}, {.tv_sec = dirs[i].mtime}};
            utimensat(pfd, leaf, times, AT_SYMLINK_NOFOLLOW);
            close(pfd);
        }
    }
out:
    for (size_t i = 0; i < ndirs; i++)
        free(dirs[i].name);
    free(dirs);
    close(dest);
    return status;
}

int archive_builtin(const char *builtin, char **argv)
{
    int named = argv[1] != NULL && argv[2] == NULL && clean_name(argv[1]) && strlen(argv[1]) < 256;
    if (strcmp(builtin, "archive-stat") == 0 && named)
        return archive_stat(argv[0], argv[1]);
    if (strcmp(builtin, "archive-get") == 0 && named)
        return archive_get(argv[0], argv[1]);
    if (strcmp(builtin, "archive-put") == 0) {
        struct put_options o = {0};
        for (char **a = argv + 1; *a; a++) {
            if (strcmp(*a, "no-overwrite-dir-non-dir") == 0) {
                o.no_overwrite_dir_non_dir = 1;
            } else {
                complain("archive-put: unknown option %s", *a);
                return 1;
            }
        }
        return archive_put(argv[0], &o);
    }
    complain("%s: not a builtin of vessel-agent, or wrong arguments", builtin);
    return 1;
}
