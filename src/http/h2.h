// SPDX-License-Identifier: MIT
// HTTP/2 (h2c) session over nghttp2: prior knowledge and Upgrade from HTTP/1.1. Input is fed with
// one nghttp2_session_mem_recv per read; output is pulled with mem_send into the connection's
// queue while it is below its high-water mark, so flow control and slow readers bound memory.
#pragma once

#include <memory>
#include <string_view>

#include "http/context.h"

namespace hkv::http {

// The HTTP/1.1 request that carried "Upgrade: h2c"; it becomes stream 1.
struct UpgradeRequest {
  Method method = Method::other;
  std::string_view method_name;
  std::string_view target;
  std::string_view body;
  const RequestFields* fields = nullptr;
  std::string_view http2_settings;  // base64url SETTINGS payload from the HTTP2-Settings header
};

// Session for a connection that opened with the client preface.
std::unique_ptr<net::Protocol> make_h2_session(net::Connection& conn, HttpContext& ctx);

// Answers the upgrade: queues "101 Switching Protocols", the server preface and the response to
// stream 1. Returns nullptr (nothing queued) when HTTP2-Settings is not valid; the caller then
// answers over HTTP/1.1.
std::unique_ptr<net::Protocol> upgrade_to_h2(net::Connection& conn, HttpContext& ctx,
                                             const UpgradeRequest& req);


}  // namespace hkv::http
