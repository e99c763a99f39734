// SPDX-License-Identifier: MIT
// TagTable's probing, in-place replacement, tombstones and resize with an RCU-deferred free.
#define _LGPL_SOURCE 1  // NOLINT(bugprone-reserved-identifier): liburcu's switch for its inline fast paths
#include "store/tag_table.h"

#include <urcu-qsbr.h>

#include <algorithm>
#include <new>

#include "store/qsbr.h"
#include "store/store.h"

namespace hkv {

namespace {

constexpr std::uintptr_t kEmpty = 0;
constexpr std::uintptr_t kTombstone = 1;  // a removed entry: probes continue past it
constexpr int kTagShift = 48;             // user-space pointers fit in the low 48 bits
constexpr std::uintptr_t kPointerMask = (std::uintptr_t{1} << kTagShift) - 1;
// Grow (or clean out tombstones) past 3/4 full; rebuild at about 45% full. Linear probing stays
// at a few slots per lookup up to there, and the slots average about 14 bytes per item.
constexpr std::size_t kMaxLoadNum = 3, kMaxLoadDen = 4;
constexpr std::size_t kRebuildNum = 9, kRebuildDen = 20;
constexpr std::size_t kMinCapacity = 16;
// Pre-sized for the expected items at 70% full, so a store filled as announced has not resized.
constexpr std::size_t kPresizeNum = 10, kPresizeDen = 7;

// The tag: hash bits 42-57, apart from the shard's top 6 bits; never 0, so a tagged slot is
// never mistaken for an empty or tombstone one.
std::uintptr_t tag_of(std::size_t hash) { return ((hash >> 42) & 0xffff) | 1; }
std::uintptr_t slot_of(std::size_t hash, const Value* v) {
  return (tag_of(hash) << kTagShift) | reinterpret_cast<std::uintptr_t>(v);
}
// A tagged pointer has to go through an integer; the value it points to was published by the
// release store of its slot.
Value* value_in(std::uintptr_t slot) {
  return reinterpret_cast<Value*>(slot & kPointerMask);  // NOLINT(performance-no-int-to-ptr)
}

}  // namespace

// A header followed by `capacity` slots in the same allocation.
struct TagTable::Slots {
  rcu_head rcu;  // for the deferred free after a resize
  std::size_t capacity;

  using Slot = std::atomic<std::uintptr_t>;
  Slot& at(std::size_t i) { return reinterpret_cast<Slot*>(this + 1)[i]; }
  const Slot& at(std::size_t i) const { return reinterpret_cast<const Slot*>(this + 1)[i]; }

  static Slots* create(std::size_t capacity) {
    auto* s = new (::operator new(sizeof(Slots) + capacity * sizeof(Slot))) Slots();
    s->capacity = capacity;
    for (std::size_t i = 0; i < capacity; ++i) new (&s->at(i)) Slot(kEmpty);
    return s;
  }
  static void destroy(Slots* s) { ::operator delete(s); }
  static void destroy_after_grace(rcu_head* head) {
    HKV_TSAN_ACQUIRE(&grace_period_token);
    destroy(caa_container_of(head, Slots, rcu));
  }

