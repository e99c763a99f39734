// SPDX-License-Identifier: MIT
// The route table, and matching a request target against it: the path chooses the row, and a
// row that takes a key gets the last segment percent-decoded and checked.
#include "app/routes.h"

#include <array>

#include "app/handlers.h"
#include "http/router.h"

namespace hkv::app {

namespace {

using http::Method;

constexpr auto kTable = std::to_array<Route>({
    {"/get/", true, kReadMethods, Access::read, "get", &KvHandler::answer_get},
    {"/store/", true, kWriteMethods, Access::restricted, "store", &KvHandler::answer_write},
    {"/", false, kReadMethods, Access::open, "root", &KvHandler::answer_root},
    {"/metrics", false, kReadMethods, Access::restricted, "metrics", &KvHandler::answer_metrics},
    {"/stats", false, kReadMethods, Access::restricted, "stats", &KvHandler::answer_stats},
    {"/keys", false, kReadMethods, Access::restricted, "keys", &KvHandler::answer_keys},
});
static_assert(kTable.size() == kRouteCount, "kRouteCount in routes.h counts the rows of kTable");

// The key is exactly one path segment; an encoded slash (%2F) stays inside it.
RouteMatch match_key(const Route& route, std::string_view raw, std::string& key_buffer) {
  RouteMatch m;
  if (raw.find('/') != std::string_view::npos) return m;
  m.route = &route;
  std::string_view key = raw;  // a key with nothing to decode is used in place
  if (raw.find('%') != std::string_view::npos) {
    if (!http::percent_decode(raw, key_buffer)) {
      m.key_error = KeyError::bad_encoding;
      return m;
    }
    key = key_buffer;
  }
  if (key.empty()) {
    m.key_error = KeyError::empty;
  } else if (key.size() > kMaxKeyBytes) {
    m.key_error = KeyError::too_long;
  } else {
    m.key = key;
  }
  return m;
}

}  // namespace

std::span<const Route, kRouteCount> routes() { return kTable; }

std::string_view route_label(std::size_t index) { return index < kRouteCount ? kTable[index].label : "none"; }

RouteMatch match_route(std::string_view target, std::string& key_buffer) {
  const http::SplitTarget parts = http::split_target(target);
  RouteMatch m;
  for (const Route& route : kTable) {
    if (route.takes_key ? parts.path.starts_with(route.path) : parts.path == route.path) {
      if (route.takes_key) {
        m = match_key(route, parts.path.substr(route.path.size()), key_buffer);
      } else {
        m.route = &route;
      }
      break;
    }
  }
  m.query = parts.query;
  return m;
}

std::string_view allowed_methods(const Route& route) {
  static const auto kAllow = [] {
    constexpr std::array<std::pair<Method, std::string_view>, 5> kNames = {
        {{Method::get, "GET"}, {Method::head, "HEAD"}, {Method::post, "POST"}, {Method::put, "PUT"}, {Method::del, "DELETE"}}};
    std::array<std::string, kRouteCount> allow;
    for (std::size_t i = 0; i < kRouteCount; ++i) {
      for (const auto& [method, name] : kNames) {
        if ((kTable[i].methods & method_bit(method)) == 0) continue;
        if (!allow[i].empty()) allow[i] += ", ";
        allow[i] += name;
      }
    }
    return allow;
  }();
  return kAllow[static_cast<std::size_t>(&route - kTable.data())];
}

}  // namespace hkv::app
