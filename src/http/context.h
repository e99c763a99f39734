// SPDX-License-Identifier: MIT
// HttpContext: what every protocol session on one worker shares — the application's handler, the
// worker's admission queue, the protocol limits (all set from flags) and the worker's protocol
// event counters.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "http/admission.h"
#include "http/request.h"
#include "net/connection.h"
#include "net/counter.h"

namespace hkv::http {

struct HttpLimits {
  std::size_t max_value_size = 1 << 20;     // request body cap (413 above)
  std::size_t max_header_bytes = 16 * 1024;  // request line + headers; h2: decoded, +32 per field (431 above)
  std::size_t max_headers = 100;             // header fields per request (431 above)
  std::size_t max_target_bytes = 8 * 1024;   // request target alone (414 above)
  std::uint32_t max_streams = 100;           // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
  std::size_t output_high_water = 1 << 20;   // stop producing output above this many queued bytes
  bool h2c_upgrade = true;                   // accept "Upgrade: h2c" from HTTP/1.1

  // HTTP/2 flood limits; past each one the connection gets GOAWAY (ENHANCE_YOUR_CALM).
  std::uint32_t h2_reset_burst = 1000;   // stream resets, sent and received, a connection may burst...
  std::uint32_t h2_reset_rate = 33;      // ...and then sustain per second (Rapid Reset, MadeYouReset)
  std::uint32_t h2_max_continuations = 8;  // CONTINUATION frames after one HEADERS
  std::uint32_t h2_max_pending_acks = 1000;  // SETTINGS and PING ACKs queued for a peer that does not read
  std::uint32_t h2_max_settings = 32;        // entries in one SETTINGS frame
  std::uint32_t h2_max_bad_frames = 100;     // empty DATA without END_STREAM, and frames nghttp2 rejects
};

// Why a connection was sent GOAWAY for crossing a limit.
enum class H2Abuse : std::uint8_t { reset_flood, ack_flood, continuation_flood, settings_flood, bad_frames };
inline constexpr std::size_t kH2AbuseKinds = 5;
inline constexpr std::array<const char*, kH2AbuseKinds> kH2AbuseNames = {
    "reset_flood", "ack_flood", "continuation_flood", "settings_flood", "bad_frames"};

// Protocol events for /metrics, counted by one worker and read on scrape.
struct ProtocolCounters {
  std::array<net::Counter, kH2AbuseKinds> h2_abuse;  // by H2Abuse
  net::Counter h2_goaways;                           // GOAWAY frames sent, for any reason

  void count(H2Abuse a) { h2_abuse[static_cast<std::size_t>(a)].add(); }
};

struct HttpContext {
  RequestHandler& handler;
  AdmissionQueue& admission;
  HttpLimits limits;
  ProtocolCounters& counters;
};

// The first protocol of every accepted connection: looks at the first bytes and installs the
// HTTP/2 session (client connection preface) or the HTTP/1.1 session.
std::unique_ptr<net::Protocol> make_protocol_sniffer(net::Connection& conn, HttpContext& ctx);

}  // namespace hkv::http
