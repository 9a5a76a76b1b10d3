/*
 * A UDP echo server for ContainerNetworkIT (the built-in busybox has no UDP server): answers each
 * datagram on PORT with "echo:" and the datagram. Built static by the test, run in a container.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: udp-echo PORT\n");
        return 2;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("udp-echo");
        return 1;
    }
    fprintf(stderr, "udp-echo: listening\n");
    char buf[2048];
    memcpy(buf, "echo:", 5);
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &len);
        if (n >= 0)
            sendto(s, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, len);
    }
}
