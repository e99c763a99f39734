// SPDX-License-Identifier: MIT
// Value: an immutable, reference-counted stored item — its key, metadata (content type, ETag,
// store time, expiry) and bytes in one allocation, preceded by the store's own bookkeeping (table
// node and eviction links). A value is never modified after it is published, so a GET can hand
// its bytes to writev() while a concurrent POST replaces the key.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace hkv {

class ValueRef;

// What a writer says about a value besides its bytes.
struct ValueMeta {
  std::string_view content_type;  // empty: application/octet-stream
  std::uint64_t stored_at_ms = 0;   // wall-clock time of the write, ms since the epoch
  std::uint64_t expires_at_ms = 0;  // 0: never expires
};

class Value {
 public:
  static constexpr std::size_t kMaxKeyBytes = 255;
  static constexpr std::size_t kMaxTypeBytes = 255;
  static constexpr std::size_t kMaxBytes = 0xffffffffu;

  // How much of a value a lookup prefetches: the header, a key and 150 bytes or so of value.
  static constexpr std::size_t kPrefetchBytes = 192;

  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  // Allocates a value holding copies of `key`, `bytes` and the metadata, with `prefix_bytes` (a
  // multiple of 8, at most 255) of uninitialised space in front for the store. Computes the ETag.
  // Throws std::length_error for a key, type or value over the limits above. The returned
  // reference is the only owner.
  static ValueRef make(std::string_view key, std::string_view bytes, const ValueMeta& meta,
                       std::size_t prefix_bytes);
  // As make(), but with room for `size` bytes that the caller writes through unfilled_data(),
  // then seal()s before the value is stored: a request body is read straight into its value.
  static ValueRef make_unfilled(std::string_view key, std::size_t size, const ValueMeta& meta,
                                std::size_t prefix_bytes);
  char* unfilled_data() { return const_cast<char*>(data()); }
  // Once the bytes are written: stamps the store time and expiry (`meta` must have an expiry
  // exactly when the value was made with one) and computes the ETag.
  void seal(const ValueMeta& meta);
  // The value whose prefix ends where it starts.
  static Value* from_prefix(void* prefix, std::size_t prefix_bytes) {
    return reinterpret_cast<Value*>(static_cast<char*>(prefix) + prefix_bytes);
  }
  void* prefix() { return reinterpret_cast<char*>(this) - prefix_; }

  std::string_view key() const { return {tail() + expiry_bytes(), key_len_}; }
  // The stored Content-Type; empty means application/octet-stream.
  std::string_view content_type() const { return {tail() + expiry_bytes() + key_len_, type_len_}; }
  const char* data() const { return tail() + expiry_bytes() + key_len_ + type_len_; }
  std::size_t size() const { return size_; }
  std::string_view bytes() const { return {data(), size_}; }

  // Strong validator: a 64-bit hash of the content type and bytes, computed once at store time.
  std::uint64_t etag() const {
    std::uint64_t e;
    std::memcpy(&e, etag_, sizeof e);
    return e;
  }
  // Whole seconds since the epoch when the value was stored (for the Age header).
  std::uint32_t stored_at_s() const { return stored_at_s_; }
  // Absolute expiry in ms since the epoch; 0 = never.
  std::uint64_t expires_at_ms() const {
    if (!(flags_ & kHasExpiry)) return 0;
    std::uint64_t t;
    std::memcpy(&t, tail(), sizeof t);
    return t;
  }
  bool expired(std::uint64_t now_ms) const {
    std::uint64_t t = expires_at_ms();
    return t != 0 && now_ms >= t;
  }

  // SIEVE's visited bit: set by readers without a lock (only when clear, so hot items are not
  // written on every hit), cleared by the eviction hand under its shard lock.
  void mark_visited() {
    if (!visited_.load(std::memory_order_relaxed)) visited_.store(1, std::memory_order_relaxed);
  }
  bool visited() const { return visited_.load(std::memory_order_relaxed) != 0; }
  void clear_visited() { visited_.store(0, std::memory_order_relaxed); }

  // Bytes this value occupies in memory, allocator overhead included (what --max-memory counts,
  // together with the table's per-entry share).
  std::size_t footprint() const;

  void add_ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();

  // Type-erased release so protocol code can hold a value without knowing this type.
  static void release_fn(void* v) { static_cast<Value*>(v)->release(); }

 private:
  static constexpr std::uint8_t kHasExpiry = 1;
  // Bytes of the fixed header: the fields below, packed. Variable parts follow: the expiry
  // (8 bytes, only when set), the key, the content type and the bytes.
  static constexpr std::size_t kHeaderBytes = 25;

  Value(std::size_t key_len, std::size_t type_len, std::size_t size, std::size_t prefix,
        const ValueMeta& meta);
  const char* tail() const { return reinterpret_cast<const char*>(this) + kHeaderBytes; }
  char* tail() { return reinterpret_cast<char*>(this) + kHeaderBytes; }
  std::size_t expiry_bytes() const { return (flags_ & kHasExpiry) ? 8 : 0; }

  std::atomic<std::uint32_t> refs_{1};
  std::uint32_t size_;
  std::uint32_t stored_at_s_;
  std::uint8_t key_len_;
  std::uint8_t type_len_;
  std::uint8_t prefix_;
  std::uint8_t flags_;
  std::atomic<std::uint8_t> visited_{0};
  char etag_[8];  // unaligned: accessed with memcpy
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
  // Takes a new reference to `v`.
  static ValueRef share(Value* v) {
    if (v) v->add_ref();
    return adopt(v);
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
