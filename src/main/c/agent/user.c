/*
 * "user=NAME|UID[:GROUP|GID]" as docker's --user means it, resolved against the /etc/passwd and
 * /etc/group of the process's root (the container image), without NSS: a static binary has none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static int numeric(const char *s, unsigned long *out)
{
    if (!*s)
        return 0;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 4294967294ul)
        return 0;
    *out = v;
    return 1;
}

/* Finds the line whose field 0 (name) or field 2 (id) matches; fills id and, for passwd, gid. */
static int lookup(const char *file, const char *name, unsigned long want_id, int by_id, unsigned long *id,
                  unsigned long *gid)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *fields[4] = {0};
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            fields[i] = p;
            p = strchr(p, ':');
            if (p)
                *p++ = 0;
        }
        if (!fields[2])
            continue;
        char *nl = strchr(fields[2], '\n');
        if (nl)
            *nl = 0;
        unsigned long this_id;
        if (!numeric(fields[2], &this_id))
            continue;
        if (by_id ? this_id != want_id : strcmp(fields[0], name) != 0)
            continue;
        *id = this_id;
        if (gid) {
            unsigned long g = 0;
            if (fields[3]) {
                nl = strchr(fields[3], '\n');
                if (nl)
                    *nl = 0;
                numeric(fields[3], &g);
            }
            *gid = g;
        }
        found = 1;
    }
    fclose(f);
    return found;
}

int resolve_user(const char *spec, uid_t *uid, gid_t *gid)
{
    char buf[512];
    if (strlen(spec) >= sizeof buf || !*spec)
        return EINVAL;
    strcpy(buf, spec);
    char *group = strchr(buf, ':');
    if (group)
        *group++ = 0;
    unsigned long u = 0, g = 0, n;
    if (numeric(buf, &n)) {
        u = n;
        if (!lookup("/etc/passwd", NULL, n, 1, &u, &g))
            g = 0; /* a uid the image does not know: group 0, as docker does */
    } else if (!lookup("/etc/passwd", buf, 0, 0, &u, &g)) {
        return ENOENT;
    }
    if (group) {
        if (numeric(group, &n))
            g = n;
        else if (!lookup("/etc/group", group, 0, 0, &g, NULL))
            return ENOENT;
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}
