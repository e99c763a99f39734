// SPDX-License-Identifier: MIT
// H2Stream: one HTTP/2 stream of an H2Session, from its request headers to its response; and
// turning its Response into the response's header fields and DATA (h2_response.cc).
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/fields.h"
#include "http/request.h"

namespace hkv::http {

struct H2Stream {
  H2Stream* prev = nullptr;  // the session's list of open streams
  H2Stream* next = nullptr;
  std::int32_t id = 0;
  Method method = Method::other;
  std::string method_name;
  std::string path;
  std::string body;
  RequestFields fields;
  bool body_too_large = false;
  bool complete = false;  // the request has ended (END_STREAM seen)
  bool headers_too_large = false;  // past --max-headers or --max-header-bytes: answered 431
  std::uint32_t header_count = 0;
  std::size_t header_bytes = 0;  // counted as SETTINGS_MAX_HEADER_LIST_SIZE does: +32 per field
  bool ended = false;     // its request ended in the read being parsed: answered once it is
  H2Stream* next_ended = nullptr;  // the session's list of those, in the order they ended
  bool parked = false;    // waiting for an admission slot
  bool answered = false;  // the response is submitted; the stream now waits on the peer
  // Stream 1 of an upgrade: its DATA waits until the client's preface and SETTINGS are read, so
  // that a client which keeps little of what follows the 101 (curl 7.88: 32 KiB) is not flooded.
  bool hold_data = false;
  Response resp;
  std::size_t body_offset = 0;
  char status[4] = {};  // the response's field values are formatted into these
  char length[24] = {};
  char etag[kEtagChars] = {};
  char max_age[24] = {};
  char age[24] = {};
};

// An upgraded stream 1 whose body is larger than this holds its DATA (H2Stream::hold_data): one
// default-size DATA frame.
inline constexpr std::size_t kUpgradeBodySentAtOnce = 16384;

// At most this many response header fields (:status, content-type, content-length, allow,
// www-authenticate, x-hkv-node, etag, cache-control, age).
inline constexpr std::size_t kMaxResponseFields = 9;

// Fills `nva` with the response header fields of `s->resp`; their values point into `s`, which
// must outlive the submission. Returns how many there are.
std::size_t h2_response_fields(H2Stream& s, nghttp2_nv (&nva)[kMaxResponseFields]);
// Whether the response has DATA to send (not HEAD, not a bodiless status, not empty).
bool h2_sends_body(const Response& r);
// nghttp2's data source callback for a stream's body; source->ptr is the H2Stream.
ssize_t h2_read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                     std::uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

}  // namespace hkv::http
