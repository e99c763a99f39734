/* Do-nothing HTTP/1.1 responder: the floor for the hkv benchmarks.
 *
 * It parses nothing. For each read() it counts the "\r\n\r\n" sequences in what
 * came in (a terminator split across two reads is still counted once, through a
 * 3-byte carry) and answers all of them with ONE write() of N copies of a fixed
 * "200 OK" response with a 100-byte body. One thread, one epoll loop,
 * SO_REUSEADDR, TCP_NODELAY. Output that the socket does not take at once is
 * kept and flushed on EPOLLOUT, so no response is ever lost.
 *
 * usage: responder PORT [BIND_ADDR]
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

#define BODY                                                                   \
  "0123456789012345678901234567890123456789012345678901234567890123456789"     \
  "012345678901234567890123456789"
static const char RESP[] = "HTTP/1.1 200 OK\r\n"
                           "Content-Type: application/octet-stream\r\n"
                           "Content-Length: 100\r\n"
                           "\r\n" BODY;
#define RESP_LEN (sizeof(RESP) - 1)

struct conn {
  int fd;
  int carry;        /* how many bytes of "\r\n\r\n" matched at the end of the last read */
  char *out;        /* pending output (only when a write was short) */
  size_t out_len, out_cap;
};

static char inbuf[256 * 1024];
static char *outbuf;
static size_t outbuf_cap;

static void conn_close(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->out);
  free(c);
}

/* Count "\r\n\r\n" in buf, continuing a partial match from the previous read. */
static size_t count_terminators(struct conn *c, const char *buf, size_t n) {
  static const char pat[4] = {'\r', '\n', '\r', '\n'};
  size_t count = 0;
  int m = c->carry;
  for (size_t i = 0; i < n; i++) {
    char ch = buf[i];
    if (ch == pat[m]) {
      if (++m == 4) { count++; m = 0; }
    } else {
      m = (ch == '\r') ? 1 : 0;
    }
  }
  c->carry = m;
  return count;
}

static int flush_pending(int ep, struct conn *c) {
  while (c->out_len > 0) {
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    memmove(c->out, c->out + w, c->out_len - (size_t)w);
    c->out_len -= (size_t)w;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  return 0;
}

static int queue_output(int ep, struct conn *c, const char *p, size_t n) {
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + n) cap *= 2;
    char *q = realloc(c->out, cap);
    if (!q) return -1;
    c->out = q;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  return 0;
}

static int on_readable(int ep, struct conn *c) {
  for (;;) {
    ssize_t r = read(c->fd, inbuf, sizeof inbuf);
    if (r == 0) return -1;
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    size_t k = count_terminators(c, inbuf, (size_t)r);
    if (k == 0) {
      if ((size_t)r < sizeof inbuf) return 0;
      continue;
    }
    size_t need = k * RESP_LEN;
    if (need > outbuf_cap) {
      free(outbuf);
      outbuf_cap = need * 2;
      outbuf = malloc(outbuf_cap);
      if (!outbuf) { perror("malloc"); exit(1); }
      for (size_t i = 0; i + RESP_LEN <= outbuf_cap; i += RESP_LEN) memcpy(outbuf + i, RESP, RESP_LEN);
    }
    if (c->out_len > 0) { /* earlier output still waiting: keep order */
      if (queue_output(ep, c, outbuf, need) < 0) return -1;
      if ((size_t)r < sizeof inbuf) return 0;
      continue;
    }
    ssize_t w = write(c->fd, outbuf, need);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR) return -1;
      w = 0;
    }
    if ((size_t)w < need && queue_output(ep, c, outbuf + w, need - (size_t)w) < 0) return -1;
    if ((size_t)r < sizeof inbuf) return 0; /* drained: the next read would say EAGAIN */
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s PORT [BIND_ADDR]\n", argv[0]); return 2; }
  signal(SIGPIPE, SIG_IGN);
  int port = atoi(argv[1]);
  const char *addr = argc > 2 ? argv[2] : "127.0.0.1";
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", addr); return 2; }
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
  if (listen(ls, 4096) < 0) { perror("listen"); return 1; }
  outbuf_cap = 64 * RESP_LEN;
  outbuf = malloc(outbuf_cap);
  for (size_t i = 0; i < 64; i++) memcpy(outbuf + i * RESP_LEN, RESP, RESP_LEN);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  fprintf(stderr, "responder listening on %s:%d\n", addr, port);
  struct epoll_event evs[512];
  for (;;) {
    int n = epoll_wait(ep, evs, 512, -1);
    if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      int rc = 0;
      if (evs[i].events & EPOLLOUT) rc = flush_pending(ep, c);
      if (rc == 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) rc = on_readable(ep, c);
      if (rc < 0) conn_close(ep, c);
    }
  }
}
