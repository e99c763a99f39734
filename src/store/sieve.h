// SPDX-License-Identifier: MIT
// SievePool: one shard's values in insertion order, with SIEVE's eviction hand (Zhang et al.,
// NSDI '24: a hit only sets the value's visited bit; the hand sweeps from old to new, sparing
// and clearing visited values) and a second cursor for background expiry. Not thread-safe: the
// owner holds the shard's lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "store/value.h"

namespace hkv {

// The links live in the last 16 bytes of a value's store prefix, right in front of it.
struct SieveHook {
  Value* newer;
  Value* older;
};
inline SieveHook& sieve_hook(Value* v) { return *(reinterpret_cast<SieveHook*>(v) - 1); }

class SievePool {
 public:
  void push(Value* v);
  void unlink(Value* v);

  // The next value to evict: the first from the hand on that is unvisited or expired at
  // `now_ms`, never `keep` (the value just written). Visited values passed are cleared. Null when
  // the shard holds nothing but `keep`. The caller removes the victim (and unlinks it).
  Value* pick_victim(const Value* keep, std::uint64_t now_ms);

  // Visits up to `max_visits` values from where the last sweep stopped and calls
  // `on_expired(v)` for each expired one; the callback must unlink it. Returns the visits made.
  template <class F>
  std::size_t sweep_expired(std::size_t max_visits, std::uint64_t now_ms, F&& on_expired) {
    std::size_t visits = 0;
    Value* v = reaper_ != nullptr ? reaper_ : oldest_;
    while (v != nullptr && visits < max_visits) {
      Value* next = sieve_hook(v).newer;
      ++visits;
      if (v->expired(now_ms)) on_expired(v);
      v = next;
    }
    reaper_ = v;
    return visits;
  }

  template <class F>
  void for_each(F&& fn) const {
    for (Value* v = oldest_; v != nullptr; v = sieve_hook(v).newer) fn(v);
  }

  std::size_t count() const { return count_; }

 private:
  Value* newest_ = nullptr;
  Value* oldest_ = nullptr;
  Value* hand_ = nullptr;    // null: start from the oldest
  Value* reaper_ = nullptr;  // null: start from the oldest
  std::size_t count_ = 0;
};

}  // namespace hkv
