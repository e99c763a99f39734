// SPDX-License-Identifier: MIT
// The application's routes, one row each: the path, whether it ends in a key, the methods it
// takes, who may use it, its label in /metrics and the handler that answers it. The Allow header,
// the 405 answer, what auth requires and the metric labels all come from this table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "app/auth.h"
#include "http/request.h"

namespace hkv::app {

class KvHandler;
struct RouteMatch;

// A set of http::Method values, one bit each.
using MethodSet = std::uint8_t;
constexpr MethodSet method_bit(http::Method m) { return static_cast<MethodSet>(1u << static_cast<unsigned>(m)); }
inline constexpr MethodSet kReadMethods = method_bit(http::Method::get) | method_bit(http::Method::head);
inline constexpr MethodSet kWriteMethods =
    method_bit(http::Method::post) | method_bit(http::Method::put) | method_bit(http::Method::del);

struct Route {
  std::string_view path;  // the whole path; with takes_key, the part before the key ("/get/")
  bool takes_key;         // the last path segment is a key, percent-decoded
  MethodSet methods;
  Access access;
  std::string_view label;  // route="..." in /metrics and /stats
  void (KvHandler::*answer)(const http::Request&, const RouteMatch&, http::Response&);
};

// Keys are one path segment of 1 to kMaxKeyBytes bytes once percent-decoded.
inline constexpr std::size_t kMaxKeyBytes = 250;
enum class KeyError : std::uint8_t { none, empty, bad_encoding, too_long };

// The rows, in the order targets are matched (the busiest first). Defined in routes.cc.
inline constexpr std::size_t kRouteCount = 6;
std::span<const Route, kRouteCount> routes();
// Requests that match no route are counted under this index, with the label "none".
inline constexpr std::size_t kNoRoute = kRouteCount;
std::string_view route_label(std::size_t index);

struct RouteMatch {
  const Route* route = nullptr;  // null: no route has this path
  KeyError key_error = KeyError::none;
  std::string_view key;    // decoded: points into the target, or into the caller's key buffer
  std::string_view query;  // after '?', up to any '#'; still percent-encoded

  std::size_t index() const { return route != nullptr ? static_cast<std::size_t>(route - routes().data()) : kNoRoute; }
};

// Matches a request target (path and optional query). `key_buffer` holds the key when it had to
// be percent-decoded.
RouteMatch match_route(std::string_view target, std::string& key_buffer);

// The Allow header of a route: its methods, comma-separated.
std::string_view allowed_methods(const Route& route);

}  // namespace hkv::app
