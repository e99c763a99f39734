// SPDX-License-Identifier: MIT
// Linux epoll(2) event loop with an eventfd for cross-thread wake-ups.
#include "net/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace hkv::net {

namespace {
[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }
// Marks the wake eventfd in epoll_data (watchers are pointers, never this value).
Watcher* const kWakeTag = nullptr;
}  // namespace

EventLoop::EventLoop() : events_(256) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw_errno("epoll_create1");
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) throw_errno("eventfd");
  add(wakefd_, EPOLLIN, kWakeTag);
}

EventLoop::~EventLoop() {
  close(wakefd_);
  close(epfd_);
}

void EventLoop::add(int fd, std::uint32_t events, Watcher* w) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = w;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl add");
}

void EventLoop::modify(int fd, std::uint32_t events, Watcher* w) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = w;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0) throw_errno("epoll_ctl mod");
}

void EventLoop::remove(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wakefd_, &one, sizeof one);
}

void EventLoop::run(int timeout_ms) {
  running_ = true;
  while (running_) {
    if (hooks_.before_sleep) hooks_.before_sleep();
    int n = epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (hooks_.after_sleep) hooks_.after_sleep();
    if (n < 0 && errno != EINTR) throw_errno("epoll_wait");
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      auto* w = static_cast<Watcher*>(events_[i].data.ptr);
      if (w == kWakeTag) {
        std::uint64_t count;
        [[maybe_unused]] ssize_t r = read(wakefd_, &count, sizeof count);
        woken = true;
      } else {
        w->on_io(events_[i].events);
      }
    }
    if (woken && hooks_.on_wake) hooks_.on_wake();
    if (hooks_.end_of_turn) hooks_.end_of_turn();
  }
}

}  // namespace hkv::net
