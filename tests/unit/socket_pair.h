// SPDX-License-Identifier: MIT
// Test helper: a non-blocking AF_UNIX socketpair and drain(), which writes an OutputQueue through it.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net/output_queue.h"

namespace hkv::testing_support {

struct SocketPair {
  int w = -1;  // the queue writes here (non-blocking)
  int r = -1;  // the test reads here; a test may close it and set it to -1
  explicit SocketPair(int sndbuf = 0) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    w = fds[0];
    r = fds[1];
    if (sndbuf > 0) ::setsockopt(w, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  ~SocketPair() {
    if (w >= 0) ::close(w);
    if (r >= 0) ::close(r);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;

  // Reads up to `max` bytes that are available now.
  std::string read_some(std::size_t max = SIZE_MAX) {
    std::string out;
    char buf[8192];
    while (out.size() < max) {
      ssize_t n = ::read(r, buf, std::min(sizeof buf, max - out.size()));
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
};

// Writes the whole queue, reading the other end whenever the socket is full; expects no write
// error and an empty queue at the end. Returns every byte the peer received.
inline std::string drain(net::OutputQueue& q, SocketPair& sp) {
  using WS = net::OutputQueue::WriteStatus;
  std::string got;
  for (int spins = 0; spins < 100000; ++spins) {
    WS st = q.write_to(sp.w);
    EXPECT_NE(st, WS::error) << std::strerror(errno);
    got += sp.read_some();
    if (st != WS::blocked) break;
  }
  EXPECT_TRUE(q.empty());
  return got + sp.read_some();
}

}  // namespace hkv::testing_support
