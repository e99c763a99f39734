// SPDX-License-Identifier: MIT
// libFuzzer target: percent_decode, and the key match_route() takes from /store/{segment},
// checked against a plain reference decoder.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app/routes.h"
#include "http/router.h"

namespace {

// RFC 3986 percent-decoding, written differently from the router's on purpose.
bool reference_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (in.size() - i < 3) return false;
    const std::string hex(in.substr(i + 1, 2));
    if (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
    out += static_cast<char>(std::stoi(hex, nullptr, 16));
    i += 2;
  }
  return true;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hkv::http;
  using namespace hkv::app;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string decoded, expected;
  const bool ok = percent_decode(in, decoded);
  const bool expected_ok = reference_decode(in, expected);
  check(ok == expected_ok);
  check(!ok || decoded == expected);

  // The input as the rest of a request target: the key is its first segment, decoded.
  const std::string target = "/store/" + std::string(in);
  std::string key_buffer;
  const RouteMatch r = match_route(target, key_buffer);
  const std::size_t end = in.find_first_of("?#");
  const std::string_view segment = in.substr(0, end);
  if (segment.find('/') != std::string_view::npos) {
    check(r.route == nullptr);
  } else {
    check(r.route != nullptr && r.route->label == "store");
    const bool segment_ok = reference_decode(segment, expected);
    if (segment.empty()) {
      check(r.key_error == KeyError::empty);
    } else if (!segment_ok) {
      check(r.key_error == KeyError::bad_encoding);
    } else if (expected.size() > kMaxKeyBytes) {
      check(r.key_error == KeyError::too_long);
    } else {
      check(r.key_error == KeyError::none && r.key == expected);
    }
  }
  // The query runs from the first '?' before any '#' up to the next '#'.
  if (end != std::string_view::npos && in[end] == '?') {
    const std::string_view rest = in.substr(end + 1);
    check(r.query == rest.substr(0, rest.find('#')));
    if (const auto ttl = query_param(r.query, "ttl"); ttl && !ttl->empty()) {  // "ttl" alone gives {}
      check(ttl->data() > r.query.data() && ttl->data() + ttl->size() <= r.query.data() + r.query.size());
    }
  } else {
    check(r.query.empty());
  }
  return 0;
}
