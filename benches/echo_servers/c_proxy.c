/*
 * TCP forwarder on epoll, the C baseline for the proxy benchmarks.
 *
 * usage: c_proxy LISTEN_PORT BACKEND_PORT [PORT_FILE]
 *
 * Single thread, level-triggered epoll, non-blocking sockets, everything on
 * 127.0.0.1. Each accepted connection is paired with a new connection to
 * the backend. What one side reads is sent to the other at once; what the
 * other side does not take waits in a buffer, and the reading side stops
 * reading until that buffer is flushed (flow control both ways, memory per
 * pair bounded by two buffers). End of stream or an error on either side
 * closes both. The backend connect is blocking: on loopback it completes
 * at once, and this program is only a benchmark baseline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c_common.h"

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 256

/* One side of a pair: its socket, and the bytes waiting to be sent on it. */
struct side {
    int fd;
    struct side *other;
    int reading;
    size_t off, len;
    char buf[BUF_SIZE];
};

static struct sockaddr_in backend;

static int rewatch(int ep, struct side *s, int op) {
    unsigned events = (s->reading ? EPOLLIN : 0) | (s->off < s->len ? EPOLLOUT : 0);
    struct epoll_event ev = {.events = events, .data.ptr = s};
    return epoll_ctl(ep, op, s->fd, &ev);
}

/* Sides closed during one epoll batch: freed after the batch, since a
   later event of the same batch may still point at them. */
static struct side *closed[2 * MAX_EVENTS];
static int nclosed;

static void close_pair(int ep, struct side *s) {
    struct side *o = s->other;
    if (s->fd < 0) {
        return;
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
    epoll_ctl(ep, EPOLL_CTL_DEL, o->fd, NULL);
    close(s->fd);
    close(o->fd);
    s->fd = o->fd = -1;
    closed[nclosed++] = s;
    closed[nclosed++] = o;
}

/* Sends what waits on `s`; 1 when all went, 0 when the socket is full,
   -1 on error. */
static int flush(struct side *s) {
    while (s->off < s->len) {
        ssize_t n = send(s->fd, s->buf + s->off, s->len - s->off, MSG_NOSIGNAL);
        if (n > 0) {
            s->off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    s->off = s->len = 0;
    return 1;
}

/* `s` is readable: read into its partner's buffer and send at once. */
static int on_readable(int ep, struct side *s) {
    struct side *o = s->other;
    ssize_t n = recv(s->fd, o->buf, BUF_SIZE, 0);
    if (n == 0) {
        return -1;
    }
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    }
    o->off = 0;
    o->len = (size_t)n;
    int r = flush(o);
    if (r < 0) {
        return -1;
    }
    if (r == 0) {
        s->reading = 0;
        if (rewatch(ep, s, EPOLL_CTL_MOD) < 0 || rewatch(ep, o, EPOLL_CTL_MOD) < 0) {
            return -1;
        }
    }
    return 0;
}

/* `s` is writable: flush, and let its partner read again once drained. */
static int on_writable(int ep, struct side *s) {
    int r = flush(s);
    if (r <= 0) {
        return r;
    }
    s->other->reading = 1;
    if (rewatch(ep, s, EPOLL_CTL_MOD) < 0 || rewatch(ep, s->other, EPOLL_CTL_MOD) < 0) {
        return -1;
    }
    return 0;
}

static struct side *new_side(int fd) {
    struct side *s = malloc(sizeof *s);
    if (s != NULL) {
        s->fd = fd;
        s->reading = 1;
        s->off = s->len = 0;
    }
    return s;
}

static void on_accept(int ep, int lfd) {
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            return;
        }
        int bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (bfd < 0 || connect(bfd, (struct sockaddr *)&backend, sizeof backend) < 0 ||
            fcntl(bfd, F_SETFL, O_NONBLOCK) < 0) {
            if (bfd >= 0) {
                close(bfd);
            }
            close(cfd);
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct side *c = new_side(cfd), *b = new_side(bfd);
        if (c == NULL || b == NULL) {
            free(c);
            free(b);
            close(cfd);
            close(bfd);
            continue;
        }
        c->other = b;
        b->other = c;
        if (rewatch(ep, c, EPOLL_CTL_ADD) < 0 || rewatch(ep, b, EPOLL_CTL_ADD) < 0) {
            /* New sides have no event in the current batch: free at once. */
            epoll_ctl(ep, EPOLL_CTL_DEL, cfd, NULL);
            epoll_ctl(ep, EPOLL_CTL_DEL, bfd, NULL);
            close(cfd);
            close(bfd);
            free(c);
            free(b);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s LISTEN_PORT BACKEND_PORT [PORT_FILE]\n", argv[0]);
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    backend = sa;
    backend.sin_port = htons((uint16_t)atoi(argv[2]));
    install_signals();

    int lfd = listen_on(&sa, "c_proxy");
    if (lfd < 0) {
        return 1;
    }
    if (argc > 3 && write_port_file(argv[3], ntohs(sa.sin_port), "c_proxy") < 0) {
        return 1;
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("c_proxy: epoll");
        return 1;
    }
    struct epoll_event events[MAX_EVENTS];
    while (!stopping) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 1000);
        for (int i = 0; i < n; i++) {
            struct side *s = events[i].data.ptr;
            if (s == NULL) {
                on_accept(ep, lfd);
                continue;
            }
            if (s->fd < 0) {
                continue; /* its pair was closed earlier in this batch */
            }
            int r = 0;
            if (events[i].events & EPOLLOUT) {
                r = on_writable(ep, s);
            }
            if (r == 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && s->reading) {
                r = on_readable(ep, s);
            }
            if (r < 0) {
                close_pair(ep, s);
            }
        }
        for (int i = 0; i < nclosed; i++) {
            free(closed[i]);
        }
        nclosed = 0;
    }
    return 0;
}
