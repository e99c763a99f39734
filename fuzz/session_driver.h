// SPDX-License-Identifier: MIT
// Shared by fuzz_h1 and fuzz_h2: one input is a client on a socketpair talking to a real
// Connection, run one EventLoop turn at a time as a worker runs it, answered by KvHandler.
#pragma once

#include <linux/sockios.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>

#include "app/handlers.h"
#include "app/metrics.h"
#include "fuzz_store.h"
#include "http/context.h"
#include "net/connection.h"
#include "net/event_loop.h"

namespace hkv::fuzz {

// Input layout: byte 0 holds the options below, byte 1 sets the sizes of the client's writes
// (0: one write; n: pseudo-random sizes from 1 to n), the rest is what the client sends.
enum Options : std::uint8_t {
  kShardedStore = 1 << 0,   // the sharded store instead of the lock-free one
  kSmallLimits = 1 << 1,    // tiny limits: bodies, headers, streams, output high water, h2 floods
  kNoUpgrade = 1 << 2,      // --no-h2c-upgrade
  kShutdownFirst = 1 << 3,  // the server starts draining before the client half-closes
                            // bits 4-5 pick the admission limit: 1, 2, 16 or unlimited
  kGoSilent = 1 << 6,       // once all is sent, the client stays silent past every timeout
};

// The items' memory cap of both stores: small, so that eviction happens.
inline constexpr std::uint64_t kStoreCap = 8 * 1024;

// Call from LLVMFuzzerInitialize: writes to a closed peer must fail with EPIPE, and logs are noise.
inline void setup_process() {
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::off);
}

using FirstProtocol = std::unique_ptr<net::Protocol> (*)(net::Connection&, http::HttpContext&);

inline void run_connection(std::span<const std::uint8_t> input, FirstProtocol first) {
  if (input.size() < 2) return;
  static Store& lockfree = process_store(StoreKind::lockfree, kStoreCap);
  static Store& sharded = process_store(StoreKind::sharded, kStoreCap);
  const std::uint8_t options = input[0];
  const std::uint8_t max_write = input[1];
  std::string_view to_send(reinterpret_cast<const char*>(input.data()) + 2, input.size() - 2);
  Store& store = (options & kShardedStore) ? sharded : lockfree;

  http::HttpLimits limits;
  if (options & kSmallLimits) {
    limits.max_value_size = 64;
    limits.max_header_bytes = 256;
    limits.max_target_bytes = 64;
    limits.max_headers = 4;
    limits.max_streams = 2;
    limits.output_high_water = 256;
    limits.h2_reset_burst = 2;
    limits.h2_reset_rate = 1;
    limits.h2_max_continuations = 1;
    limits.h2_max_pending_acks = 2;
    limits.h2_max_settings = 2;
    limits.h2_max_bad_frames = 2;
  }
  limits.h2c_upgrade = (options & kNoUpgrade) == 0;
  constexpr int kAdmissionLimits[] = {1, 2, 16, 1 << 20};
  http::AdmissionGate gate(kAdmissionLimits[(options >> 4) & 3]);
  net::EventLoop loop;
  http::AdmissionQueue admission(gate, [&loop] { loop.wake(); });
  gate.register_queue(&admission);
  app::MetricsRegistry registry(1, store, gate);
  app::KvHandler handler(store, registry.worker(0), registry, app::HandlerOptions{});
  http::HttpContext ctx{handler, admission, limits, registry.worker(0).protocol};
  // The worker's hooks (worker.cc), except that every turn ends the run: epoll_wait never sleeps.
  loop.set_hooks(net::LoopHooks{
      .before_sleep = [&] { store.thread_offline(); },
      .after_sleep =
          [&] {
            store.thread_online();
            handler.begin_turn();
          },
      .end_of_turn =
          [&] {
            store.quiescent();
            loop.stop();
          },
      .on_wake = [&] { admission.drain(); },
  });

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  const int client = fds[1];
  struct : net::ConnectionOwner {
    bool closed = false;
    void connection_closed(net::Connection*) override { closed = true; }
  } owner;
  const net::ConnectionTimeouts timeouts;  // the defaults of the flags
  {
    net::Connection conn(loop, fds[0], owner, &timeouts, &registry.worker(0).timeouts);
    conn.set_protocol(first(conn, ctx));
    // Runs turns until two in a row neither answer nor take any input; the client reads and drops
    // every answer, so the server never waits for it.
    auto settle = [&] {
      char sink[16384];
      for (int quiet = 0, turns = 0; quiet < 2 && turns < 10000 && !owner.closed; ++turns) {
        int unread_before = 0, unread_after = 0;
        ::ioctl(client, SIOCOUTQ, &unread_before);
        loop.run(0);
        bool answered = false;
        while (::read(client, sink, sizeof sink) > 0) answered = true;
        ::ioctl(client, SIOCOUTQ, &unread_after);
        quiet = answered || unread_after != unread_before ? 0 : quiet + 1;
      }
    };
    std::uint32_t rng = max_write;
    while (!to_send.empty() && !owner.closed) {
      std::size_t n = to_send.size();
      if (max_write != 0) {
        rng = rng * 1103515245u + 12345u;
        n = std::min<std::size_t>(n, 1 + (rng >> 16) % max_write);
      }
      ssize_t sent = ::send(client, to_send.data(), n, MSG_NOSIGNAL);
      if (sent < 0 && errno == EAGAIN) {
        settle();
        sent = ::send(client, to_send.data(), n, MSG_NOSIGNAL);
      }
      if (sent <= 0) break;  // the server closed, or stopped reading for good
      to_send.remove_prefix(static_cast<std::size_t>(sent));
      settle();
    }
    if ((options & kGoSilent) && !owner.closed) {
      // The worker's timer: the first tick notes what the connection awaits, the second comes a
      // day later, past every timeout and linger.
      const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count();
      conn.tick(now_ms);
      conn.tick(now_ms + 24 * 3600 * 1000);
      settle();
    }
    auto server_drains = [&] {
      if (owner.closed) return;
      conn.shutdown();
      settle();
    };
    auto client_half_closes = [&] {
      ::shutdown(client, SHUT_WR);
      settle();
    };
    if (options & kShutdownFirst) {
      server_drains();
      client_half_closes();
    } else {
      client_half_closes();
      server_drains();
    }
    if (!owner.closed) conn.close_now();  // as a worker does when the shutdown deadline passes
  }
  ::close(client);
  // A closed connection must have given back every admission slot and left no waiter behind (a
  // stale waiter would be called here, after its session was freed).
  admission.drain();
  if (gate.in_flight() != 0) {
    std::fprintf(stderr, "admission slots leaked: %d still in flight after the connection closed\n",
                 gate.in_flight());
    std::abort();
  }
  empty_store(store);
}

}  // namespace hkv::fuzz
