// SPDX-License-Identifier: MIT
// StoreCore: shard locking, the memory budget with SIEVE eviction, conditional writes, expiry
// sweeps and snapshot iteration, on top of a backend's table operations.
#include "store/store_core.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace hkv {

namespace {

// Values one background sweep looks at while holding a shard lock.
constexpr std::size_t kSweepChunk = 256;

}  // namespace

StoreCore::StoreCore(const StoreOptions& options, std::size_t prefix_bytes, std::size_t table_bytes_per_item)
    : prefix_bytes_(prefix_bytes), table_bytes_per_item_(table_bytes_per_item), max_memory_(options.max_memory) {}

void StoreCore::forget_locked(Shard& s, Value* v) {
  s.pool.unlink(v);
  used_.fetch_sub(charge(v), std::memory_order_relaxed);
  items_.fetch_sub(1, std::memory_order_relaxed);
  if (v->expires_at_ms() != 0) expiring_.fetch_sub(1, std::memory_order_relaxed);
}

WriteResult StoreCore::put(std::string_view key, std::string_view bytes, const ValueMeta& meta,
                           const Precondition& cond) {
  ValueRef fresh = make_value(key, bytes.size(), meta);
  if (!bytes.empty()) std::memcpy(fresh->unfilled_data(), bytes.data(), bytes.size());
  return put_value(std::move(fresh), meta, cond);
}

ValueRef StoreCore::make_value(std::string_view key, std::size_t size, const ValueMeta& meta) {
  return Value::make_unfilled(key, size, meta, prefix_bytes_);
}

WriteResult StoreCore::put_value(ValueRef fresh, const ValueMeta& meta, const Precondition& cond) {
  fresh->seal(meta);
  const std::string_view key = fresh->key();
  const std::uint64_t cost = charge(fresh.get());
  if (max_memory_ != 0 && cost > max_memory_) return {WriteStatus::too_large};
  const std::uint64_t now_ms = meta.stored_at_ms;
  const std::size_t hash = hash_key(key);
  const std::size_t si = shard_of(hash);
  Shard& s = shards_[si];
  Value* v = fresh.get();
  const std::uint64_t etag = v->etag();  // read now: once published, v may be replaced and freed
  Value* old = nullptr;
  bool was_live = false;
  {
    std::lock_guard lock(s.mu);
    if (cond.active()) {
      Value* current = find_locked(si, hash, key);
      if (current != nullptr && current->expired(now_ms)) current = nullptr;
      if (!cond.holds(current)) return {WriteStatus::precondition_failed};
    }
    old = replace_locked(si, hash, v);
    fresh.detach();  // the table holds that reference now (replace_locked may throw before it does)
    if (old != nullptr) {
      was_live = !old->expired(now_ms);
      forget_locked(s, old);
    }
    s.pool.push(v);
    used_.fetch_add(cost, std::memory_order_relaxed);
    items_.fetch_add(1, std::memory_order_relaxed);
    if (meta.expires_at_ms != 0) expiring_.fetch_add(1, std::memory_order_relaxed);
  }
  if (old != nullptr) retire(old);
  WriteResult result{was_live ? WriteStatus::replaced : WriteStatus::created, 0, etag};
  while (max_memory_ != 0 && used_.load(std::memory_order_relaxed) > max_memory_ && evict_one(si, v, now_ms)) {
    ++result.evicted;
  }
  return result;
}

bool StoreCore::evict_one(std::size_t first, const Value* keep, std::uint64_t now_ms) {
  for (std::size_t n = 0; n < kShards; ++n) {
    const std::size_t si = (first + n) % kShards;
    Shard& s = shards_[si];
    Value* victim;
    {
      std::lock_guard lock(s.mu);
      victim = s.pool.pick_victim(keep, now_ms);
      if (victim == nullptr) continue;
      remove_locked(si, victim);
      forget_locked(s, victim);
    }
    retire(victim);
    return true;
  }
  return false;
}

WriteResult StoreCore::erase(std::string_view key, std::uint64_t now_ms, const Precondition& cond) {
  const std::size_t hash = hash_key(key);
  const std::size_t si = shard_of(hash);
  Shard& s = shards_[si];
  Value* current;
  WriteStatus status = WriteStatus::removed;
  {
    std::lock_guard lock(s.mu);
    current = find_locked(si, hash, key);
    const bool live = current != nullptr && !current->expired(now_ms);
    if (!cond.holds(live ? current : nullptr)) return {WriteStatus::precondition_failed};
    if (current == nullptr) return {WriteStatus::not_found};
    if (!live) status = WriteStatus::not_found;  // expired: remove it all the same
    remove_locked(si, current);
    forget_locked(s, current);
  }
  retire(current);
  return {status};
}

bool StoreCore::remove_if_current(std::size_t hash, Value* v) {
  const std::size_t si = shard_of(hash);
  Shard& s = shards_[si];
  {
    std::lock_guard lock(s.mu);
    if (find_locked(si, hash, v->key()) != v) return false;
    remove_locked(si, v);
    forget_locked(s, v);
  }
  retire(v);
  return true;
}

std::size_t StoreCore::reap_expired(std::uint64_t now_ms, std::size_t max_visits) {
  std::size_t removed = 0;
  std::size_t visits = 0;
  if (expiring_.load(std::memory_order_relaxed) == 0) return 0;
  for (std::size_t n = 0; n < kShards && visits < max_visits; ++n) {
    const std::size_t si = reap_cursor_.fetch_add(1, std::memory_order_relaxed) % kShards;
    Shard& s = shards_[si];
    std::lock_guard lock(s.mu);
    visits += s.pool.sweep_expired(std::min(kSweepChunk, max_visits - visits), now_ms, [&](Value* v) {
      remove_locked(si, v);
      forget_locked(s, v);
      retire(v);
      ++removed;
    });
  }
  return removed;
}

void StoreCore::for_each(const std::function<void(const Value&)>& fn) {
  std::vector<ValueRef> refs;
  for (Shard& s : shards_) {
    refs.clear();
    {
      std::lock_guard lock(s.mu);
      refs.reserve(s.pool.count());
      s.pool.for_each([&](Value* v) { refs.push_back(ValueRef::share(v)); });
    }
    for (const ValueRef& r : refs) fn(*r);
  }
}

}  // namespace hkv
