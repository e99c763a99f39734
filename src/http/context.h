// SPDX-License-Identifier: MIT
// HttpContext: what every protocol session on one worker shares — the application's handler, the
// worker's admission queue and the protocol limits (all set from flags).
#pragma once

#include <cstddef>
#include <memory>

#include "http/admission.h"
#include "http/request.h"
#include "net/connection.h"

namespace hkv::http {

struct HttpLimits {
  std::size_t max_value_size = 1 << 20;     // request body cap (413 above)
  std::size_t max_header_bytes = 16 * 1024;  // request line + headers (431 above)
  std::size_t max_target_bytes = 8 * 1024;   // request target alone (414 above)
  std::uint32_t max_streams = 100;           // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
  std::size_t output_high_water = 1 << 20;   // stop producing output above this many queued bytes
  bool h2c_upgrade = true;                   // accept "Upgrade: h2c" from HTTP/1.1
};

struct HttpContext {
  RequestHandler& handler;
  AdmissionQueue& admission;
  HttpLimits limits;
};

// The first protocol of every accepted connection: looks at the first bytes and installs the
// HTTP/2 session (client connection preface) or the HTTP/1.1 session.
std::unique_ptr<net::Protocol> make_protocol_sniffer(net::Connection& conn, HttpContext& ctx);

}  // namespace hkv::http
