/* The limit feedbackd is measured against: one-byte round trips over a Unix socket, between two
 * processes. `echo server PATH` echoes every byte it reads (one client at a time); `echo client PATH
 * SECONDS` sends a byte, waits for it back, and prints round trips per second.
 * Build: cc -O2 -o echo echo.c (scripts/bench.sh does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: echo server PATH | echo client PATH SECONDS\n");
        return 64;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, argv[2], sizeof address.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    char byte = 1;
    if (strcmp(argv[1], "server") == 0) {
        unlink(argv[2]);
        if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 1) != 0) { perror("bind"); return 1; }
        printf("listening\n");
        fflush(stdout);
        for (;;) {
            int peer = accept(fd, NULL, NULL);
            while (read(peer, &byte, 1) == 1) {
                if (write(peer, &byte, 1) != 1) break;
            }
            close(peer);
        }
    }
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); return 1; }
    double seconds = argc > 3 ? atof(argv[3]) : 3, start = now(), end = start + seconds;
    long trips = 0;
    while (now() < end) {
        if (write(fd, &byte, 1) != 1 || read(fd, &byte, 1) != 1) { perror("echo"); return 1; }
        trips++;
    }
    printf("%ld %.0f\n", trips, trips / (now() - start));
    return 0;
}
