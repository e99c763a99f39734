// SPDX-License-Identifier: MIT
// Counter: an event count or gauge with one writer thread (a plain load and store, no locked
// instruction), readable from any thread; what per-worker metrics are made of.
#pragma once

#include <atomic>
#include <cstdint>

namespace hkv::net {

class Counter {
 public:
  void add(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void set(std::uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace hkv::net
