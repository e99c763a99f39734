// SPDX-License-Identifier: MIT
// Splitting a request target, percent-decoding, and query parameters.
#include "http/router.h"

namespace hkv::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  if (in.find('%') == std::string_view::npos) {  // the common case: nothing to decode
    out.assign(in);
    return true;
  }
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

SplitTarget split_target(std::string_view target) {
  std::size_t end = 0;  // one pass; find_first_of("?#") calls memchr once per character
  while (end < target.size() && target[end] != '?' && target[end] != '#') ++end;
  SplitTarget parts{target.substr(0, end), {}};
  if (end < target.size() && target[end] == '?') {
    std::string_view rest = target.substr(end + 1);
    parts.query = rest.substr(0, rest.find('#'));
  }
  return parts;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace hkv::http
