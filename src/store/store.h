// SPDX-License-Identifier: MIT
// Store: the key-value map interface shared by the lock-free (liburcu) and sharded-mutex
// implementations — reads, conditional writes, expiry, the memory cap and iteration for
// snapshots. Protocol code never sees it; the app's handlers do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "store/value.h"

namespace hkv {

enum class StoreKind { lockfree, sharded };

struct StoreOptions {
  std::size_t initial_capacity = 1 << 20;  // entries the table is pre-sized for
  std::uint64_t max_memory = 0;            // bytes the items may use; 0 = unbounded
};

// An If-Match condition on a write: `*` (the key must exist) or a list of ETags, one of which
// must be the current value's. An inactive condition always holds.
struct Precondition {
  bool any = false;
  std::span<const std::uint64_t> etags;

  bool active() const { return any || !etags.empty(); }
  // Whether the condition holds for `current` (null: no live value).
  bool holds(const Value* current) const;
};

enum class WriteStatus : std::uint8_t { created, replaced, removed, not_found, precondition_failed, too_large };

struct WriteResult {
  WriteStatus status;
  std::uint32_t evicted = 0;  // values removed to stay under the memory cap
  std::uint64_t etag = 0;     // the stored value's, after a put
};

struct ReadResult {
  ValueRef value;        // empty when the key is missing or expired
  bool expired = false;  // a value was found past its expiry and has been removed
};

class Store {
 public:
  virtual ~Store() = default;

  // The current value of `key`, unless it expired at `now_ms` (then it is removed).
  virtual ReadResult get(std::string_view key, std::uint64_t now_ms) = 0;
  // A hint that get() will be called for each of `keys` soon, in turn (the requests of one read):
  // a store may start loading what those lookups will touch, so that their cache misses overlap
  // instead of following one another. Changes nothing; the default does nothing.
  virtual void prefetch(std::span<const std::string_view> keys) { static_cast<void>(keys); }
  // Stores a copy of `bytes` under `key` (at most Value::kMaxKeyBytes) when `cond` holds,
  // replacing any value, then evicts (SIEVE) until the items fit in max_memory again; readers
  // holding the old value keep it until they release it. `too_large`: the value alone exceeds
  // max_memory. Throws std::bad_alloc when memory runs out.
  virtual WriteResult put(std::string_view key, std::string_view bytes, const ValueMeta& meta,
                          const Precondition& cond = {}) = 0;
  // For a write whose bytes arrive later (a request body): a value of `size` bytes for `key`, to
  // be written through Value::unfilled_data() and then handed to put_value(), so that the bytes
  // are copied once. Throws as put() does.
  virtual ValueRef make_value(std::string_view key, std::size_t size, const ValueMeta& meta) = 0;
  // Stores a value from make_value() once its bytes are written, as put() stores a copy: seals it
  // with `meta` (the time of the write and its expiry; an expiry exactly when make_value had one).
  virtual WriteResult put_value(ValueRef value, const ValueMeta& meta, const Precondition& cond = {}) = 0;
  // Removes `key` when it has a live value and `cond` holds: `removed`, `not_found` or
  // `precondition_failed`.
  virtual WriteResult erase(std::string_view key, std::uint64_t now_ms, const Precondition& cond = {}) = 0;
  // Background expiry: looks at up to `max_visits` values, continuing where the last call
  // stopped, and removes those expired at `now_ms`. Returns how many it removed. Holds one shard
  // lock at a time, for a bounded number of values.
  virtual std::size_t reap_expired(std::uint64_t now_ms, std::size_t max_visits) = 0;
  // Calls `fn` for every value, one shard at a time: the shard's values are referenced under its
  // lock, then visited outside it, so writers wait only for the referencing.
  virtual void for_each(const std::function<void(const Value&)>& fn) = 0;

  // Number of keys (expired ones not yet removed included).
  virtual std::size_t size() const = 0;
  // Bytes the items use, as --max-memory counts them: each value's allocation with the
  // allocator's overhead, plus the table's per-entry share.
  virtual std::uint64_t bytes_used() const = 0;
  virtual std::uint64_t max_memory() const = 0;

  // Per-thread life cycle. A thread that calls the methods above must attach first and detach
  // before it ends. Worker loops report a quiescent point once per turn and go offline while
  // they sleep, so memory reclamation never waits for an idle thread. No-ops for stores that do
  // not need them.
  virtual void attach_thread() {}
  virtual void detach_thread() {}
  virtual void quiescent() {}
  virtual void thread_offline() {}
  virtual void thread_online() {}
};

std::unique_ptr<Store> make_store(StoreKind kind, const StoreOptions& options);

// Hash used by both implementations (one place to change it).
std::size_t hash_key(std::string_view key);

}  // namespace hkv
