// SPDX-License-Identifier: MIT
// Lock-free store: liburcu's cds_lfht resizable hash table, QSBR flavour. Readers take no lock and
// touch no shared counter besides the value's reference count; replaced and deleted entries are
// freed by call_rcu once every worker has passed a quiescent state.
#define _LGPL_SOURCE 1
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include "store/store.h"

// liburcu is not built with ThreadSanitizer, so TSan cannot see that cds_lfht publishes a node
// with release semantics, nor that call_rcu frees only after every reader passed a quiescent
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

struct Entry {
  cds_lfht_node node;
  rcu_head rcu;
  ValueRef value;
  std::uint32_t key_len;

  const char* key_data() const { return reinterpret_cast<const char*>(this + 1); }
  std::string_view key() const { return {key_data(), key_len}; }

  static Entry* make(std::string_view key, ValueRef value) {
    void* mem = std::malloc(sizeof(Entry) + key.size());
    if (mem == nullptr) throw std::bad_alloc();
    auto* e = new (mem) Entry();
    cds_lfht_node_init(&e->node);
    e->value = std::move(value);
    e->key_len = static_cast<std::uint32_t>(key.size());
    std::memcpy(reinterpret_cast<char*>(e + 1), key.data(), key.size());
    return e;
  }
  static void destroy(Entry* e) {
    e->~Entry();
    std::free(e);
  }
  static void destroy_after_grace(rcu_head* head) {
    HKV_TSAN_ACQUIRE(&grace_period_token);
    destroy(caa_container_of(head, Entry, rcu));
  }
};

int match_key(cds_lfht_node* node, const void* key) {
  HKV_TSAN_ACQUIRE(node);
  const auto* e = caa_container_of(node, Entry, node);
  return e->key() == *static_cast<const std::string_view*>(key);
}

class LockFreeStore final : public Store {
 public:
  explicit LockFreeStore(std::size_t initial_capacity) {
    unsigned long buckets = std::bit_ceil(std::max<std::size_t>(initial_capacity, 64));
    table_ = cds_lfht_new(buckets, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, nullptr);
    if (table_ == nullptr) throw std::bad_alloc();
  }

  ~LockFreeStore() override {
    // Only called once every worker has detached: nothing reads the table any more.
    cds_lfht_iter iter;
    cds_lfht_node* node;
    cds_lfht_first(table_, &iter);
    while ((node = cds_lfht_iter_get_node(&iter)) != nullptr) {
      cds_lfht_next(table_, &iter);
      if (cds_lfht_del(table_, node) == 0) Entry::destroy(caa_container_of(node, Entry, node));
    }
    rcu_barrier_qsbr();
    cds_lfht_destroy(table_, nullptr);
  }

  ValueRef get(std::string_view key) override {
    cds_lfht_iter iter;
    rcu_read_lock();
    cds_lfht_lookup(table_, hash_key(key), match_key, &key, &iter);
    cds_lfht_node* node = cds_lfht_iter_get_node(&iter);
    ValueRef v;
    if (node != nullptr) v = caa_container_of(node, Entry, node)->value;
    rcu_read_unlock();
    return v;
  }

  PutResult put(std::string_view key, ValueRef value) override {
    Entry* e = Entry::make(key, std::move(value));
    HKV_TSAN_RELEASE(&e->node);
    rcu_read_lock();
    cds_lfht_node* old = cds_lfht_add_replace(table_, hash_key(key), match_key, &key, &e->node);
    rcu_read_unlock();
    if (old == nullptr) return PutResult::created;
    call_rcu(&caa_container_of(old, Entry, node)->rcu, Entry::destroy_after_grace);
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
        call_rcu(&caa_container_of(node, Entry, node)->rcu, Entry::destroy_after_grace);
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
