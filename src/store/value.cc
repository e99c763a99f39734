// SPDX-License-Identifier: MIT
// Value allocation and release: header and bytes live in one malloc'd block.
#include "store/value.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace hkv {

ValueRef Value::copy_of(std::string_view bytes) {
  void* mem = std::malloc(sizeof(Value) + bytes.size());
  if (mem == nullptr) throw std::bad_alloc();
  auto* v = new (mem) Value(bytes.size());
  if (!bytes.empty()) std::memcpy(reinterpret_cast<char*>(v + 1), bytes.data(), bytes.size());
  return ValueRef::adopt(v);
}

void Value::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    this->~Value();
    std::free(this);
  }
}

}  // namespace hkv
