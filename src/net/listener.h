// SPDX-License-Identifier: MIT
// Listener: one SO_REUSEPORT listening socket per worker; the kernel spreads new connections
// across workers. Accepted sockets are non-blocking with TCP_NODELAY and large buffers.
#pragma once

#include <functional>
#include <string>
#include <string_view>

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
// Writes `response` without blocking, half-closes, reads and drops what the peer already sent
// (so the close does not reset the connection and lose the response), and closes `fd`.
void turn_away(int fd, std::string_view response);

class Listener final : public Watcher {
 public:
  using AcceptFn = std::function<void(int fd)>;
  // Told the errno when accepting fails for lack of file descriptors or memory; the listener
  // then stops accepting until resume().
  using ErrorFn = std::function<void(int err)>;
  Listener(EventLoop& loop, const ListenOptions& opts, AcceptFn on_accept, ErrorFn on_error = {});
  ~Listener() override;

  void close();  // stop accepting (idempotent)
  void resume();  // accept again after an error paused it (no-op otherwise)
  void on_io(std::uint32_t events) override;

 private:
  EventLoop& loop_;
  ListenOptions opts_;
  AcceptFn on_accept_;
  ErrorFn on_error_;
  int fd_ = -1;
  bool paused_ = false;
};

}  // namespace hkv::net
