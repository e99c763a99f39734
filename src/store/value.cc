// SPDX-License-Identifier: MIT
// Value allocation, ETag computation and release: store prefix, header, key, content type and
// bytes live in one malloc'd block.
#include "store/value.h"

#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace hkv {

static_assert(sizeof(Value) <= 28, "keep the per-item header small: it is paid once per key");

namespace {

char* put(char* p, std::string_view s) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

}  // namespace

Value::Value(std::size_t key_len, std::size_t type_len, std::size_t size, std::size_t prefix,
             const ValueMeta& meta)
    : size_(static_cast<std::uint32_t>(size)),
      stored_at_s_(static_cast<std::uint32_t>(meta.stored_at_ms / 1000)),
      key_len_(static_cast<std::uint8_t>(key_len)),
      type_len_(static_cast<std::uint8_t>(type_len)),
      prefix_(static_cast<std::uint8_t>(prefix)),
      flags_(meta.expires_at_ms != 0 ? kHasExpiry : 0) {
  static_assert(offsetof(Value, etag_) + sizeof etag_ == kHeaderBytes, "kHeaderBytes is the packed header");
}

ValueRef Value::make(std::string_view key, std::string_view bytes, const ValueMeta& meta,
                     std::size_t prefix_bytes) {
  ValueRef v = make_unfilled(key, bytes.size(), meta, prefix_bytes);
  put(v->unfilled_data(), bytes);
  v->seal(meta);
  return v;
}

ValueRef Value::make_unfilled(std::string_view key, std::size_t size, const ValueMeta& meta,
                              std::size_t prefix_bytes) {
  if (key.size() > kMaxKeyBytes) throw std::length_error("key longer than " + std::to_string(kMaxKeyBytes) + " bytes");
  if (meta.content_type.size() > kMaxTypeBytes) {
    throw std::length_error("content type longer than " + std::to_string(kMaxTypeBytes) + " bytes");
  }
  if (size > kMaxBytes) throw std::length_error("value larger than 4 GiB");
  if (prefix_bytes > 255 || prefix_bytes % 8 != 0) throw std::invalid_argument("bad value prefix");
  const std::size_t expiry = meta.expires_at_ms != 0 ? 8 : 0;
  const std::size_t total = prefix_bytes + kHeaderBytes + expiry + key.size() + meta.content_type.size() + size;
  auto* raw = static_cast<char*>(std::malloc(total));
  if (raw == nullptr) throw std::bad_alloc();
  // The block is freed by release(), from prefix(): the analyzer loses it in ValueRef.
  // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
  auto* v = new (raw + prefix_bytes) Value(key.size(), meta.content_type.size(), size, prefix_bytes, meta);
  char* p = v->tail() + expiry;
  p = put(p, key);
  put(p, meta.content_type);
  return ValueRef::adopt(v);
}

void Value::seal(const ValueMeta& meta) {
  if ((meta.expires_at_ms != 0) != ((flags_ & kHasExpiry) != 0)) throw std::invalid_argument("expiry added or dropped");
  stored_at_s_ = static_cast<std::uint32_t>(meta.stored_at_ms / 1000);
  if (meta.expires_at_ms != 0) std::memcpy(tail(), &meta.expires_at_ms, sizeof meta.expires_at_ms);
  const std::string_view type = content_type();
  const std::uint64_t type_hash = XXH3_64bits(type.data(), type.size());
  const std::uint64_t etag = XXH3_64bits_withSeed(data(), size_, type_hash);
  std::memcpy(etag_, &etag, sizeof etag);
}

std::size_t Value::footprint() const {
  // glibc keeps an 8-byte size word in front of each chunk, outside the usable size.
  return malloc_usable_size(const_cast<Value*>(this)->prefix()) + sizeof(std::size_t);
}

void Value::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    void* block = prefix();
    this->~Value();
    std::free(block);
  }
}

}  // namespace hkv
