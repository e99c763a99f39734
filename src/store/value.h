// SPDX-License-Identifier: MIT
// Value: an immutable, reference-counted stored item — its key and its bytes in one allocation,
// optionally preceded by a store's own bookkeeping (the lock-free table's node). A value is never
// modified after it is published, so a GET can hand its bytes to writev() while a concurrent POST
// replaces the key.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace hkv {

class ValueRef;

class Value {
 public:
  static constexpr std::size_t kMaxKeyBytes = 255;
  static constexpr std::size_t kMaxBytes = 0xffffffffu;

  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  // Allocates a value holding copies of `key` and `bytes`, with `prefix_bytes` (a multiple of 8,
  // at most 255) of uninitialised space in front for the store. Throws std::length_error for a
  // key or value over the limits above. The returned reference is the only owner.
  static ValueRef make(std::string_view key, std::string_view bytes, std::size_t prefix_bytes = 0);
  // The value whose prefix starts at `prefix`.
  static Value* from_prefix(void* prefix, std::size_t prefix_bytes) {
    return reinterpret_cast<Value*>(static_cast<char*>(prefix) + prefix_bytes);
  }
  void* prefix() { return reinterpret_cast<char*>(this) - prefix_; }

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_len_}; }
  const char* data() const { return reinterpret_cast<const char*>(this + 1) + key_len_; }
  std::size_t size() const { return size_; }
  std::string_view bytes() const { return {data(), size_}; }

  // Absolute expiry in ms since the epoch (0 = never); reserved for TTL support.
  std::uint64_t expires_at_ms() const { return expires_at_ms_; }
  // Visited bit for SIEVE eviction: set on a hit without any lock.
  void mark_visited() { visited_.store(true, std::memory_order_relaxed); }
  bool visited() const { return visited_.load(std::memory_order_relaxed); }

  void add_ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();

  // Type-erased release so protocol code can hold a value without knowing this type.
  static void release_fn(void* v) { static_cast<Value*>(v)->release(); }

 private:
  Value(std::size_t key_len, std::size_t size, std::size_t prefix)
      : size_(static_cast<std::uint32_t>(size)),
        key_len_(static_cast<std::uint8_t>(key_len)),
        prefix_(static_cast<std::uint8_t>(prefix)) {}

  std::atomic<std::uint32_t> refs_{1};
  std::uint32_t size_;
  std::uint8_t key_len_;
  std::uint8_t prefix_;
  std::atomic<bool> visited_{false};
  std::uint64_t expires_at_ms_ = 0;
  // followed by key bytes, then value bytes
};

// Owning handle to a Value (intrusive reference count).
class ValueRef {
 public:
  ValueRef() = default;
  ValueRef(const ValueRef& o) : v_(o.v_) {
    if (v_) v_->add_ref();
  }
  ValueRef(ValueRef&& o) noexcept : v_(o.v_) { o.v_ = nullptr; }
  ValueRef& operator=(ValueRef o) noexcept {
    std::swap(v_, o.v_);
    return *this;
  }
  ~ValueRef() {
    if (v_) v_->release();
  }

  // Adopts a reference the caller already owns.
  static ValueRef adopt(Value* v) {
    ValueRef r;
    r.v_ = v;
    return r;
  }
  // Gives up ownership without releasing; the caller must release() later.
  Value* detach() { return std::exchange(v_, nullptr); }

  Value* get() const { return v_; }
  Value* operator->() const { return v_; }
  const Value& operator*() const { return *v_; }
  explicit operator bool() const { return v_ != nullptr; }

 private:
  Value* v_ = nullptr;
};

}  // namespace hkv
