// SPDX-License-Identifier: MIT
// EventLoop: one epoll instance driven by one thread. Watchers register file descriptors; other
// threads may only call wake(). Hooks let the owner act around the sleep (e.g. RCU offline/online).
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "net/buffer_pool.h"

namespace hkv::net {

class Watcher {
 public:
  virtual ~Watcher() = default;
  virtual void on_io(std::uint32_t events) = 0;
};

struct LoopHooks {
  std::function<void()> before_sleep;  // just before epoll_wait
  std::function<void()> after_sleep;   // just after epoll_wait returns
  std::function<void()> end_of_turn;   // after every event of this turn was handled
  std::function<void()> on_wake;       // another thread called wake()
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void add(int fd, std::uint32_t events, Watcher* w);
  void modify(int fd, std::uint32_t events, Watcher* w);
  void remove(int fd);

  void set_hooks(LoopHooks hooks) { hooks_ = std::move(hooks); }
  // Runs until stop() is called from the loop's own thread. `timeout_ms` bounds each sleep.
  void run(int timeout_ms);
  void stop() { running_ = false; }
  // Thread-safe: makes the loop's thread run hooks.on_wake soon.
  void wake();

  // One input buffer shared by the loop's connections: a connection reads into it and keeps in
  // memory of its own only what its protocol leaves unconsumed, so an idle one holds none.
  static constexpr std::size_t kReadBufferSize = 64 * 1024;
  char* read_buffer() { return read_buffer_.get(); }
  // Output buffers for the loop's connections (see OutputQueue).
  BufferPool& output_buffers() { return output_buffers_; }

 private:
  class WakeWatcher;

  int epfd_ = -1;
  int wakefd_ = -1;
  bool running_ = false;
  LoopHooks hooks_;
  std::vector<epoll_event> events_;
  std::unique_ptr<char[]> read_buffer_ = std::make_unique_for_overwrite<char[]>(kReadBufferSize);
  BufferPool output_buffers_;
};

}  // namespace hkv::net
