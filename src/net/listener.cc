// SPDX-License-Identifier: MIT
// Listening sockets and accept(2), with the socket options every connection gets.
#include "net/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace hkv::net {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void set_int_option(int fd, int level, int name, int value) {
  setsockopt(fd, level, name, &value, sizeof value);
}

void tune_connection(int fd, int buffer_bytes) {
  set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  set_int_option(fd, SOL_SOCKET, SO_SNDBUF, buffer_bytes);
  set_int_option(fd, SOL_SOCKET, SO_RCVBUF, buffer_bytes);
}

}  // namespace

namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
};

Address parse_address(const ListenOptions& opts) {
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, opts.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(opts.port));
    a.len = sizeof *v4;
  } else if (inet_pton(AF_INET6, opts.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(opts.port));
    a.len = sizeof *v6;
  } else {
    throw std::invalid_argument("not an IPv4 or IPv6 address: " + opts.address);
  }
  return a;
}

// A bound (not yet listening) socket; closes it and throws on failure.
int bound_socket(const ListenOptions& opts, bool reuse_port) {
  Address a = parse_address(opts);
  int fd = socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (reuse_port) set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  if (a.storage.ss_family == AF_INET6) set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a.storage), a.len) < 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    throw_errno("bind " + opts.address + " port " + std::to_string(opts.port));
  }
  return fd;
}

}  // namespace

int claim_port(const ListenOptions& opts) {
  int fd = bound_socket(opts, false);
  int port = bound_port(fd);
  ::close(fd);
  return port;
}

int open_listen_socket(const ListenOptions& opts) {
  int fd = bound_socket(opts, true);
  // Accepted sockets inherit the buffer sizes; setting them here sizes the TCP window at SYN time.
  set_int_option(fd, SOL_SOCKET, SO_SNDBUF, opts.socket_buffer_bytes);
  set_int_option(fd, SOL_SOCKET, SO_RCVBUF, opts.socket_buffer_bytes);
  if (listen(fd, opts.backlog) < 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    throw_errno("listen");
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

Listener::Listener(EventLoop& loop, const ListenOptions& opts, AcceptFn on_accept, ErrorFn on_error)
    : loop_(loop), opts_(opts), on_accept_(std::move(on_accept)), on_error_(std::move(on_error)) {
  fd_ = open_listen_socket(opts);
  loop_.add(fd_, EPOLLIN, this);
}

Listener::~Listener() { close(); }

void Listener::close() {
  if (fd_ < 0) return;
  loop_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
}

void Listener::on_io(std::uint32_t) {
  // Accept a bounded batch per wake-up so one busy listener cannot starve the connections.
  for (int i = 0; i < 64 && fd_ >= 0 && !paused_; ++i) {
    int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of file descriptors or memory: the pending connection stays queued and the socket
      // stays readable, so stop watching it until resume() instead of spinning on accept.
      const int err = errno;
      paused_ = true;
      loop_.modify(fd_, 0, this);
      if (on_error_) on_error_(err);
      return;
    }
    tune_connection(fd, opts_.socket_buffer_bytes);
    on_accept_(fd);
  }
}

void Listener::resume() {
  if (!paused_ || fd_ < 0) return;
  paused_ = false;
  loop_.modify(fd_, EPOLLIN, this);
}

void turn_away(int fd, std::string_view response) {
  [[maybe_unused]] ssize_t sent = ::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  char discard[4096];
  while (::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
  }
  ::close(fd);
}

}  // namespace hkv::net
