// SPDX-License-Identifier: MIT
// RequestBody: the bytes of a request body, read into memory the application provided for them
// (their final place, such as a stored value, so that they are copied once, from the socket
// buffer) or, when it provided none, into a growable buffer of the protocol session.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace hkv::http {

// Memory for a body of a known length, and the reference that keeps it: release(owner) is called
// once the request is done with it.
struct BodyBuffer {
  char* data = nullptr;
  std::size_t capacity = 0;
  void* owner = nullptr;
  void (*release)(void*) = nullptr;
};

// Bodies shorter than this are read into the session's buffer and copied again by the handler:
// asking the handler for memory (routing the request once more) costs more than copying them.
inline constexpr std::size_t kBodyProvidedFrom = 1024;

class RequestBody {
 public:
  RequestBody() = default;
  RequestBody(RequestBody&& o) noexcept { *this = std::move(o); }
  RequestBody& operator=(RequestBody&& o) noexcept {
    if (this != &o) {
      reset();
      bytes_ = std::move(o.bytes_);
      provided_ = std::exchange(o.provided_, {});
      provided_size_ = std::exchange(o.provided_size_, 0);
    }
    return *this;
  }
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;
  ~RequestBody() { reset(); }

  // Before the first byte: read the body into `b` (taking over its reference) instead.
  void provide(BodyBuffer b) {
    reset();
    provided_ = b;
  }
  // Makes room for a body of `n` bytes, when none was provided.
  void reserve(std::size_t n) {
    if (provided_.owner == nullptr) bytes_.reserve(n);
  }
  void append(const char* p, std::size_t n) {
    if (provided_.owner != nullptr && n <= provided_.capacity - provided_size_) {
      std::memcpy(provided_.data + provided_size_, p, n);
      provided_size_ += n;
      return;
    }
    if (provided_.owner != nullptr) {  // more than announced: not kept there
      bytes_.assign(provided_.data, provided_size_);
      drop_provided();
    }
    bytes_.append(p, n);
  }
  std::size_t size() const { return provided_.owner != nullptr ? provided_size_ : bytes_.size(); }
  std::string_view view() const {
    return provided_.owner != nullptr ? std::string_view(provided_.data, provided_size_) : std::string_view(bytes_);
  }
  // The owner of the provided memory, when the body filled it exactly; null otherwise.
  void* filled_owner() const {
    return provided_.owner != nullptr && provided_size_ == provided_.capacity ? provided_.owner : nullptr;
  }
  // Empties it for the next request; a buffer over 64 KiB is freed rather than kept.
  void reset() {
    drop_provided();
    bytes_.clear();
    if (bytes_.capacity() > 64 * 1024) std::string().swap(bytes_);
  }
  // Empties it and frees its buffer (an idle connection).
  void release_memory() {
    drop_provided();
    std::string().swap(bytes_);
  }

 private:
  void drop_provided() {
    if (provided_.release != nullptr) provided_.release(provided_.owner);
    provided_ = {};
    provided_size_ = 0;
  }

  std::string bytes_;
  BodyBuffer provided_;
  std::size_t provided_size_ = 0;
};

}  // namespace hkv::http
