// SPDX-License-Identifier: MIT
// HTTP/2 (h2c) session over nghttp2: prior knowledge and Upgrade from HTTP/1.1. Input is fed with
// one nghttp2_session_mem_recv per read; output is pulled with mem_send into the connection's
// queue while it is below its high-water mark, so flow control and slow readers bound memory.
#pragma once

#include <memory>
#include <string_view>

#include "http/context.h"

namespace hkv::http {

// Session for a connection that opened with the client preface.
std::unique_ptr<net::Protocol> make_h2_session(net::Connection& conn, HttpContext& ctx);

// Answers the HTTP/1.1 request that carried "Upgrade: h2c" as stream 1: queues "101 Switching
// Protocols", the server preface and the response, and moves the request into the stream.
// `http2_settings` is the HTTP2-Settings header (base64url SETTINGS payload). Returns nullptr, with
// nothing queued and the request untouched, when it is not valid; the caller then answers over
// HTTP/1.1.
std::unique_ptr<net::Protocol> upgrade_to_h2(net::Connection& conn, HttpContext& ctx, Request& req,
                                             std::string_view http2_settings);


}  // namespace hkv::http
