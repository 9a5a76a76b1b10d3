/*
 * The process and resource builtins behind `docker top` and `docker stats`:
 * they read the guest's /proc and print plain lines the host formats as
 * docker does (ps -ef's columns, the stats JSON). Run in the container's
 * root, which has its own /proc mounted by the agent.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

/* Reads a small /proc file whole into buf (NUL-terminated); its length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    close(fd);
    buf[got] = 0;
    return (ssize_t)got;
}

/* One field of "Key:   value" files (status, meminfo), as a number; -1 when absent. */
static long long keyed(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':')
            return strtoll(p + klen + 1, NULL, 10);
    }
    return -1;
}

/*
 * proc-list: a header line, then one line per process:
 *   clock <ticks per second> boot <btime> uptime <seconds.hundredths>
 *   <pid> <ppid> <uid> <start ticks> <cpu ticks> <tty_nr> <state> <comm>\t<cmdline, spaces for NULs>
 */
static int proc_list(void)
{
    static char buf[65536];
    long long btime = -1;
    if (slurp("/proc/stat", buf, sizeof buf) > 0) {
        char *b = strstr(buf, "\nbtime ");
        if (b)
            btime = strtoll(b + 7, NULL, 10);
    }
    char up[128] = "0";
    slurp("/proc/uptime", up, sizeof up);
    up[strcspn(up, " \n")] = 0;
    printf("clock %ld boot %lld uptime %s\n", sysconf(_SC_CLK_TCK), btime, up);

    /* The agent's own processes (its init, its sessions, this one) are not the container's. */
    char self_exe[512] = "";
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    self_exe[sl < 0 ? 0 : sl] = 0;
    DIR *d = opendir("/proc");
    if (!d) {
        fprintf(stderr, "/proc: %s\n", strerror(errno));
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300];
        if (self_exe[0]) {
            char exe[512];
            snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
            ssize_t el = readlink(path, exe, sizeof exe - 1);
            if (el >= 0) {
                exe[el] = 0;
                if (strcmp(exe, self_exe) == 0)
                    continue;
            }
        }
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if (slurp(path, buf, sizeof buf) <= 0)
            continue; /* gone meanwhile */
        /* comm is in parentheses and may hold anything: the fields follow its last ')' */
        char *open_paren = strchr(buf, '(');
        char *close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren || close_paren < open_paren)
            continue;
        *close_paren = 0;
        const char *comm = open_paren + 1;
        char state = 0;
        long long ppid = 0, tty = 0, utime = 0, stime = 0, start = 0;
        /* fields 3.. : state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime */
        if (sscanf(close_paren + 2, "%c %lld %*d %*d %lld %*d %*u %*u %*u %*u %*u %lld %lld %*d %*d %*d %*d %*d %*d %lld",
                   &state, &ppid, &tty, &utime, &stime, &start) != 6)
            continue;
        char status[4096];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        long long uid = -1;
        if (slurp(path, status, sizeof status) > 0) {
            char *u = strstr(status, "\nUid:");
            if (u)
                uid = strtoll(u + 5, NULL, 10);
        }
        char cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        ssize_t n = slurp(path, cmd, sizeof cmd);
        for (ssize_t i = 0; i < n; i++) {
            if (cmd[i] == 0 || cmd[i] == '\n' || cmd[i] == '\t')
                cmd[i] = ' ';
        }
        while (n > 0 && cmd[n - 1] == ' ')
            cmd[--n] = 0;
        char safe_comm[64];
        snprintf(safe_comm, sizeof safe_comm, "%s", comm);
        for (char *c = safe_comm; *c; c++) {
            if (*c == '\t' || *c == '\n')
                *c = ' ';
        }
        printf("%s %lld %lld %lld %lld %lld %c %s\t%s\n", e->d_name, ppid, uid, start, utime + stime, tty, state,
               safe_comm, n > 0 ? cmd : "");
    }
    closedir(d);
    return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * proc-stats: "key value..." lines from /proc, for docker stats:
 *   cpu <user> <nice> <system> <idle> <iowait> <irq> <softirq> <steal>   (ticks, all CPUs)
 *   cpus <online CPUs>   clock <ticks per second>
 *   mem_total <bytes>   mem_available <bytes>   mem_free <bytes>   cached <bytes>
 *   pids <processes>
 *   net <interface> <rx bytes> <rx packets> <rx errors> <rx dropped> <tx bytes> <tx packets> <tx errors> <tx dropped>
 *   disk <name> <sectors read> <sectors written> <reads> <writes>
 */
static int proc_stats(void)
{
    static char buf[65536];
    if (slurp("/proc/stat", buf, sizeof buf) > 0 && strncmp(buf, "cpu ", 4) == 0) {
        char *eol = strchr(buf, '\n');
        if (eol)
            *eol = 0;
        printf("cpu%s\n", buf + 3);
    }
    printf("cpus %ld\nclock %ld\n", sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_CLK_TCK));
    if (slurp("/proc/meminfo", buf, sizeof buf) > 0) {
        printf("mem_total %lld\nmem_available %lld\nmem_free %lld\ncached %lld\n", keyed(buf, "MemTotal") * 1024,
               keyed(buf, "MemAvailable") * 1024, keyed(buf, "MemFree") * 1024, keyed(buf, "Cached") * 1024);
    }
    long pids = 0;
    DIR *d = opendir("/proc");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (isdigit((unsigned char)e->d_name[0]))
                pids++;
        closedir(d);
    }
    printf("pids %ld\n", pids);
    if (slurp("/proc/net/dev", buf, sizeof buf) > 0) {
        char *line = strchr(buf, '\n');
        line = line ? strchr(line + 1, '\n') : NULL; /* two header lines */
        while (line && *++line) {
            char name[64];
            unsigned long long v[16];
            if (sscanf(line, " %63[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", name, &v[0], &v[1],
                       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]) == 13
                && strcmp(name, "lo") != 0)
                printf("net %s %llu %llu %llu %llu %llu %llu %llu %llu\n", name, v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]);
            line = strchr(line, '\n');
        }
    }
    if (slurp("/proc/diskstats", buf, sizeof buf) > 0) {
        for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
            char name[64];
            unsigned long long reads, rsect, writes, wsect;
            if (sscanf(line, " %*u %*u %63s %llu %*u %llu %*u %llu %*u %llu", name, &reads, &rsect, &writes, &wsect) == 5
                && strncmp(name, "vd", 2) == 0 && !isdigit((unsigned char)name[strlen(name) - 1]))
                printf("disk %s %llu %llu %llu %llu\n", name, rsect, wsect, reads, writes);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int procinfo_builtin(const char *builtin)
{
    if (strcmp(builtin, "proc-list") == 0)
        return proc_list();
    if (strcmp(builtin, "proc-stats") == 0)
        return proc_stats();
    fprintf(stderr, "%s: not a builtin of vessel-agent\n", builtin);
    return 1;
}
