// SPDX-License-Identifier: MIT
// Store: the key-value map interface shared by the lock-free (liburcu) and sharded-mutex
// implementations. Protocol code never sees it; the app's handlers do.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "store/value.h"

namespace hkv {

enum class StoreKind { lockfree, sharded };

enum class PutResult { created, replaced };

class Store {
 public:
  virtual ~Store() = default;

  // Returns a reference to the current value, or an empty ref when the key is missing.
  virtual ValueRef get(std::string_view key) = 0;
  // Stores a copy of `bytes` under `key` (at most Value::kMaxKeyBytes), replacing any value;
  // readers holding the old value keep it until they release it.
  virtual PutResult put(std::string_view key, std::string_view bytes) = 0;
  // Returns true when the key existed and was removed.
  virtual bool erase(std::string_view key) = 0;
  // Approximate number of keys (exact when no writer is running).
  virtual std::size_t size() const = 0;

  // Per-thread life cycle. A thread that calls get/put/erase must attach first and detach before
  // it ends. Worker loops report a quiescent point once per turn and go offline while they sleep,
  // so memory reclamation never waits for an idle thread. No-ops for stores that do not need them.
  virtual void attach_thread() {}
  virtual void detach_thread() {}
  virtual void quiescent() {}
  virtual void thread_offline() {}
  virtual void thread_online() {}
};

std::unique_ptr<Store> make_store(StoreKind kind, std::size_t initial_capacity);

// Hash used by both implementations (one place to change it).
std::size_t hash_key(std::string_view key);

}  // namespace hkv
