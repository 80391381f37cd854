/*
 * Echo server on epoll, the C baseline for loadgen comparisons.
 *
 * usage: c_echo PORT [HOST] [PORT_FILE]
 *        c_echo --unix SOCKET_PATH [PORT_FILE]
 *
 * Single thread, level-triggered epoll, non-blocking sockets. Each read is
 * written straight back; whatever the socket does not take is kept in a
 * per-connection buffer and the connection stops reading until that buffer
 * is flushed, so memory per connection is bounded by BUF_SIZE. Prints
 * nothing; with PORT 0 the bound port goes to PORT_FILE (with --unix, the
 * socket's path). Over a UNIX socket the TCP_NODELAY call fails, harmlessly.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "c_common.h"

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 256

struct conn {
    int fd;
    size_t off;  /* first unsent byte in buf */
    size_t len;  /* end of unsent bytes in buf */
    char buf[BUF_SIZE];
};


static void close_conn(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static int watch(int ep, struct conn *c, unsigned events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(ep, op, c->fd, &ev);
}

/* Sends the pending bytes; returns 1 when all went, 0 when the socket is
   full, -1 on error. */
static int flush(struct conn *c) {
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n > 0) {
            c->off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    c->off = c->len = 0;
    return 1;
}

/* Reads and echoes until the socket is drained or full; returns -1 when the
   connection is finished. */
static int on_readable(int ep, struct conn *c) {
    /* Level-triggered: stopping after a few reads is safe and keeps one busy
       connection from starving the others. */
    for (int budget = 16; budget > 0; budget--) {
        ssize_t n = recv(c->fd, c->buf, BUF_SIZE, 0);
        if (n == 0) {
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
        c->off = 0;
        c->len = (size_t)n;
        int r = flush(c);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            return watch(ep, c, EPOLLOUT, EPOLL_CTL_MOD);
        }
    }
    return 0;
}

static int on_writable(int ep, struct conn *c) {
    int r = flush(c);
    if (r <= 0) {
        return r;
    }
    if (watch(ep, c, EPOLLIN, EPOLL_CTL_MOD) < 0) {
        return -1;
    }
    return on_readable(ep, c);
}

static void on_accept(int ep, int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = malloc(sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->off = c->len = 0;
        if (watch(ep, c, EPOLLIN, EPOLL_CTL_ADD) < 0) {
            close(fd);
            free(c);
        }
    }
}

/* A non-blocking listening UNIX stream socket at `path`; -1 after printing
   why. */
static int listen_unix(const char *path, const char *name) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "%s: UNIX socket path too long: %s\n", name, path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0) {
        fprintf(stderr, "%s: ", name);
        perror("listen");
        return -1;
    }
    return lfd;
}

/* A listening socket as the command line asks: TCP (HOST, PORT) or
   --unix SOCKET_PATH; -1 after printing why, -2 on a usage error. */
static int listen_as_asked(int argc, char **argv) {
    const char *port_file = NULL;
    int lfd;
    if (strcmp(argv[1], "--unix") == 0) {
        if (argc < 3 || argc > 4) {
            return -2;
        }
        port_file = argc > 3 ? argv[3] : NULL;
        lfd = listen_unix(argv[2], "c_echo");
        if (lfd >= 0 && port_file != NULL && write_text_file(port_file, argv[2], "c_echo") < 0) {
            return -1;
        }
        return lfd;
    }
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "c_echo: bad IPv4 host %s\n", host);
        return -2;
    }
    lfd = listen_on(&sa, "c_echo");
    if (lfd >= 0 && argc > 3 && write_port_file(argv[3], ntohs(sa.sin_port), "c_echo") < 0) {
        return -1;
    }
    return lfd;
}

static int usage(const char *prog) {
    fprintf(stderr, "usage: %s PORT [HOST] [PORT_FILE] | --unix SOCKET_PATH [PORT_FILE]\n", prog);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        return usage(argv[0]);
    }
    install_signals();

    int lfd = listen_as_asked(argc, argv);
    if (lfd == -2) {
        return usage(argv[0]);
    }
    if (lfd < 0) {
        return 1;
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("c_echo: epoll");
        return 1;
    }
    struct epoll_event events[MAX_EVENTS];
    while (!stopping) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 1000);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                on_accept(ep, lfd);
                continue;
            }
            int r;
            if (events[i].events & EPOLLOUT) {
                r = on_writable(ep, c);
            } else {
                r = on_readable(ep, c);
            }
            if (r < 0) {
                close_conn(ep, c);
            }
        }
    }
    return 0;
}
