// SPDX-License-Identifier: MIT
// Lock-free store: liburcu's cds_lfht resizable hash table, QSBR flavour. The table node lives in
// the stored Value's own allocation (its prefix), so an item costs one malloc. Readers take no
// lock and touch no shared counter besides the value's reference count; the table's reference to
// a replaced or deleted value is dropped by call_rcu once every worker passed a quiescent state.
#define _LGPL_SOURCE 1
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include <bit>
#include <new>
#include <vector>

#include "store/store.h"

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

// The table's bookkeeping, stored in front of each Value.
struct Node {
  cds_lfht_node node;
  rcu_head rcu;
};
static_assert(sizeof(Node) % 8 == 0);

Node* node_of(cds_lfht_node* n) { return caa_container_of(n, Node, node); }
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

class LockFreeStore final : public Store {
 public:
  explicit LockFreeStore(std::size_t initial_capacity) {
    unsigned long buckets = std::bit_ceil(std::max<std::size_t>(initial_capacity, 64));
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

  ValueRef get(std::string_view key) override {
    cds_lfht_iter iter;
    rcu_read_lock();
    cds_lfht_lookup(table_, hash_key(key), match_key, &key, &iter);
    cds_lfht_node* node = cds_lfht_iter_get_node(&iter);
    Value* v = nullptr;
    if (node != nullptr) {
      v = value_of(node_of(node));
      v->add_ref();
    }
    rcu_read_unlock();
    return ValueRef::adopt(v);
  }

  PutResult put(std::string_view key, std::string_view bytes) override {
    Value* v = Value::make(key, bytes, sizeof(Node)).detach();  // the table's reference
    auto* n = new (v->prefix()) Node();
    cds_lfht_node_init(&n->node);
    HKV_TSAN_RELEASE(&n->node);
    std::string_view stored_key = v->key();
    rcu_read_lock();
    cds_lfht_node* old = cds_lfht_add_replace(table_, hash_key(stored_key), match_key, &stored_key, &n->node);
    rcu_read_unlock();
    if (old == nullptr) return PutResult::created;
    call_rcu(&node_of(old)->rcu, drop_table_ref);
    return PutResult::replaced;
  }

  bool erase(std::string_view key) override {
    cds_lfht_iter iter;
    bool removed = false;
    rcu_read_lock();
    // A concurrent put may replace the node between lookup and delete; the key still exists
    // then, so look it up again rather than report it missing.
    for (;;) {
      cds_lfht_lookup(table_, hash_key(key), match_key, &key, &iter);
      cds_lfht_node* node = cds_lfht_iter_get_node(&iter);
      if (node == nullptr) break;
      if (cds_lfht_del(table_, node) == 0) {
        call_rcu(&node_of(node)->rcu, drop_table_ref);
        removed = true;
        break;
      }
    }
    rcu_read_unlock();
    return removed;
  }

  std::size_t size() const override {
    long before = 0;
    long after = 0;
    unsigned long count = 0;
    rcu_read_lock();
    cds_lfht_count_nodes(table_, &before, &count, &after);
    rcu_read_unlock();
    return count;
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

 private:
  cds_lfht* table_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> make_lockfree_store(std::size_t initial_capacity) {
  return std::make_unique<LockFreeStore>(initial_capacity);
}

}  // namespace hkv
