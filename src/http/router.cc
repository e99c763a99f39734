// SPDX-License-Identifier: MIT
// Routing table, percent-decoding of the one-segment key, and query parameters.
#include "http/router.h"

namespace hkv::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Route key_route(RouteKind kind, std::string_view raw, std::string& key_buffer) {
  Route r;
  r.kind = kind;
  if (raw.empty()) {
    r.key_error = KeyError::empty;
    return r;
  }
  if (raw.find('/') != std::string_view::npos) {
    r.kind = RouteKind::not_found;  // the key is exactly one path segment
    return r;
  }
  std::string_view key = raw;  // a key with nothing to decode is used in place
  if (raw.find('%') != std::string_view::npos) {
    if (!percent_decode(raw, key_buffer)) {
      r.key_error = KeyError::bad_encoding;
      return r;
    }
    key = key_buffer;
  }
  if (key.empty()) {
    r.key_error = KeyError::empty;
  } else if (key.size() > kMaxKeyBytes) {
    r.key_error = KeyError::too_long;
  } else {
    r.key = key;
  }
  return r;
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

Route route(std::string_view target, std::string& key_buffer) {
  std::size_t end = 0;  // one pass; find_first_of("?#") calls memchr once per character
  while (end < target.size() && target[end] != '?' && target[end] != '#') ++end;
  std::string_view path = target.substr(0, end);
  Route r;
  constexpr std::string_view kGet = "/get/";
  constexpr std::string_view kStore = "/store/";
  if (path.starts_with(kGet)) {
    r = key_route(RouteKind::get_value, path.substr(kGet.size()), key_buffer);
  } else if (path.starts_with(kStore)) {
    r = key_route(RouteKind::store_value, path.substr(kStore.size()), key_buffer);
  } else if (path == "/") {
    r.kind = RouteKind::root;
  } else if (path == "/metrics") {
    r.kind = RouteKind::metrics;
  } else if (path == "/stats") {
    r.kind = RouteKind::stats;
  } else if (path == "/keys") {
    r.kind = RouteKind::keys;
  }
  if (end < target.size() && target[end] == '?') {
    std::string_view rest = target.substr(end + 1);
    r.query = rest.substr(0, rest.find('#'));
  }
  return r;
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

std::string_view allowed_methods(RouteKind kind) {
  switch (kind) {
    case RouteKind::root:
    case RouteKind::get_value:
    case RouteKind::metrics:
    case RouteKind::stats:
    case RouteKind::keys:
      return "GET, HEAD";
    case RouteKind::store_value:
      return "POST, PUT, DELETE";
    case RouteKind::not_found:
      break;
  }
  return {};
}

bool method_allowed(RouteKind kind, Method m) {
  switch (kind) {
    case RouteKind::root:
    case RouteKind::get_value:
    case RouteKind::metrics:
    case RouteKind::stats:
    case RouteKind::keys:
      return m == Method::get || m == Method::head;
    case RouteKind::store_value:
      return m == Method::post || m == Method::put || m == Method::del;
    case RouteKind::not_found:
      break;
  }
  return false;
}

}  // namespace hkv::http
