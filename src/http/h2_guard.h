// SPDX-License-Identifier: MIT
// HTTP/2 flood defences: the nghttp2 options that bound what a peer can make a session queue, and
// a per-connection guard for what nghttp2 does not count (the resets the server sends itself,
// empty DATA frames, frames it rejects), so an abusive connection gets GOAWAY.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "http/context.h"
#include "net/output_queue.h"

namespace hkv::http {

// The session options for `limits`, built once per thread (limits are the same on every worker).
const nghttp2_option* h2_session_options(const HttpLimits& limits);

// What a fatal nghttp2_session_mem_recv() error says about the peer, if it is a flood.
std::optional<H2Abuse> h2_abuse_of(int nghttp2_error);

// Queues a GOAWAY frame written by hand, for when the session can no longer send one.
void append_goaway(net::OutputQueue& out, std::int32_t last_stream_id, std::uint32_t error_code);

class H2FloodGuard {
 public:
  explicit H2FloodGuard(const HttpLimits& limits);

  // A stream reset, received or sent (MadeYouReset makes the server send them). False once the
  // token bucket (burst, then rate per second) is empty.
  bool allow_reset(std::chrono::steady_clock::time_point now);
  // An empty DATA frame without END_STREAM, or a frame nghttp2 rejected. False past the limit.
  bool allow_bad_frame() { return ++bad_frames_ <= max_bad_frames_; }

 private:
  double tokens_;
  double burst_;
  double rate_;
  std::chrono::steady_clock::time_point last_{};
  std::uint32_t bad_frames_ = 0;
  std::uint32_t max_bad_frames_;
};

}  // namespace hkv::http
