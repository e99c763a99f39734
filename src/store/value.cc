// SPDX-License-Identifier: MIT
// Value allocation and release: store prefix, header, key and bytes live in one malloc'd block.
#include "store/value.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace hkv {

static_assert(sizeof(Value) == 24, "keep the per-item header small: it is paid once per key");

ValueRef Value::make(std::string_view key, std::string_view bytes, std::size_t prefix_bytes) {
  if (key.size() > kMaxKeyBytes) throw std::length_error("key longer than 255 bytes");
  if (bytes.size() > kMaxBytes) throw std::length_error("value larger than 4 GiB");
  if (prefix_bytes > 255 || prefix_bytes % 8 != 0) throw std::invalid_argument("bad value prefix");
  auto* raw = static_cast<char*>(std::malloc(prefix_bytes + sizeof(Value) + key.size() + bytes.size()));
  if (raw == nullptr) throw std::bad_alloc();
  auto* v = new (raw + prefix_bytes) Value(key.size(), bytes.size(), prefix_bytes);
  char* p = reinterpret_cast<char*>(v + 1);
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  if (!bytes.empty()) std::memcpy(p + key.size(), bytes.data(), bytes.size());
  return ValueRef::adopt(v);
}

void Value::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    void* block = prefix();
    this->~Value();
    std::free(block);
  }
}

}  // namespace hkv
