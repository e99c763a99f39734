// SPDX-License-Identifier: MIT
// HTTP/1.1 response serialisation into a connection's output queue, and the cached Date header.
#pragma once

#include <string_view>

#include "http/request.h"
#include "net/output_queue.h"

namespace hkv::http {

struct H1ResponseOptions {
  bool keep_alive = true;
  bool http10 = false;  // answer an HTTP/1.0 request
};

// Appends status line, headers and body. A borrowed body is queued without copying when large;
// its owner reference passes to the queue either way.
void write_h1_response(net::OutputQueue& out, Response& resp, const H1ResponseOptions& opts);

// "Sun, 06 Nov 1994 08:49:37 GMT" for the current second (cached per thread).
std::string_view http_date();

// The whole answer to a connection accepted beyond --max-connections, before it is closed.
inline constexpr std::string_view kServerFullResponse =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 47\r\nConnection: close\r\n\r\nserver at --max-connections; retry in a second\n";

}  // namespace hkv::http
