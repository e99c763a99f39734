// SPDX-License-Identifier: MIT
// Value: an immutable, reference-counted byte buffer. A stored value is never modified after it is
// published, so a GET can hand its bytes to writev() while a concurrent POST replaces the key.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hkv {

class ValueRef;

class Value {
 public:
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  // Allocates a value holding a copy of `bytes`; the returned reference is the only owner.
  static ValueRef copy_of(std::string_view bytes);

  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  std::size_t size() const { return size_; }
  std::string_view bytes() const { return {data(), size_}; }

  // Absolute expiry in ms since the epoch (0 = never); reserved for TTL support.
  std::uint64_t expires_at_ms() const { return expires_at_ms_; }
  // Visited bit for SIEVE eviction: set on a hit without any lock.
  void mark_visited() { visited_.store(true, std::memory_order_relaxed); }
  bool visited() const { return visited_.load(std::memory_order_relaxed); }

  void add_ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();

  // Type-erased hooks so protocol code can hold a value without knowing this type.
  static void add_ref_fn(void* v) { static_cast<Value*>(v)->add_ref(); }
  static void release_fn(void* v) { static_cast<Value*>(v)->release(); }

 private:
  explicit Value(std::size_t size) : size_(size) {}

  std::atomic<std::uint32_t> refs_{1};
  std::atomic<bool> visited_{false};
  std::uint64_t size_;
  std::uint64_t expires_at_ms_ = 0;
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
  Value* detach() {
    Value* v = v_;
    v_ = nullptr;
    return v;
  }

  Value* get() const { return v_; }
  Value* operator->() const { return v_; }
  const Value& operator*() const { return *v_; }
  explicit operator bool() const { return v_ != nullptr; }

 private:
  Value* v_ = nullptr;
};

}  // namespace hkv