  // Where probing for `hash` starts: the low 32 bits scaled onto [0, capacity).
  std::size_t home(std::size_t hash) const { return ((hash & 0xffffffffu) * capacity) >> 32; }
  std::size_t bytes() const { return sizeof(Slots) + capacity * sizeof(Slot); }
};
static_assert(sizeof(TagTable::Slots) % alignof(std::atomic<std::uintptr_t>) == 0);

TagTable::TagTable(std::size_t expected_items)
    : slots_(Slots::create(std::max(kMinCapacity, expected_items * kPresizeNum / kPresizeDen))) {}

TagTable::~TagTable() { Slots::destroy(slots_.load(std::memory_order_relaxed)); }

std::size_t TagTable::capacity() const { return slots_.load(std::memory_order_relaxed)->capacity; }
std::size_t TagTable::bytes() const { return slots_.load(std::memory_order_relaxed)->bytes(); }

std::vector<Value*> TagTable::values() const {
  const Slots* s = slots_.load(std::memory_order_acquire);
  std::vector<Value*> out;
  out.reserve(live_);
  for (std::size_t i = 0; i < s->capacity; ++i) {
    const std::uintptr_t slot = s->at(i).load(std::memory_order_relaxed);
    if (slot != kEmpty && slot != kTombstone) out.push_back(value_in(slot));
  }
  return out;
}

Value* TagTable::find(std::size_t hash, std::string_view key) const {
  const Slots* s = slots_.load(std::memory_order_acquire);
  const std::uintptr_t tag = tag_of(hash);
  std::size_t i = s->home(hash);
  for (std::size_t n = 0; n < s->capacity; ++n) {
    const std::uintptr_t slot = s->at(i).load(std::memory_order_acquire);
    if (slot == kEmpty) return nullptr;
    if ((slot >> kTagShift) == tag && value_in(slot)->key() == key) return value_in(slot);
    if (++i == s->capacity) i = 0;
  }
  return nullptr;
}

void TagTable::prefetch_slots(std::size_t hash) const {
  const Slots* s = slots_.load(std::memory_order_acquire);
  __builtin_prefetch(&s->at(s->home(hash)));
}

void TagTable::prefetch_match(std::size_t hash) const {
  constexpr std::size_t kSlotsLooked = 8;  // a line's worth: about half the keys are past home
  const Slots* s = slots_.load(std::memory_order_acquire);
  const std::uintptr_t tag = tag_of(hash);
  std::size_t i = s->home(hash);
  for (std::size_t n = 0; n < kSlotsLooked; ++n) {
    const std::uintptr_t slot = s->at(i).load(std::memory_order_acquire);
    if (slot == kEmpty) return;
    if ((slot >> kTagShift) == tag) {
      // The value's first bytes: its header, key and, when small, its bytes (copied into the
      // response).
      const char* v = reinterpret_cast<const char*>(value_in(slot));
      for (std::size_t at = 0; at < Value::kPrefetchBytes; at += 64) __builtin_prefetch(v + at);
      __builtin_prefetch(v + Value::kPrefetchBytes - 1);
      return;
    }
    if (++i == s->capacity) i = 0;
  }
}

Value* TagTable::put(std::size_t hash, Value* v) {
  grow_if_full();
  Slots* s = slots_.load(std::memory_order_relaxed);
  const std::uintptr_t tag = tag_of(hash);
  const std::string_view key = v->key();
  std::size_t i = s->home(hash);
  std::size_t free_at = s->capacity;  // the first tombstone passed, reused if the key is absent
  for (std::size_t n = 0; n < s->capacity; ++n) {
    const std::uintptr_t slot = s->at(i).load(std::memory_order_relaxed);
    if (slot == kEmpty) break;
    if (slot == kTombstone) {
      if (free_at == s->capacity) free_at = i;
    } else if ((slot >> kTagShift) == tag && value_in(slot)->key() == key) {
      s->at(i).store(slot_of(hash, v), std::memory_order_release);
      return value_in(slot);
    }
    if (++i == s->capacity) i = 0;
  }
  if (free_at != s->capacity) {
    --tombstones_;
    i = free_at;
  }
  s->at(i).store(slot_of(hash, v), std::memory_order_release);
  ++live_;
  return nullptr;
}

void TagTable::remove(std::size_t hash, const Value* v) {
  Slots* s = slots_.load(std::memory_order_relaxed);
  std::size_t i = s->home(hash);
  for (std::size_t n = 0; n < s->capacity; ++n) {
    const std::uintptr_t slot = s->at(i).load(std::memory_order_relaxed);
    if (slot == kEmpty) return;
    if (value_in(slot) == v && slot != kTombstone) {
      s->at(i).store(kTombstone, std::memory_order_release);
      --live_;
      ++tombstones_;
      return;
    }
    if (++i == s->capacity) i = 0;
  }
}

void TagTable::grow_if_full() {
  Slots* old = slots_.load(std::memory_order_relaxed);
  if ((live_ + tombstones_ + 1) * kMaxLoadDen <= old->capacity * kMaxLoadNum) return;
  Slots* fresh = Slots::create(std::max(kMinCapacity, (live_ + 1) * kRebuildDen / kRebuildNum));
  for (std::size_t j = 0; j < old->capacity; ++j) {
    const std::uintptr_t slot = old->at(j).load(std::memory_order_relaxed);
    if (slot == kEmpty || slot == kTombstone) continue;
    const Value* v = value_in(slot);
    std::size_t i = fresh->home(hash_key(v->key()));
    while (fresh->at(i).load(std::memory_order_relaxed) != kEmpty) {
      if (++i == fresh->capacity) i = 0;
    }
    fresh->at(i).store(slot, std::memory_order_relaxed);
  }
  tombstones_ = 0;
  slots_.store(fresh, std::memory_order_release);
  call_rcu(&old->rcu, Slots::destroy_after_grace);
}

}  // namespace hkv
