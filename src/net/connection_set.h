// SPDX-License-Identifier: MIT
// ConnectionSet: the open connections of one worker and their timers. Active connections are
// visited every tick; idle ones rest in a queue in the order they came to rest, so a tick costs
// the active connections plus the idle ones whose --idle-timeout has passed, not every connection.
#pragma once

#include <cstddef>
#include <cstdint>

#include "net/connection.h"

namespace hkv::net {

class ConnectionSet {
 public:
  // `idle_ms` is --idle-timeout (0: idle connections never time out).
  explicit ConnectionSet(std::int64_t idle_ms) : idle_ms_(idle_ms) {}
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;

  void add(Connection* c) { active_.push_back(c); }
  // Unlinks a connection that closed.
  void remove(Connection* c);
  // An event arrived for a resting connection: it is active again.
  void wake(Connection* c);
  // Runs every active connection's timers, then lets the idle ones rest (freeing what their next
  // request allocates again), then times out the resting ones whose idle time has passed.
  void tick(std::int64_t now_ms);
  // Makes every connection active, so that what follows (shutdown) reaches them all.
  void wake_all();
  // The first active connection, to walk with Connection::next (null when there is none).
  Connection* first_active() const { return active_.head; }
  bool empty() const { return active_.head == nullptr && resting_.head == nullptr; }
  std::size_t resting() const { return resting_.size; }

 private:
  struct List {
    Connection* head = nullptr;
    Connection* tail = nullptr;
    std::size_t size = 0;
    void push_back(Connection* c);
    void unlink(Connection* c);
  };
  void rest(Connection* c, std::int64_t now_ms);

  std::int64_t idle_ms_;
  List active_;
  List resting_;  // oldest rest first
};

}  // namespace hkv::net
