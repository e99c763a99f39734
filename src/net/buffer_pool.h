// SPDX-License-Identifier: MIT
// BufferPool: a free list of 4 KiB buffers for one thread. Output queues take their first buffer
// from it and give it back whenever they empty, so a connection between answers holds none and a
// busy one pays a pointer swap instead of a malloc.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace hkv::net {

class BufferPool {
 public:
  static constexpr std::size_t kBufferSize = 4096;

  // Keeps at most `max_kept` free buffers (1 MiB by default); more are freed.
  explicit BufferPool(std::size_t max_kept = 256) : max_kept_(max_kept) {}
  ~BufferPool() {
    while (head_ != nullptr) delete[] reinterpret_cast<char*>(std::exchange(head_, head_->next));
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  std::unique_ptr<char[]> take() {
    if (head_ == nullptr) return std::make_unique_for_overwrite<char[]>(kBufferSize);
    Free* f = std::exchange(head_, head_->next);
    --kept_;
    return std::unique_ptr<char[]>(reinterpret_cast<char*>(f));
  }
  // Takes a buffer of kBufferSize bytes back; beyond max_kept it is freed.
  void give(std::unique_ptr<char[]> buffer) {
    if (kept_ == max_kept_) return;
    head_ = new (buffer.release()) Free{head_};
    ++kept_;
  }

 private:
  struct Free {
    Free* next;
  };
  Free* head_ = nullptr;
  std::size_t kept_ = 0;
  std::size_t max_kept_;
};

}  // namespace hkv::net
