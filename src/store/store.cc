// SPDX-License-Identifier: MIT
// Store factory and the key hash shared by both implementations.
#include "store/store.h"

#include <functional>

namespace hkv {

std::unique_ptr<Store> make_lockfree_store(std::size_t initial_capacity);
std::unique_ptr<Store> make_sharded_store(std::size_t initial_capacity);

std::unique_ptr<Store> make_store(StoreKind kind, std::size_t initial_capacity) {
  return kind == StoreKind::lockfree ? make_lockfree_store(initial_capacity)
                                     : make_sharded_store(initial_capacity);
}

std::size_t hash_key(std::string_view key) { return std::hash<std::string_view>{}(key); }

}  // namespace hkv
