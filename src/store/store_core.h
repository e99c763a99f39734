// SPDX-License-Identifier: MIT
// StoreCore: what both table implementations share — 64 write shards (a mutex and a SIEVE pool
// each), the memory budget and eviction, conditional writes, expiry and iteration. A backend
// supplies the table operations; every write to a key runs under that key's shard lock, so a
// compare-and-set is atomic. Reads are up to the backend (the lock-free one takes no lock).
#pragma once

#include <array>
#include <atomic>
#include <mutex>

#include "store/sieve.h"
#include "store/store.h"

namespace hkv {

class StoreCore : public Store {
 public:
  WriteResult put(std::string_view key, std::string_view bytes, const ValueMeta& meta,
                  const Precondition& cond) override;
  ValueRef make_value(std::string_view key, std::size_t size, const ValueMeta& meta) override;
  WriteResult put_value(ValueRef fresh, const ValueMeta& meta, const Precondition& cond) override;
  WriteResult erase(std::string_view key, std::uint64_t now_ms, const Precondition& cond) override;
  std::size_t reap_expired(std::uint64_t now_ms, std::size_t max_visits) override;
  void for_each(const std::function<void(const Value&)>& fn) override;
  std::size_t size() const override { return items_.load(std::memory_order_relaxed); }
  std::uint64_t bytes_used() const override { return used_.load(std::memory_order_relaxed); }
  std::uint64_t max_memory() const override { return max_memory_; }

 protected:
  static constexpr std::size_t kShards = 64;

  // `prefix_bytes`: the backend's bookkeeping in front of each value, ending with a SieveHook.
  // `table_bytes_per_item`: the table's memory per entry outside the value's own allocation.
  StoreCore(const StoreOptions& options, std::size_t prefix_bytes, std::size_t table_bytes_per_item);

  // The high bits pick the shard, so the low bits stay free for the table's own bucketing.
  static std::size_t shard_of(std::size_t hash) { return hash >> 58; }

  // Table operations, called with the key's shard locked.
  // The live or expired value stored under `key`, or null.
  virtual Value* find_locked(std::size_t shard, std::size_t hash, std::string_view key) = 0;
  // Puts `v` in the table, which takes over the caller's reference; returns the value it
  // replaced (the table's reference to it passes to the caller), or null.
  virtual Value* replace_locked(std::size_t shard, std::size_t hash, Value* v) = 0;
  // Takes the current value `v` out of the table; the table's reference passes to the caller.
  virtual void remove_locked(std::size_t shard, Value* v) = 0;
  // Drops a reference returned by the two above once no reader can still be looking at it.
  virtual void retire(Value* v) = 0;

  // For a backend's read path: removes `v` if it is still the key's value (a reader found it
  // expired). Returns whether it did.
  bool remove_if_current(std::size_t hash, Value* v);

 private:
  struct alignas(64) Shard {
    std::mutex mu;
    SievePool pool;
  };

  std::uint64_t charge(const Value* v) const { return v->footprint() + table_bytes_per_item_; }
  // With the shard locked: unlinks and uncounts a value the table no longer holds.
  void forget_locked(Shard& s, Value* v);
  // Evicts one value, starting with shard `first`, sparing `keep`. Returns false when nothing
  // but `keep` is left.
  bool evict_one(std::size_t first, const Value* keep, std::uint64_t now_ms);

  const std::size_t prefix_bytes_;
  const std::size_t table_bytes_per_item_;
  const std::uint64_t max_memory_;
  std::array<Shard, kShards> shards_;
  alignas(64) std::atomic<std::uint64_t> used_{0};
  std::atomic<std::size_t> items_{0};
  std::atomic<std::size_t> expiring_{0};  // items with an expiry: the sweep idles at zero
  std::atomic<std::size_t> reap_cursor_{0};
};

}  // namespace hkv
