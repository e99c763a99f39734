// SPDX-License-Identifier: MIT
// Sharded-mutex store: the fine-grained locking baseline the lock-free store is measured against.
// StoreCore's 64 shards each guard an unordered_map keyed by views of the values' own key bytes;
// readers lock one shard briefly.
#include <array>
#include <mutex>
#include <unordered_map>

#include "store/store_core.h"

namespace hkv {
namespace {

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view k) const { return hash_key(k); }
};
struct KeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

// Table memory per entry outside the value: a hash node (key view, pointer, cached hash, next:
// a 48-byte allocation with its header) and a bucket pointer.
constexpr std::size_t kTableBytesPerItem = 56;

class ShardedStore final : public StoreCore {
 public:
  explicit ShardedStore(const StoreOptions& options) : StoreCore(options, sizeof(SieveHook), kTableBytesPerItem) {
    for (auto& m : maps_) m.map.reserve(options.initial_capacity / kShards + 1);
  }

  ~ShardedStore() override {
    for (auto& m : maps_) {
      for (auto& [key, v] : m.map) v->release();
    }
  }

  ReadResult get(std::string_view key, std::uint64_t now_ms) override {
    const std::size_t hash = hash_key(key);
    Map& m = maps_[shard_of(hash)];
    ReadResult result;
    {
      std::lock_guard lock(m.mu);
      auto it = m.map.find(key);
      if (it == m.map.end()) return result;
      Value* v = it->second;
      if (!v->expired(now_ms)) {
        v->mark_visited();
        result.value = ValueRef::share(v);
        return result;
      }
      result.value = ValueRef::share(v);  // keeps it alive until it is removed below
    }
    result.expired = remove_if_current(hash, result.value.get());
    result.value = ValueRef();
    return result;
  }

 protected:
  Value* find_locked(std::size_t shard, std::size_t, std::string_view key) override {
    Map& m = maps_[shard];
    std::lock_guard lock(m.mu);
    auto it = m.map.find(key);
    return it == m.map.end() ? nullptr : it->second;
  }

  Value* replace_locked(std::size_t shard, std::size_t, Value* v) override {
    Map& m = maps_[shard];
    std::lock_guard lock(m.mu);
    auto it = m.map.find(v->key());
    if (it == m.map.end()) {
      m.map.emplace(v->key(), v);
      return nullptr;
    }
    // The map's key views the old value's bytes: re-key the node before that value can go.
    auto node = m.map.extract(it);
    node.key() = v->key();
    Value* old = std::exchange(node.mapped(), v);
    m.map.insert(std::move(node));
    return old;
  }

  void remove_locked(std::size_t shard, Value* v) override {
    Map& m = maps_[shard];
    std::lock_guard lock(m.mu);
    m.map.erase(v->key());
  }

  void retire(Value* v) override { v->release(); }

 private:
  // Readers lock only the map; writers hold StoreCore's shard lock and then this one.
  struct alignas(64) Map {
    std::mutex mu;
    std::unordered_map<std::string_view, Value*, KeyHash, KeyEq> map;  // holds one reference each
  };
  std::array<Map, kShards> maps_;
};

}  // namespace

std::unique_ptr<Store> make_sharded_store(const StoreOptions& options) {
  return std::make_unique<ShardedStore>(options);
}

}  // namespace hkv
