// SPDX-License-Identifier: MIT
// Request and Response: what both protocol front-ends (HTTP/1.1 and HTTP/2) fill and hand to the
// one RequestHandler, and what they serialise back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/fields.h"
#include "http/request_body.h"
#include "net/output_queue.h"

namespace hkv::http {

enum class Method : std::uint8_t { get, head, post, put, del, other };

enum class HttpVersion : std::uint8_t { h1, h2 };

// One request, as both protocols fill it: an HTTP/1.1 session one per connection, reused from
// request to request; an HTTP/2 stream one each. An upgrade moves the HTTP/1.1 one to stream 1.
struct Request {
  Method method = Method::other;
  HttpVersion version = HttpVersion::h1;
  std::string target;     // path and query, as sent
  RequestFields fields;   // the header fields the application reads
  RequestBody body;

  std::optional<std::string_view> field(Field f) const { return fields.get(f); }
  // Empties it for the next request.
  void clear() {
    method = Method::other;
    target.clear();
    fields.clear();
    body.reset();
  }
  // Empties it and frees its buffers (an idle connection).
  void release_memory() {
    clear();
    std::string().swap(target);
    fields.release_memory();
    body.release_memory();
  }
};

struct Response {
  std::uint16_t status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string_view allow;      // sent as an Allow header when not empty
  std::string_view www_authenticate;  // sent as a WWW-Authenticate header when not empty (401)
  std::string_view node;       // sent as an X-Hkv-Node header when not empty (--node-header)
  std::string_view text;       // static body (messages, greetings)
  net::ExternalBytes borrowed{};  // or a borrowed body (a stored value, a page): owner released once sent
  bool omit_body = false;      // HEAD: headers describe the body that is not sent
  // The request's syntax is broken (a target outside the URI grammar, a malformed field): HTTP/1.1
  // cannot trust where the next request starts, so it answers and closes (RFC 9112 2.2).
  bool malformed = false;

  // Validator and freshness, sent as ETag, Cache-Control and Age. Cache-Control is
  // "max-age=<max_age>" followed by `cache_control` when max_age >= 0, else `cache_control` alone
  // (none when empty). By default nothing may be stored by a cache in front of hkv.
  bool has_etag = false;
  std::uint64_t etag = 0;
  std::int64_t max_age = -1;  // seconds; sent when >= 0
  std::int64_t age = -1;      // seconds; sent when >= 0
  std::string_view cache_control = "no-store";

  std::size_t body_size() const { return borrowed.owner ? borrowed.size : text.size(); }
  // 1xx, 204 and 304 carry no body and no Content-Length.
  bool bodiless_status() const { return status < 200 || status == 204 || status == 304; }

  void set_error(std::uint16_t code, std::string_view message) {
    status = code;
    content_type = "text/plain; charset=utf-8";
    text = message;
  }
  void set_malformed(std::string_view message) {
    set_error(400, message);
    malformed = true;
  }
};

// Application entry point: turns one request into one response. Called on the worker thread.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void handle(const Request& req, Response& resp) = 0;
  // A hint that handle() follows, in turn, for GET or HEAD requests of these targets (those one
  // read brought): a handler may start loading what they will need. The default does nothing.
  virtual void prefetch(std::span<const std::string_view> targets) { static_cast<void>(targets); }
  // Asked once the head of a request with a body of `length` bytes (at least kBodyProvidedFrom)
  // is read, before its body: a handler may provide the memory the body will be kept in, so that
  // it is read straight there. The default provides none.
  virtual BodyBuffer body_buffer(const Request& head, std::size_t length) {
    static_cast<void>(head);
    static_cast<void>(length);
    return {};
  }
};

std::string_view status_reason(std::uint16_t status);

// Writes the strong entity tag of a 64-bit value: its 64 bits as 11 base64url characters (the
// last one carries 4 bits), in quotes: 13 characters. Short, because HTTP/2 spends work per
// character encoding it (it is never put in the HPACK table).
void format_etag(std::uint64_t etag, char* out);
inline constexpr std::size_t kEtagChars = 13;
// The 64-bit value of the 11 characters between an entity tag's quotes; false when they are not
// a tag format_etag wrote.
bool parse_etag(std::string_view opaque, std::uint64_t& etag);

}  // namespace hkv::http
