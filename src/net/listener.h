// SPDX-License-Identifier: MIT
// Listener: one SO_REUSEPORT listening socket per worker; the kernel spreads new connections
// across workers. Accepted sockets are non-blocking with TCP_NODELAY and large buffers.
#pragma once

#include <functional>
#include <string>

#include "net/event_loop.h"

namespace hkv::net {

struct ListenOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal; "::" is dual-stack
  int port = 3000;
  int backlog = 4096;
  int socket_buffer_bytes = 4 << 20;
};

// Opens a bound, listening, non-blocking SO_REUSEPORT socket. Throws std::system_error /
// invalid_argument.
int open_listen_socket(const ListenOptions& opts);
// Fails (throws) when another socket, even another process's SO_REUSEPORT one, holds the port:
// binds a probe socket without SO_REUSEPORT. Returns the port (the one picked when port is 0).
int claim_port(const ListenOptions& opts);
// The port a bound socket got (for --port 0).
int bound_port(int fd);

class Listener final : public Watcher {
 public:
  using AcceptFn = std::function<void(int fd)>;
  Listener(EventLoop& loop, const ListenOptions& opts, AcceptFn on_accept);
  ~Listener() override;

  void close();  // stop accepting (idempotent)
  void on_io(std::uint32_t events) override;

 private:
  EventLoop& loop_;
  ListenOptions opts_;
  AcceptFn on_accept_;
  int fd_ = -1;
};

}  // namespace hkv::net
