// SPDX-License-Identifier: MIT
// Access control: the bearer-token check and the token file.
#include "app/auth.h"

#include <arpa/inet.h>

#include <fstream>

#include "http/fields.h"

namespace hkv::app {

namespace {

// Equal without an early exit, so the time taken does not tell how much of a guess was right.
// (The length of the token is not secret enough to hide: it is fixed by the operator.)
bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "=" padding.
bool is_b64token(std::string_view t) {
  std::size_t i = 0;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  while (i < t.size() && t[i] == '=') ++i;
  return i == t.size();
}

}  // namespace

bool AccessPolicy::required(Access access) const {
  if (!enabled()) return false;
  switch (access) {
    case Access::open: return false;
    case Access::read: return reads_too_;
    case Access::restricted: return true;
  }
  return true;
}

bool AccessPolicy::admit(std::optional<std::string_view> authorization, http::Response& resp) const {
  if (authorization) {
    std::string_view v = *authorization;
    constexpr std::string_view kScheme = "Bearer ";
    if (v.size() > kScheme.size() && http::iequals(v.substr(0, kScheme.size()), kScheme)) {
      v.remove_prefix(kScheme.size());
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (constant_time_equal(v, token_)) return true;
    }
  }
  resp.set_error(401, authorization ? "invalid bearer token\n" : "this request needs Authorization: Bearer <token>\n");
  resp.www_authenticate = authorization ? R"(Bearer realm="hkv", error="invalid_token")" : R"(Bearer realm="hkv")";
  return false;
}

std::optional<std::string> read_token_file(const std::string& path, std::string& token) {
  std::ifstream in(path);
  if (!in) return "cannot read --auth-token-file " + path;
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  token = first == std::string::npos ? "" : line.substr(first, last - first + 1);
  if (token.empty()) return "--auth-token-file " + path + " holds no token on its first line";
  if (!is_b64token(token)) {
    return "--auth-token-file " + path + ": a bearer token may hold only letters, digits and - . _ ~ + / (then =)";
  }
  return std::nullopt;
}

bool is_loopback(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace hkv::app
