/*
 * What the C baselines share: signal set-up, the listening socket and the
 * port file (written whole, through a rename, for the
 * benchmark runner).
 */
#ifndef C_COMMON_H
#define C_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

/* SIGPIPE ignored; SIGINT and SIGTERM set `stopping`. */
static void install_signals(void) {
    signal(SIGPIPE, SIG_IGN);
    struct sigaction act = {.sa_handler = on_signal};
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
}

/* A non-blocking listening socket on `sa` (port 0: any free port, written
   back into `sa`); -1 after printing why. */
static int listen_on(struct sockaddr_in *sa, const char *name) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t sl = sizeof *sa;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)sa, sizeof *sa) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)sa, &sl) < 0) {
        fprintf(stderr, "%s: ", name);
        perror("listen");
        return -1;
    }
    return lfd;
}

/* Writes `text` and a newline to `path` (via path.tmp and a rename), so a
   reader sees all of it or nothing; 0 or -1. */
static int write_text_file(const char *path, const char *text, const char *name) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "%s: ", name);
        perror("port file");
        return -1;
    }
    return 0;
}

/* Writes `port` to `path` as write_text_file does. */
static int write_port_file(const char *path, unsigned port, const char *name) {
    char text[16];
    snprintf(text, sizeof text, "%u", port);
    return write_text_file(path, text, name);
}

#endif
