/* Parses and validates the 'E' exec request payload (see protocol.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "protocol.h"

#define MAX_ARGS 65536u
#define MAX_ENV 4096u

/* Copies at most 40 bytes of s into out, replacing anything unprintable. */
static void printable(const char *s, size_t n, char *out, size_t outlen)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < outlen; i++) {
        if (i == 40) {
            out[k++] = '.';
            out[k++] = '.';
            out[k++] = '.';
            break;
        }
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[k] = 0;
}

/* Decimal without sign or spaces, at most max. */
static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!*s || strlen(s) > 20)
        return -1;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long long)(*p - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

static int parse_flag(const char *s, int *out)
{
    if (strcmp(s, "0") == 0)
        *out = 0;
    else if (strcmp(s, "1") == 0)
        *out = 1;
    else
        return -1;
    return 0;
}

/* Appends v to a NULL-terminated array that has *n entries and room for *cap. */
static int push(char ***arr, size_t *n, size_t *cap, char *v)
{
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **na = realloc(*arr, nc * sizeof *na);
        if (!na)
            return -1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    (*arr)[*n] = NULL;
    return 0;
}

void exec_req_free(struct exec_req *req)
{
    free(req->argv);
    free(req->env);
    req->argv = NULL;
    req->env = NULL;
}

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        snprintf(err, errlen, __VA_ARGS__);                                                                            \
        exec_req_free(req);                                                                                            \
        return -1;                                                                                                     \
    } while (0)

int exec_req_parse(const uint8_t *payload, size_t len, struct exec_req *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    req->rows = VA_DEFAULT_ROWS;
    req->cols = VA_DEFAULT_COLS;
    size_t argcap = 0, envcap = 0;
    int seen_cwd = 0, seen_tty = 0, seen_rows = 0, seen_cols = 0, seen_inherit = 0;
    char shown[64];

    if (len == 0)
        FAIL("empty exec request");
    if (payload[len - 1] != 0)
        FAIL("exec request does not end with NUL");

    const char *p = (const char *)payload;
    const char *end = p + len;
    while (p < end) {
        size_t slen = strlen(p); /* bounded: the payload ends with NUL */
        const char *s = p;
        p += slen + 1;
        if (slen == 0)
            FAIL("empty entry in exec request");
        const char *eq = memchr(s, '=', slen);
        if (!eq) {
            printable(s, slen, shown, sizeof shown);
            FAIL("malformed entry '%s' (no '=')", shown);
        }
        size_t klen = (size_t)(eq - s);
        const char *v = eq + 1;
        unsigned long long num;
#define KEY(name) (klen == sizeof(name) - 1 && memcmp(s, name, klen) == 0)
        if (KEY("arg")) {
            if (req->argc >= MAX_ARGS)
                FAIL("too many arguments");
            if (push(&req->argv, &req->argc, &argcap, (char *)v) < 0)
                FAIL("out of memory");
        } else if (KEY("env")) {
            const char *veq = strchr(v, '=');
            if (!veq || veq == v) {
                printable(v, strlen(v), shown, sizeof shown);
                FAIL("malformed env entry '%s' (want NAME=VALUE)", shown);
            }
            if (req->envc >= MAX_ENV)
                FAIL("too many environment variables");
            size_t nlen = (size_t)(veq - v) + 1; /* including '=' */
            for (size_t i = 0; i < req->envc; i++) {
                if (strncmp(req->env[i], v, nlen) == 0) {
                    printable(v, nlen - 1, shown, sizeof shown);
                    FAIL("duplicate env variable '%s'", shown);
                }
            }
            if (push(&req->env, &req->envc, &envcap, (char *)v) < 0)
                FAIL("out of memory");
        } else if (KEY("cwd")) {
            if (seen_cwd++)
                FAIL("duplicate key 'cwd'");
            if (v[0] != '/')
                FAIL("cwd must be an absolute path");
            req->cwd = v;
        } else if (KEY("tty")) {
            if (seen_tty++)
                FAIL("duplicate key 'tty'");
            if (parse_flag(v, &req->tty) < 0)
                FAIL("tty must be 0 or 1");
        } else if (KEY("inherit-env")) {
            if (seen_inherit++)
                FAIL("duplicate key 'inherit-env'");
            if (parse_flag(v, &req->inherit_env) < 0)
                FAIL("inherit-env must be 0 or 1");
        } else if (KEY("rows")) {
            if (seen_rows++)
                FAIL("duplicate key 'rows'");
            if (parse_num(v, 65535, &num) < 0)
                FAIL("rows must be a number 0..65535");
            req->rows = (unsigned)num;
        } else if (KEY("cols")) {
            if (seen_cols++)
                FAIL("duplicate key 'cols'");
            if (parse_num(v, 65535, &num) < 0)
                FAIL("cols must be a number 0..65535");
            req->cols = (unsigned)num;
        } else if (KEY("uid")) {
            if (req->has_uid++)
                FAIL("duplicate key 'uid'");
            if (parse_num(v, 4294967294ull, &num) < 0)
                FAIL("uid must be a number 0..4294967294");
            req->uid = (uid_t)num;
        } else if (KEY("user")) {
            if (req->user)
                FAIL("duplicate key 'user'");
            req->user = v;
        } else if (KEY("builtin")) {
            if (req->builtin)
                FAIL("duplicate key 'builtin'");
            if (strcmp(v, "archive-stat") != 0 && strcmp(v, "archive-get") != 0 && strcmp(v, "archive-put") != 0
                && strcmp(v, "proc-list") != 0 && strcmp(v, "proc-stats") != 0) {
                printable(v, strlen(v), shown, sizeof shown);
                FAIL("unknown builtin '%s'", shown);
            }
            req->builtin = v;
        } else if (KEY("gid")) {
            if (req->has_gid++)
                FAIL("duplicate key 'gid'");
            if (parse_num(v, 4294967294ull, &num) < 0)
                FAIL("gid must be a number 0..4294967294");
            req->gid = (gid_t)num;
        } else {
            printable(s, klen, shown, sizeof shown);
            FAIL("unknown key '%s' in exec request", shown);
        }
#undef KEY
    }
    if (req->argc == 0)
        FAIL("exec request has no arg");
    if (req->user && (req->has_uid || req->has_gid))
        FAIL("give user, or uid/gid, not both");
    if (req->argv[0][0] == 0)
        FAIL("argv[0] is empty");
    if (req->envc == 0) {
        /* an empty, NULL-terminated environment */
        if (push(&req->env, &req->envc, &envcap, NULL) < 0)
            FAIL("out of memory");
        req->envc = 0;
    }
    return 0;
}
