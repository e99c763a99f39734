// SPDX-License-Identifier: MIT
// SIEVE list operations: insertion at the new end, unlinking, and the eviction hand.
#include "store/sieve.h"

namespace hkv {

void SievePool::push(Value* v) {
  SieveHook& h = sieve_hook(v);
  h.newer = nullptr;
  h.older = newest_;
  if (newest_ != nullptr) {
    sieve_hook(newest_).newer = v;
  } else {
    oldest_ = v;
  }
  newest_ = v;
  ++count_;
}

void SievePool::unlink(Value* v) {
  SieveHook& h = sieve_hook(v);
  if (hand_ == v) hand_ = h.newer;
  if (reaper_ == v) reaper_ = h.newer;
  if (h.older != nullptr) {
    sieve_hook(h.older).newer = h.newer;
  } else {
    oldest_ = h.newer;
  }
  if (h.newer != nullptr) {
    sieve_hook(h.newer).older = h.older;
  } else {
    newest_ = h.older;
  }
  --count_;
}

Value* SievePool::pick_victim(const Value* keep, std::uint64_t now_ms) {
  // Two passes at most: the first may clear every visited bit, the second then finds a victim.
  const std::size_t max_steps = 2 * count_ + 1;
  Value* v = hand_ != nullptr ? hand_ : oldest_;
  for (std::size_t step = 0; step < max_steps && v != nullptr; ++step) {
    Value* next = sieve_hook(v).newer;
    if (v != keep) {
      if (!v->visited() || v->expired(now_ms)) {
        hand_ = next;
        return v;
      }
      v->clear_visited();
    }
    v = next != nullptr ? next : oldest_;
  }
  return nullptr;
}

}  // namespace hkv
