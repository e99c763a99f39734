// SPDX-License-Identifier: MIT
// ConnectionBudget: the server-wide cap on open client connections (--max-connections), shared by
// every worker and touched once per accept and once per close.
#pragma once

#include <atomic>

namespace hkv::net {

class ConnectionBudget {
 public:
  explicit ConnectionBudget(int max) : max_(max) {}

  bool try_acquire() {
    if (open_.fetch_add(1, std::memory_order_relaxed) < max_) return true;
    open_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void release() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int max() const { return max_; }

 private:
  const int max_;
  std::atomic<int> open_{0};
};

}  // namespace hkv::net
