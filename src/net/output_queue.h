// SPDX-License-Identifier: MIT
// OutputQueue: the bytes a connection still owes its peer, written with one writev(2). Small pieces
// (headers, frames) are copied into one growable buffer; large bodies are referenced in place and
// their owner is released once the kernel has taken every byte.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "net/buffer_pool.h"

namespace hkv::net {

// A reference to bytes owned elsewhere. `release(owner)` is called exactly once, when the bytes
// are no longer needed (written, or the queue is cleared).
struct ExternalBytes {
  const char* data = nullptr;
  std::size_t size = 0;
  void* owner = nullptr;
  void (*release)(void*) = nullptr;
};

class OutputQueue {
 public:
  // With a pool, the first buffer comes from it and goes back to it whenever the queue empties.
  explicit OutputQueue(BufferPool* pool = nullptr) : pool_(pool) {}
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;
  ~OutputQueue() { clear(); }

  void append(std::string_view bytes);
  // Returns space for `n` bytes at the end of the copied buffer; commit() what was filled.
  char* prepare(std::size_t n) { return copied_end_ + n <= capacity_ ? bytes_.get() + copied_end_ : grow(n); }
  void commit(std::size_t n);
  // Takes over one reference held by the caller.
  void append_external(const ExternalBytes& bytes);
  // Calls release(owner) once every byte queued before this call has been written (at once when
  // nothing is queued): for bytes appended with append_external without an owner of their own.
  void release_after_queued(void* owner, void (*release)(void*));

  bool empty() const { return pending_ == 0 && head_ == segments_.size(); }
  std::size_t pending() const { return pending_; }

  enum class WriteStatus { done, blocked, error };
  // Writes as much as the socket takes.
  WriteStatus write_to(int fd);
  // Drops everything (connection closing), releasing external owners.
  void clear();
  // Frees the buffers of an empty queue (an idle connection); the next append allocates again.
  void release_memory();

 private:
  struct Segment {
    bool external;
    std::size_t offset;  // into bytes_ for copied segments
    std::size_t size;
    ExternalBytes ext;
  };
  char* grow(std::size_t n);
  void consume(std::size_t n);

  void compact();
  void reset_bytes();

  BufferPool* pool_;
  // Copied bytes; not a std::vector so that prepare() does not zero-fill what it hands out.
  std::unique_ptr<char[]> bytes_;
  std::size_t capacity_ = 0;
  std::size_t copied_end_ = 0;  // committed bytes; beyond this is prepared or free space
  std::vector<Segment> segments_;
  std::size_t head_ = 0;          // first unwritten segment
  std::size_t head_written_ = 0;  // bytes of that segment already written
  std::size_t pending_ = 0;
};

}  // namespace hkv::net
