// SPDX-License-Identifier: MIT
// The HTTP/2 answer of one stream: its header fields, formatted into the stream's own buffers and
// handed to nghttp2 without copies, and its body, read from the borrowed value or the text.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

#include "http/h2_stream.h"

namespace hkv::http {

namespace {

// Bodies up to one default-size DATA frame (16 KiB) get no content-length (see h2_response_fields).
constexpr std::size_t kContentLengthFrom = 16384;

nghttp2_nv make_nv(std::string_view name, std::string_view value, std::uint8_t flags = 0) {
  return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(),
                    static_cast<std::uint8_t>(NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE | flags)};
}

// For values that differ from response to response (entity tags, ages): adding them to the HPACK
// dynamic table would cost time and push out the entries that do repeat.
nghttp2_nv make_unindexed_nv(std::string_view name, std::string_view value) {
  return make_nv(name, value, NGHTTP2_NV_FLAG_NO_INDEX);
}

}  // namespace

std::size_t h2_response_fields(H2Stream& stream, nghttp2_nv (&nva)[kMaxResponseFields]) {
  H2Stream* s = &stream;
  const Response& r = s->resp;
  std::to_chars(s->status, s->status + 3, r.status);
  std::size_t n = 0;
  nva[n++] = make_nv(":status", {s->status, 3});
  if (!r.bodiless_status()) {
    nva[n++] = make_nv("content-type", r.content_type);
    // HTTP/2 framing delimits the body, so content-length is only information for the client.
    // It is sent where it tells something: on HEAD, and when the body spans several DATA frames.
    // A small GET answer goes without: nghttp2 spends ~500 instructions per never-indexed header.
    if (r.omit_body || r.body_size() > kContentLengthFrom) {
      char* end = std::to_chars(s->length, s->length + sizeof s->length, r.body_size()).ptr;
      nva[n++] = make_nv("content-length", {s->length, static_cast<std::size_t>(end - s->length)});
    }
  }
  if (!r.allow.empty()) nva[n++] = make_nv("allow", r.allow);
  if (!r.www_authenticate.empty()) nva[n++] = make_nv("www-authenticate", r.www_authenticate);
  if (!r.node.empty()) nva[n++] = make_nv("x-hkv-node", r.node);
  if (r.has_etag) {
    format_etag(r.etag, s->etag);
    nva[n++] = make_unindexed_nv("etag", {s->etag, kEtagChars});
  }
  if (r.max_age >= 0) {  // differs from response to response: formatted, never indexed
    constexpr std::string_view kPrefix = "max-age=";
    char* const buf = s->cache_control;
    char* const last = buf + sizeof s->cache_control;
    char* end = std::to_chars(std::copy(kPrefix.begin(), kPrefix.end(), buf), last, r.max_age).ptr;
    end = std::copy_n(r.cache_control.data(), std::min<std::size_t>(r.cache_control.size(), last - end), end);
    nva[n++] = make_unindexed_nv("cache-control", {buf, static_cast<std::size_t>(end - buf)});
  } else if (!r.cache_control.empty()) {
    nva[n++] = make_nv("cache-control", r.cache_control);  // the same text each time: indexed
  }
  if (r.age >= 0) {
    char* end = std::to_chars(s->age, s->age + sizeof s->age, r.age).ptr;
    nva[n++] = make_unindexed_nv("age", {s->age, static_cast<std::size_t>(end - s->age)});
  }
  return n;
}

bool h2_sends_body(const Response& r) { return !r.bodiless_status() && !r.omit_body && r.body_size() > 0; }

ssize_t h2_read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* data_flags,
                     nghttp2_data_source* source, void*) {
  auto* s = static_cast<H2Stream*>(source->ptr);
  if (s->hold_data) return NGHTTP2_ERR_DEFERRED;  // resumed by the session (see H2Stream::hold_data)
  const Response& r = s->resp;
  const std::size_t n = std::min(r.body_size() - s->body_read, length);
  if (r.body_size() > kBodyCopiedUpTo) {
    *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;  // h2_send_body queues the frame
  } else if (n > 0) {
    std::memcpy(buf, (r.borrowed.owner ? r.borrowed.data : r.text.data()) + s->body_read, n);
  }
  s->body_read += n;
  if (s->body_read == r.body_size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

void h2_send_body(H2Stream& s, const nghttp2_frame& frame, const std::uint8_t* frame_head, std::size_t length,
                  net::OutputQueue& out) {
  constexpr std::size_t kFrameHeadBytes = 9;
  out.append({reinterpret_cast<const char*>(frame_head), kFrameHeadBytes});
  // A padded frame (nghttp2 pads only when asked to, which hkv never does) carries its pad length
  // first and its zeros last.
  const std::size_t padding = frame.data.padlen > 0 ? frame.data.padlen - 1 : 0;
  if (frame.data.padlen > 0) {
    const char pad_length = static_cast<char>(padding);
    out.append({&pad_length, 1});
  }
  const Response& r = s.resp;
  out.append_external(net::ExternalBytes{(r.borrowed.owner ? r.borrowed.data : r.text.data()) + s.body_sent, length,
                                         nullptr, nullptr});
  s.body_sent += length;
  s.body_lent = true;
  if (padding > 0) {
    std::memset(out.prepare(padding), 0, padding);
    out.commit(padding);
  }
}

}  // namespace hkv::http
