// SPDX-License-Identifier: MIT
// Lock-free store: liburcu's cds_lfht resizable hash table, QSBR flavour, under StoreCore's write
// shards. The table node lives in the stored Value's own allocation (its prefix), so an item
// costs one malloc. Readers take no lock and touch no shared counter besides the value's
// reference count; the table's reference to a replaced or deleted value is dropped by call_rcu
// once every worker passed a quiescent state.
#define _LGPL_SOURCE 1  // NOLINT(bugprone-reserved-identifier): liburcu's switch for its inline fast paths
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <new>
#include <vector>

#include "store/store_core.h"

// liburcu is not built with ThreadSanitizer, so TSan cannot see that cds_lfht publishes a node
// with release semantics, nor that call_rcu runs only after every reader passed a quiescent
// state. These annotations tell it; they compile to nothing in other builds.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#define HKV_TSAN_ACQUIRE(p) __tsan_acquire(p)
#define HKV_TSAN_RELEASE(p) __tsan_release(p)
#else
#define HKV_TSAN_ACQUIRE(p) static_cast<void>(p)
#define HKV_TSAN_RELEASE(p) static_cast<void>(p)
#endif

namespace hkv {
namespace {

// Stands for "a grace period has elapsed" in the TSan annotations.
char grace_period_token;

// The table's bookkeeping, stored in front of each Value. The SIEVE links are needed only while
// the value is in the table, and the RCU callback head only after it left: they share space.
struct Node {
  cds_lfht_node node;
  union {
    SieveHook hook;
    rcu_head rcu;
  };
};
static_assert(sizeof(Node) == 32 && offsetof(Node, hook) + sizeof(SieveHook) == sizeof(Node));

Node* node_of(cds_lfht_node* n) { return caa_container_of(n, Node, node); }
Node* node_of(Value* v) { return static_cast<Node*>(v->prefix()); }
Value* value_of(Node* n) { return Value::from_prefix(n, sizeof(Node)); }

// call_rcu callback: the grace period is over, drop the table's reference.
void drop_table_ref(rcu_head* head) {
  HKV_TSAN_ACQUIRE(&grace_period_token);
  value_of(caa_container_of(head, Node, rcu))->release();
}

int match_key(cds_lfht_node* node, const void* key) {
  HKV_TSAN_ACQUIRE(node);
  return value_of(node_of(node))->key() == *static_cast<const std::string_view*>(key);
}

// Table memory per entry outside the value: one 16-byte bucket node per entry at the load
// factor auto-resize keeps.
constexpr std::size_t kTableBytesPerItem = 16;

class LockFreeStore final : public StoreCore {
 public:
  explicit LockFreeStore(const StoreOptions& options) : StoreCore(options, sizeof(Node), kTableBytesPerItem) {
    unsigned long buckets = std::bit_ceil(std::max<std::size_t>(options.initial_capacity, 64));
    table_ = cds_lfht_new(buckets, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, nullptr);
    if (table_ == nullptr) throw std::bad_alloc();
  }

  // Called once every worker has detached. The table's resize worker may still be running, so
  // this thread registers and empties the table with ordinary RCU deletes before destroying it.
  ~LockFreeStore() override {
    rcu_register_thread();
    std::vector<Node*> removed;
    cds_lfht_iter iter;
    cds_lfht_node* node;
    rcu_read_lock();
    cds_lfht_first(table_, &iter);
    while ((node = cds_lfht_iter_get_node(&iter)) != nullptr) {
      if (cds_lfht_del(table_, node) == 0) removed.push_back(node_of(node));
      cds_lfht_next(table_, &iter);
    }
    rcu_read_unlock();
    synchronize_rcu();
    for (Node* n : removed) value_of(n)->release();
    rcu_barrier();
    rcu_unregister_thread();
    cds_lfht_destroy(table_, nullptr);
  }

  // Lock-free: the lookup runs in the thread's QSBR read-side section; a hit only sets the
  // visited bit and takes a reference.
  ReadResult get(std::string_view key, std::uint64_t now_ms) override {
    const std::size_t hash = hash_key(key);
    rcu_read_lock();
    Value* v = lookup(hash, key);
    ReadResult result;
    if (v != nullptr && v->expired(now_ms)) {
      result.expired = remove_if_current(hash, v);
    } else if (v != nullptr) {
      v->mark_visited();
      result.value = ValueRef::share(v);
    }
    rcu_read_unlock();
    return result;
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
  Value* find_locked(std::size_t, std::size_t hash, std::string_view key) override {
    rcu_read_lock();
    Value* v = lookup(hash, key);
    rcu_read_unlock();
    return v;
  }

  Value* replace_locked(std::size_t, std::size_t hash, Value* v) override {
    Node* n = new (v->prefix()) Node();
    cds_lfht_node_init(&n->node);
    HKV_TSAN_RELEASE(&n->node);
    std::string_view stored_key = v->key();
    rcu_read_lock();
    cds_lfht_node* old = cds_lfht_add_replace(table_, hash, match_key, &stored_key, &n->node);
    rcu_read_unlock();
    return old != nullptr ? value_of(node_of(old)) : nullptr;
  }

  void remove_locked(std::size_t, Value* v) override {
    rcu_read_lock();
    cds_lfht_del(table_, &node_of(v)->node);  // cannot fail: writers of this key hold the shard lock
    rcu_read_unlock();
  }

  // The links are no longer needed: reuse their space for the callback head.
  void retire(Value* v) override { call_rcu(&node_of(v)->rcu, drop_table_ref); }

 private:
  Value* lookup(std::size_t hash, std::string_view key) {
    cds_lfht_iter iter;
    cds_lfht_lookup(table_, hash, match_key, &key, &iter);
    cds_lfht_node* node = cds_lfht_iter_get_node(&iter);
    return node != nullptr ? value_of(node_of(node)) : nullptr;
  }

  cds_lfht* table_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> make_lockfree_store(const StoreOptions& options) {
  return std::make_unique<LockFreeStore>(options);
}

}  // namespace hkv
