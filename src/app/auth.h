// SPDX-License-Identifier: MIT
// Access control: which requests need the bearer token of --auth-token-file (writes, deletes,
// /metrics and /stats; reads too with --auth-reads), and checking it in constant time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/request.h"

namespace hkv::app {

// Who may use a route (a column of the route table): anyone; token holders when reads need the
// token too (--auth-reads); token holders whenever a token is set.
enum class Access : std::uint8_t { open, read, restricted };

class AccessPolicy {
 public:
  AccessPolicy() = default;  // open: no token configured
  AccessPolicy(std::string token, bool reads_too) : token_(std::move(token)), reads_too_(reads_too) {}

  bool enabled() const { return !token_.empty(); }
  // Whether a request for a route of this access class must carry the token.
  bool required(Access access) const;
  // Fills a 401 (with WWW-Authenticate) unless `authorization` is "Bearer <the token>".
  bool admit(std::optional<std::string_view> authorization, http::Response& resp) const;

 private:
  std::string token_;
  bool reads_too_ = false;
};

// Reads the token from `path`: the first line, without surrounding whitespace. Returns an error
// message on failure (missing file, empty token, characters a Bearer token cannot hold).
std::optional<std::string> read_token_file(const std::string& path, std::string& token);

// Whether an address (a --bind value) is loopback only: 127.0.0.0/8 or ::1.
bool is_loopback(const std::string& address);

}  // namespace hkv::app
