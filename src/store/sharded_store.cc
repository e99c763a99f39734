// SPDX-License-Identifier: MIT
// Sharded-mutex store: the fine-grained locking baseline the lock-free store is measured against.
// 64 shards, each a mutex-protected unordered_map keyed by views of the values' own key bytes;
// readers lock one shard briefly.
#include <array>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "store/store.h"

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

class ShardedStore final : public Store {
 public:
  explicit ShardedStore(std::size_t initial_capacity) {
    for (auto& s : shards_) s.map.reserve(initial_capacity / kShards + 1);
  }

  ValueRef get(std::string_view key) override {
    std::size_t h = hash_key(key);
    Shard& s = shard_for(h);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    return it == s.map.end() ? ValueRef() : it->second;
  }

  PutResult put(std::string_view key, std::string_view bytes) override {
    ValueRef value = Value::make(key, bytes);
    Shard& s = shard_for(hash_key(key));
    ValueRef old;  // released after the lock is dropped
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) {
      std::string_view stored_key = value->key();
      s.map.emplace(stored_key, std::move(value));
      return PutResult::created;
    }
    // The map's key views the old value's bytes: re-key the node before that value can go.
    auto node = s.map.extract(it);
    node.key() = value->key();
    old = std::exchange(node.mapped(), std::move(value));
    s.map.insert(std::move(node));
    return PutResult::replaced;
  }

  bool erase(std::string_view key) override {
    Shard& s = shard_for(hash_key(key));
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    s.map.erase(it);
    return true;
  }

  std::size_t size() const override {
    std::size_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.map.size();
    }
    return n;
  }

 private:
  static constexpr std::size_t kShards = 64;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string_view, ValueRef, KeyHash, KeyEq> map;  // keys view the values
  };
  // The low bits pick the bucket inside a shard's map; use high bits for the shard.
  Shard& shard_for(std::size_t h) { return shards_[(h >> 58) % kShards]; }

  std::array<Shard, kShards> shards_;
};

}  // namespace

std::unique_ptr<Store> make_sharded_store(std::size_t initial_capacity) {
  return std::make_unique<ShardedStore>(initial_capacity);
}

}  // namespace hkv
