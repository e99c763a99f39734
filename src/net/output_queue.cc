// SPDX-License-Identifier: MIT
// Output queue: coalesced copied bytes plus zero-copy external segments, flushed with writev.
#include "net/output_queue.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hkv::net {

namespace {
constexpr std::size_t kMaxIov = 512;
constexpr std::size_t kCompactBytes = 256 * 1024;
constexpr std::size_t kFirstBytes = BufferPool::kBufferSize;
}  // namespace

char* OutputQueue::grow(std::size_t n) {
  if (capacity_ == 0 && n <= kFirstBytes && pool_ != nullptr) {
    bytes_ = pool_->take();
    capacity_ = kFirstBytes;
    return bytes_.get();
  }
  std::size_t cap = std::max<std::size_t>({kFirstBytes, capacity_ * 2, copied_end_ + n});
  auto grown = std::make_unique_for_overwrite<char[]>(cap);
  if (copied_end_ > 0) std::memcpy(grown.get(), bytes_.get(), copied_end_);
  bytes_ = std::move(grown);
  capacity_ = cap;
  return bytes_.get() + copied_end_;
}

void OutputQueue::commit(std::size_t n) {
  if (n > 0) {
    pending_ += n;
    bool extend = head_ < segments_.size() && !segments_.back().external &&
                  segments_.back().offset + segments_.back().size == copied_end_;
    if (extend) {
      segments_.back().size += n;
    } else {
      segments_.push_back(Segment{false, copied_end_, n, {}});
    }
    copied_end_ += n;
  }
}

void OutputQueue::append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
  commit(bytes.size());
}

void OutputQueue::append_external(const ExternalBytes& bytes) {
  if (bytes.size == 0) {
    if (bytes.release) bytes.release(bytes.owner);
    return;
  }
  segments_.push_back(Segment{true, 0, bytes.size, bytes});
  pending_ += bytes.size;
}

void OutputQueue::release_after_queued(void* owner, void (*release)(void*)) {
  if (pending_ == 0) {
    release(owner);
    return;
  }
  segments_.push_back(Segment{true, 0, 0, ExternalBytes{nullptr, 0, owner, release}});
}

OutputQueue::WriteStatus OutputQueue::write_to(int fd) {
  while (pending_ > 0) {
    iovec iov[kMaxIov];
    std::size_t count = 0;
    for (std::size_t i = head_; i < segments_.size() && count < kMaxIov; ++i) {
      const Segment& s = segments_[i];
      if (s.size == 0) continue;  // only a release (release_after_queued)
      const char* base = s.external ? s.ext.data : bytes_.get() + s.offset;
      std::size_t skip = i == head_ ? head_written_ : 0;
      iov[count].iov_base = const_cast<char*>(base + skip);
      iov[count].iov_len = s.size - skip;
      ++count;
    }
    ssize_t n = writev(fd, iov, static_cast<int>(count));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return WriteStatus::blocked;
      return WriteStatus::error;
    }
    consume(static_cast<std::size_t>(n));
  }
  return WriteStatus::done;
}

void OutputQueue::consume(std::size_t n) {
  pending_ -= n;
  while (head_ < segments_.size()) {  // also past the releases that follow the last byte written
    Segment& s = segments_[head_];
    std::size_t left = s.size - head_written_;
    if (n < left) {
      head_written_ += n;
      break;
    }
    n -= left;
    if (s.external && s.ext.release) s.ext.release(s.ext.owner);
    ++head_;
    head_written_ = 0;
  }
  if (head_ == segments_.size()) {
    segments_.clear();
    head_ = 0;
    reset_bytes();
  } else if (head_ > 64 || (copied_end_ > kCompactBytes && head_ > 0)) {
    compact();
  }
}

void OutputQueue::compact() {
  std::size_t start = copied_end_;
  for (std::size_t i = head_; i < segments_.size(); ++i) {
    if (!segments_[i].external) {
      start = segments_[i].offset;
      break;
    }
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(head_));
  head_ = 0;
  if (start == 0) return;
  std::memmove(bytes_.get(), bytes_.get() + start, copied_end_ - start);
  copied_end_ -= start;
  for (Segment& s : segments_) {
    if (!s.external) s.offset -= start;
  }
}

void OutputQueue::clear() {
  for (std::size_t i = head_; i < segments_.size(); ++i) {
    Segment& s = segments_[i];
    if (s.external && s.ext.release) s.ext.release(s.ext.owner);
  }
  segments_.clear();
  head_ = 0;
  head_written_ = 0;
  pending_ = 0;
  reset_bytes();
}

void OutputQueue::release_memory() {
  if (!empty()) return;
  bytes_.reset();
  capacity_ = 0;
  copied_end_ = 0;
  std::vector<Segment>().swap(segments_);
}

// Empties the copied buffer: a pooled one goes back to the pool, a large one (after a burst) is
// freed rather than kept per connection.
void OutputQueue::reset_bytes() {
  copied_end_ = 0;
  if (capacity_ == kFirstBytes && pool_ != nullptr) {
    pool_->give(std::move(bytes_));
    capacity_ = 0;
  } else if (capacity_ > kCompactBytes) {
    bytes_.reset();
    capacity_ = 0;
  }
}

}  // namespace hkv::net
