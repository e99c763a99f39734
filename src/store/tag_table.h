// SPDX-License-Identifier: MIT
// TagTable: one shard's index from key to Value, for lock-free readers. Open addressing with
// linear probing over 8-byte slots, each a value pointer with a 16-bit tag of the key's hash in
// its top bits: a lookup reads one cache line of slots and touches a value only when its tag
// matches. Writers hold the shard's lock; a resize builds a new array, publishes it, and the old
// one is freed after an RCU grace period (readers may still be probing it).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "store/value.h"

namespace hkv {

class TagTable {
 public:
  // The array readers probe; replaced as a whole on resize.
  struct Slots;

  // Sized so that `expected_items` fit without a resize.
  explicit TagTable(std::size_t expected_items);
  ~TagTable();  // frees the current array; call with no reader left
  TagTable(const TagTable&) = delete;
  TagTable& operator=(const TagTable&) = delete;

  // Lock-free: the value stored under `key` (whose hash is `hash`), or null. The caller is in an
  // RCU read-side section and may use the value until its next quiescent state.
  Value* find(std::size_t hash, std::string_view key) const;
  // Hints for a batch of lookups, each a cache miss the next step would wait on: first the line
  // of slots where probing for `hash` starts, then the value of the first tag match in the next
  // eight slots.
  void prefetch_slots(std::size_t hash) const;
  void prefetch_match(std::size_t hash) const;

  // The rest need the shard's lock.
  // Stores `v` under its key: returns the value it replaces, or null.
  Value* put(std::size_t hash, Value* v);
  // Removes `v`, which must be stored.
  void remove(std::size_t hash, const Value* v);

  // Every stored value (for the owner's destructor).
  std::vector<Value*> values() const;

  std::size_t capacity() const;
  std::size_t size() const { return live_; }
  // Bytes of slot arrays in use (not counting an old array still waiting for its grace period).
  std::size_t bytes() const;

 private:
  void grow_if_full();

  std::atomic<Slots*> slots_;
  std::size_t live_ = 0;
  std::size_t tombstones_ = 0;
};

}  // namespace hkv
