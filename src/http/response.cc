// SPDX-License-Identifier: MIT
// Status reasons, Date caching and the HTTP/1.1 response writer.
#include "http/response.h"

#include "http/syntax.h"

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

namespace hkv::http {

namespace {

// Bodies up to this size are copied next to the headers (one iovec); larger ones are referenced.
constexpr std::size_t kCopyBodyBelow = 4096;

char* put(char* p, std::string_view s) {
  if (s.empty()) return p;  // s.data() may be null: memcpy must not see it
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* put_number(char* p, std::size_t n) { return std::to_chars(p, p + 20, n).ptr; }

}  // namespace

std::string_view status_reason(std::uint16_t status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

}  // namespace

void format_etag(std::uint64_t etag, char* out) {
  out[0] = '"';
  for (int i = 0; i < 10; ++i) out[1 + i] = kBase64UrlAlphabet[(etag >> (58 - 6 * i)) & 63];
  out[11] = kBase64UrlAlphabet[(etag & 15) << 2];
  out[12] = '"';
}

bool parse_etag(std::string_view opaque, std::uint64_t& etag) {
  // What format_etag writes: the URL-safe alphabet only, not base64's '+' and '/'.
  auto value = [](char c) { return c == '+' || c == '/' ? -1 : base64url_value(c); };
  if (opaque.size() != kEtagChars - 2) return false;
  std::uint64_t e = 0;
  for (int i = 0; i < 10; ++i) {
    const int v = value(opaque[i]);
    if (v < 0) return false;
    e = (e << 6) | static_cast<std::uint64_t>(v);
  }
  const int last = value(opaque[10]);
  if (last < 0 || (last & 3) != 0) return false;  // the low 2 bits of the last character are unused
  etag = (e << 4) | static_cast<std::uint64_t>(last >> 2);
  return true;
}

std::string_view http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local char buf[32];
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return {buf, 29};
}

namespace {

// The header fields only some responses carry, each after its CRLF.
char* put_optional_fields(char* p, const Response& resp) {
  if (!resp.allow.empty()) {
    p = put(p, "\r\nAllow: ");
    p = put(p, resp.allow);
  }
  if (!resp.www_authenticate.empty()) {
    p = put(p, "\r\nWWW-Authenticate: ");
    p = put(p, resp.www_authenticate);
  }
  if (!resp.node.empty()) {
    p = put(p, "\r\nX-Hkv-Node: ");
    p = put(p, resp.node);
  }
  if (resp.has_etag) {
    p = put(p, "\r\nETag: ");
    format_etag(resp.etag, p);
    p += kEtagChars;
  }
  if (resp.max_age >= 0 || !resp.cache_control.empty()) {
    p = put(p, "\r\nCache-Control: ");
    if (resp.max_age >= 0) {
      p = put(p, "max-age=");
      p = put_number(p, static_cast<std::size_t>(resp.max_age));
    }
    p = put(p, resp.cache_control);
  }
  if (resp.age >= 0) {
    p = put(p, "\r\nAge: ");
    p = put_number(p, static_cast<std::size_t>(resp.age));
  }
  return p;
}

}  // namespace

void write_h1_response(net::OutputQueue& out, Response& resp, const H1ResponseOptions& opts) {
  const bool has_borrowed = resp.borrowed.owner != nullptr;
  const std::size_t body_size = resp.body_size();
  const bool no_length = resp.bodiless_status();
  const bool send_body = !resp.omit_body && !no_length;
  const bool copy_body = send_body && (!has_borrowed || body_size < kCopyBodyBelow);

  std::size_t max = 288 + resp.content_type.size() + resp.allow.size() + resp.www_authenticate.size() + resp.node.size() +
                    resp.cache_control.size() + (copy_body ? body_size : 0);
  char* start = out.prepare(max);
  char* p = start;
  p = put(p, opts.http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  p = put_number(p, resp.status);
  *p++ = ' ';
  p = put(p, status_reason(resp.status));
  p = put(p, "\r\nServer: hkv\r\nDate: ");
  p = put(p, http_date());
  if (!no_length) {
    p = put(p, "\r\nContent-Type: ");
    p = put(p, resp.content_type);
    p = put(p, "\r\nContent-Length: ");
    p = put_number(p, body_size);
  }
  p = put_optional_fields(p, resp);
  if (!opts.keep_alive) {
    p = put(p, "\r\nConnection: close");
  } else if (opts.http10) {
    p = put(p, "\r\nConnection: keep-alive");
  }
  p = put(p, "\r\n\r\n");
  if (copy_body) {
    if (has_borrowed) {
      p = put(p, {resp.borrowed.data, resp.borrowed.size});
    } else {
      p = put(p, resp.text);
    }
  }
  out.commit(static_cast<std::size_t>(p - start));

  if (has_borrowed) {
    if (send_body && !copy_body) {
      out.append_external(resp.borrowed);
    } else if (resp.borrowed.release) {
      resp.borrowed.release(resp.borrowed.owner);
    }
    resp.borrowed = {};
  }
}

}  // namespace hkv::http
