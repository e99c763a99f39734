// SPDX-License-Identifier: MIT
// Lock-free store: one TagTable per StoreCore write shard, read without a lock under liburcu
// QSBR. An item costs one malloc: the value, with the SIEVE links in front of it. Readers take no
// lock and touch no shared counter besides the value's reference count; the table's reference to
// a replaced or deleted value is dropped by call_rcu once every worker passed a quiescent state.
#define _LGPL_SOURCE 1  // NOLINT(bugprone-reserved-identifier): liburcu's switch for its inline fast paths
#include <urcu-qsbr.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <span>

#include "store/qsbr.h"
#include "store/store_core.h"
#include "store/tag_table.h"

namespace hkv {
namespace {

// The store's bookkeeping in front of each Value. The SIEVE links are needed only while the value
// is in the table, and the RCU callback head only after it left: they share space.
union Prefix {
  SieveHook hook;
  rcu_head rcu;
};
static_assert(sizeof(Prefix) == sizeof(SieveHook));

Prefix* prefix_of(Value* v) { return static_cast<Prefix*>(v->prefix()); }

// call_rcu callback: the grace period is over, drop the table's reference.
void drop_table_ref(rcu_head* head) {
  HKV_TSAN_ACQUIRE(&grace_period_token);
  Value::from_prefix(caa_container_of(head, Prefix, rcu), sizeof(Prefix))->release();
}

// Slot bytes per item, on average between a fresh rebuild (45% full) and a resize (75%).
constexpr std::size_t kTableBytesPerItem = 14;
// Lookups prefetch() overlaps at a time: the slots of all of them are asked for before the
// first is read.
constexpr std::size_t kBatch = 64;

class LockFreeStore final : public StoreCore {
 public:
  explicit LockFreeStore(const StoreOptions& options) : StoreCore(options, sizeof(Prefix), kTableBytesPerItem) {
    for (auto& t : tables_) t = std::make_unique<TagTable>(options.initial_capacity / kShards);
  }

  // Called once every worker has detached: waits for pending callbacks (old slot arrays, values
  // replaced last), then drops the tables' own references.
  ~LockFreeStore() override {
    rcu_register_thread();
    rcu_barrier();
    for (auto& t : tables_) {
      for (Value* v : t->values()) v->release();
    }
    rcu_unregister_thread();
  }

  // Lock-free: the lookup runs in the thread's QSBR read-side section; a hit only sets the
  // visited bit and takes a reference.
  ReadResult get(std::string_view key, std::uint64_t now_ms) override {
    const std::size_t hash = hash_key(key);
    Value* v = tables_[shard_of(hash)]->find(hash, key);
    ReadResult result;
    if (v != nullptr && v->expired(now_ms)) {
      result.expired = remove_if_current(hash, v);
    } else if (v != nullptr) {
      v->mark_visited();
      result.value = ValueRef::share(v);
    }
    return result;
  }

  // Two passes over each batch: the slots where each lookup starts, then the value of each first
  // tag match; by the time those arrive the other lookups' are under way.
  void prefetch(std::span<const std::string_view> keys) override {
    std::array<std::size_t, kBatch> hashes;
    for (std::size_t base = 0; base < keys.size(); base += kBatch) {
      const std::size_t n = std::min(kBatch, keys.size() - base);
      for (std::size_t i = 0; i < n; ++i) {
        hashes[i] = hash_key(keys[base + i]);
        tables_[shard_of(hashes[i])]->prefetch_slots(hashes[i]);
      }
      for (std::size_t i = 0; i < n; ++i) tables_[shard_of(hashes[i])]->prefetch_match(hashes[i]);
    }
  }

  void attach_thread() override { rcu_register_thread(); }
  void detach_thread() override {
    HKV_TSAN_RELEASE(&grace_period_token);
    rcu_unregister_thread();
  }
  void quiescent() override {
    HKV_TSAN_RELEASE(&grace_period_token);
    rcu_quiescent_state();
  }
  void thread_offline() override {
    HKV_TSAN_RELEASE(&grace_period_token);
    rcu_thread_offline();
  }
  void thread_online() override { rcu_thread_online(); }

 protected:
  Value* find_locked(std::size_t shard, std::size_t hash, std::string_view key) override {
    return tables_[shard]->find(hash, key);
  }
  Value* replace_locked(std::size_t shard, std::size_t hash, Value* v) override {
    return tables_[shard]->put(hash, v);
  }
  void remove_locked(std::size_t shard, Value* v) override { tables_[shard]->remove(hash_key(v->key()), v); }
  // The links are no longer needed: reuse their space for the callback head.
  void retire(Value* v) override { call_rcu(&prefix_of(v)->rcu, drop_table_ref); }

 private:
  std::array<std::unique_ptr<TagTable>, kShards> tables_;
};

}  // namespace

std::unique_ptr<Store> make_lockfree_store(const StoreOptions& options) {
  return std::make_unique<LockFreeStore>(options);
}

}  // namespace hkv
