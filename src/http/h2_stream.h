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
  Request req;
  std::size_t content_length = 0;  // from the request's content-length; 0 when absent
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
  std::size_t body_read = 0;  // how much of the body nghttp2 has framed (h2_read_body)
  std::size_t body_sent = 0;  // how much of a large body is in the connection's output (h2_send_body)
  // The output references the body in place: its owner is released only after those bytes.
  bool body_lent = false;
  char status[4] = {};  // the response's field values are formatted into these
  char length[24] = {};
  char etag[kEtagChars] = {};
  char cache_control[96] = {};  // "max-age=<seconds>" and the directives after it
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
// nghttp2's data source callback for a stream's body; source->ptr is the H2Stream. A body of up
// to kBodyCopiedUpTo bytes is copied into nghttp2's frame: one frame, and a copy of a few KiB costs
// less than the extra steps of the alternative. A larger one is not copied: nghttp2 only learns
// each DATA frame's length, and h2_send_body queues the frame.
ssize_t h2_read_body(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                     std::uint32_t* data_flags, nghttp2_data_source* source, void* user_data);
// Queues one DATA frame of a large body: its 9-byte header `frame_head`, optional padding, and a
// reference to the next `length` bytes of the body, in place (H2Stream::body_lent).
void h2_send_body(H2Stream& s, const nghttp2_frame& frame, const std::uint8_t* frame_head, std::size_t length,
                  net::OutputQueue& out);
inline constexpr std::size_t kBodyCopiedUpTo = 1024;

}  // namespace hkv::http
