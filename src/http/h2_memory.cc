// SPDX-License-Identifier: MIT
// Size-class free lists (16 B .. 1 KiB, powers of two) in front of malloc. Each block carries a
// 16-byte header with its class so free() and realloc() know where it goes. Larger blocks are the
// session's own (its 2.9 KiB struct, its stream map, its frame buffer): they get malloc's exact
// size, since rounding them up would cost every connection memory for as long as it lives.
#include "http/h2_memory.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace hkv::http {

namespace {

constexpr std::size_t kHeader = 16;  // keeps the payload 16-byte aligned
constexpr int kClasses = 7;          // 16, 32, ..., 1024
constexpr std::uint32_t kLarge = 0xff;
constexpr std::size_t kMaxCached = 4096;  // blocks kept per class

struct FreeBlock {
  FreeBlock* next;
};

struct Pool {
  std::array<FreeBlock*, kClasses> heads{};
  std::array<std::size_t, kClasses> counts{};
  std::size_t in_use = 0;  // bytes handed out and not yet freed

  ~Pool() {
    for (FreeBlock*& head : heads) {
      while (head != nullptr) {
        FreeBlock* next = head->next;
        std::free(reinterpret_cast<char*>(head) - kHeader);
        head = next;
      }
    }
  }
};

thread_local Pool pool;

int class_of(std::size_t size) {
  if (size <= 16) return 0;
  int c = static_cast<int>(std::bit_width(size - 1)) - 4;
  return c < kClasses ? c : -1;
}

std::size_t class_size(std::uint32_t c) { return std::size_t{16} << c; }

std::uint32_t& class_tag(void* payload) {
  return *reinterpret_cast<std::uint32_t*>(static_cast<char*>(payload) - kHeader);
}

std::size_t& large_size(void* payload) {
  return *reinterpret_cast<std::size_t*>(static_cast<char*>(payload) - kHeader + 8);
}

void* pool_malloc(std::size_t size, void*) {
  int c = class_of(size);
  if (c >= 0 && pool.heads[c] != nullptr) {
    FreeBlock* b = pool.heads[c];
    pool.heads[c] = b->next;
    --pool.counts[c];
    pool.in_use += class_size(static_cast<std::uint32_t>(c));
    return b;
  }
  std::size_t bytes = c >= 0 ? class_size(static_cast<std::uint32_t>(c)) : size;
  auto* raw = static_cast<char*>(std::malloc(kHeader + bytes));
  if (raw == nullptr) return nullptr;
  void* payload = raw + kHeader;
  class_tag(payload) = c >= 0 ? static_cast<std::uint32_t>(c) : kLarge;
  large_size(payload) = bytes;
  pool.in_use += bytes;
  return payload;
}

void pool_free(void* ptr, void*) {
  if (ptr == nullptr) return;
  std::uint32_t c = class_tag(ptr);
  pool.in_use -= c == kLarge ? large_size(ptr) : class_size(c);
  if (c != kLarge && pool.counts[c] < kMaxCached) {
    auto* b = static_cast<FreeBlock*>(ptr);
    b->next = pool.heads[c];
    pool.heads[c] = b;
    ++pool.counts[c];
    return;
  }
  std::free(static_cast<char*>(ptr) - kHeader);
}

void* pool_calloc(std::size_t n, std::size_t size, void* ud) {
  std::size_t bytes = n * size;
  if (size != 0 && bytes / size != n) return nullptr;
  void* p = pool_malloc(bytes, ud);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void* pool_realloc(void* ptr, std::size_t size, void* ud) {
  if (ptr == nullptr) return pool_malloc(size, ud);
  std::uint32_t c = class_tag(ptr);
  std::size_t old = c == kLarge ? large_size(ptr) : class_size(c);
  if (size <= old) return ptr;
  void* grown = pool_malloc(size, ud);
  if (grown == nullptr) return nullptr;
  std::memcpy(grown, ptr, old);
  pool_free(ptr, ud);
  return grown;
}

}  // namespace

std::size_t h2_memory_in_use() { return pool.in_use; }

nghttp2_mem* thread_h2_memory() {
  thread_local nghttp2_mem mem{nullptr, pool_malloc, pool_free, pool_calloc, pool_realloc};
  return &mem;
}

}  // namespace hkv::http
