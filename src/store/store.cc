// SPDX-License-Identifier: MIT
// Store factory, the key hash shared by both implementations, and If-Match evaluation.
#include "store/store.h"

#include <algorithm>
#include <functional>

namespace hkv {

std::unique_ptr<Store> make_lockfree_store(const StoreOptions& options);
std::unique_ptr<Store> make_sharded_store(const StoreOptions& options);

std::unique_ptr<Store> make_store(StoreKind kind, const StoreOptions& options) {
  return kind == StoreKind::lockfree ? make_lockfree_store(options) : make_sharded_store(options);
}

std::size_t hash_key(std::string_view key) { return std::hash<std::string_view>{}(key); }

bool Precondition::holds(const Value* current) const {
  if (!active()) return true;
  if (current == nullptr) return false;
  return any || std::find(etags.begin(), etags.end(), current->etag()) != etags.end();
}

}  // namespace hkv
