/*
 * TCP request/response latency for bench/net.sh, netperf TCP_RR's measure: one connection, a
 * 1-byte request answered by a 1-byte response, N times in a row; the client prints the median,
 * 99th percentile and mean round trip in microseconds.
 *
 *   tcp-rr server PORT          answers every byte it reads with one byte, a connection at a time
 *   tcp-rr client IP PORT N     prints "RR n=N median_us=.. p99_us=.. mean_us=.."
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    int one = 1;
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 4) < 0) {
            perror("tcp-rr server");
            return 1;
        }
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c < 0)
                continue;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            char b;
            while (read(c, &b, 1) == 1 && write(c, &b, 1) == 1) {
            }
            close(c);
        }
    }
    if (argc == 5 && strcmp(argv[1], "client") == 0) {
        int n = atoi(argv[4]);
        if (n < 1) {
            fprintf(stderr, "tcp-rr: N must be positive\n");
            return 2;
        }
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
        if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 || connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
            perror("tcp-rr client");
            return 1;
        }
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        double *rt = malloc(sizeof(double) * (size_t)n), sum = 0;
        char b = 'x';
        for (int i = 0; i < n; i++) {
            double t0 = now_us();
            if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) {
                fprintf(stderr, "tcp-rr: connection lost after %d round trips\n", i);
                return 1;
            }
            rt[i] = now_us() - t0;
            sum += rt[i];
        }
        qsort(rt, (size_t)n, sizeof(double), cmp);
        printf("RR n=%d median_us=%.1f p99_us=%.1f mean_us=%.1f\n", n, rt[n / 2], rt[(int)(n * 0.99)], sum / n);
        return 0;
    }
    fprintf(stderr, "usage: tcp-rr server PORT | tcp-rr client IP PORT N\n");
    return 2;
}
