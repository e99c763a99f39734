// SPDX-License-Identifier: MIT
// Request and Response: what both protocol front-ends (HTTP/1.1 and HTTP/2) build and hand to the
// one RequestHandler, and what they serialise back. Views point into protocol-owned buffers that
// live until the response has been produced.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "http/fields.h"
#include "net/output_queue.h"

namespace hkv::http {

enum class Method : std::uint8_t { get, head, post, put, del, other };

enum class HttpVersion : std::uint8_t { h1, h2 };

struct Request {
  Method method = Method::other;
  std::string_view method_name;
  std::string_view target;  // path and query, as sent
  std::string_view body;
  const RequestFields* fields = nullptr;  // the header fields the application reads
  HttpVersion version = HttpVersion::h1;

  std::optional<std::string_view> field(Field f) const { return fields ? fields->get(f) : std::nullopt; }
};

// A body the response borrows: `bytes.owner` is released once the bytes have been sent.
using SharedBody = net::ExternalBytes;

struct Response {
  Response() = default;
  Response(const Response&) = delete;  // extra header values point into this object
  Response& operator=(const Response&) = delete;

  std::uint16_t status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string_view allow;      // sent as an Allow header when not empty
  std::string_view text;       // static body (messages, greetings)
  SharedBody shared{};         // or a borrowed body (stored values); owner released by the writer
  bool omit_body = false;      // HEAD: headers describe the body that is not sent

  // More header fields (ETag, Cache-Control, ...): static names, values copied into the response.
  static constexpr std::size_t kMaxExtraHeaders = 4;
  std::array<std::pair<std::string_view, std::string_view>, kMaxExtraHeaders> extra{};
  std::uint8_t extra_count = 0;

  std::size_t body_size() const { return shared.owner ? shared.size : text.size(); }
  // 1xx, 204 and 304 carry no body and no Content-Length.
  bool bodiless_status() const { return status < 200 || status == 204 || status == 304; }

  // Adds a header; `value` is copied (at most 64 bytes per response in all). Returns false when
  // there is no room left.
  bool add_header(std::string_view name, std::string_view value) {
    if (extra_count == kMaxExtraHeaders || value.size() > sizeof scratch_ - scratch_used_) return false;
    char* dst = scratch_ + scratch_used_;
    value.copy(dst, value.size());
    scratch_used_ += static_cast<std::uint8_t>(value.size());
    extra[extra_count++] = {name, std::string_view(dst, value.size())};
    return true;
  }

  void set_error(std::uint16_t code, std::string_view message) {
    status = code;
    content_type = "text/plain; charset=utf-8";
    text = message;
  }

 private:
  char scratch_[64];
  std::uint8_t scratch_used_ = 0;
};

// Application entry point: turns one request into one response. Called on the worker thread.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void handle(const Request& req, Response& resp) = 0;
};

std::string_view status_reason(std::uint16_t status);

}  // namespace hkv::http
