// SPDX-License-Identifier: MIT
// HTTP/2 flood defences: nghttp2 session options from the limits, and the per-connection guard.
#include "http/h2_guard.h"

#include <algorithm>

namespace hkv::http {

const nghttp2_option* h2_session_options(const HttpLimits& limits) {
  thread_local struct Holder {
    nghttp2_option* opt = nullptr;
    explicit Holder(const HttpLimits& l) {
      nghttp2_option_new(&opt);
      // Rapid Reset (CVE-2023-44487): nghttp2's own bucket counts only the resets it receives. The
      // guard below counts sent ones too and so trips first; nghttp2's, at twice the limits, is a
      // backstop.
      nghttp2_option_set_stream_reset_rate_limit(opt, 2 * std::uint64_t{l.h2_reset_burst}, 2 * std::uint64_t{l.h2_reset_rate});
      // CONTINUATION flood (CVE-2024-28182).
      nghttp2_option_set_max_continuations(opt, l.h2_max_continuations);
      // PING and SETTINGS floods (CVE-2019-9512, -9515): ACKs queued for a peer that does not read.
      nghttp2_option_set_max_outbound_ack(opt, l.h2_max_pending_acks);
      nghttp2_option_set_max_settings(opt, l.h2_max_settings);
    }
    ~Holder() { nghttp2_option_del(opt); }
  } holder(limits);
  return holder.opt;
}

std::optional<H2Abuse> h2_abuse_of(int nghttp2_error) {
  switch (nghttp2_error) {
    case NGHTTP2_ERR_FLOODED:
      return H2Abuse::ack_flood;
    case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
      return H2Abuse::continuation_flood;
    case NGHTTP2_ERR_TOO_MANY_SETTINGS:
      return H2Abuse::settings_flood;
    default:
      return std::nullopt;
  }
}

void append_goaway(net::OutputQueue& out, std::int32_t last_stream_id, std::uint32_t error_code) {
  const std::uint32_t id = static_cast<std::uint32_t>(last_stream_id) & 0x7fffffffu;
  const unsigned char frame[17] = {
      0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0,  // length 8, type, no flags, stream 0
      static_cast<unsigned char>(id >> 24), static_cast<unsigned char>(id >> 16), static_cast<unsigned char>(id >> 8),
      static_cast<unsigned char>(id), static_cast<unsigned char>(error_code >> 24),
      static_cast<unsigned char>(error_code >> 16), static_cast<unsigned char>(error_code >> 8),
      static_cast<unsigned char>(error_code)};
  out.append({reinterpret_cast<const char*>(frame), sizeof frame});
}

H2FloodGuard::H2FloodGuard(const HttpLimits& limits)
    : tokens_(limits.h2_reset_burst),
      burst_(limits.h2_reset_burst),
      rate_(limits.h2_reset_rate),
      max_bad_frames_(limits.h2_max_bad_frames) {}

bool H2FloodGuard::allow_reset(std::chrono::steady_clock::time_point now) {
  if (last_ != std::chrono::steady_clock::time_point{}) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  }
  last_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace hkv::http
