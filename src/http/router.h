// SPDX-License-Identifier: MIT
// Router: maps a request target to a route and its decoded key. Knows nothing of the store.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/request.h"

namespace hkv::http {

inline constexpr std::size_t kMaxKeyBytes = 250;

enum class RouteKind { root, get_value, store_value, metrics, stats, keys, not_found };

enum class KeyError { none, empty, bad_encoding, too_long };

struct Route {
  RouteKind kind = RouteKind::not_found;
  KeyError key_error = KeyError::none;
  std::string_view key;    // decoded; points into the target, or into key_buffer when decoded
  std::string_view query;  // after '?', up to any '#'; still percent-encoded
};

// The raw value of `name` in a query string ("a=1&ttl=60"), or nullopt when absent.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name);

// Percent-decodes `in` into `out` (cleared first). Returns false on a malformed escape.
// '+' is kept as '+' (it only means space in form bodies, not in paths).
bool percent_decode(std::string_view in, std::string& out);

// Routes `target` (path plus optional query). `key_buffer` holds the key when it had to be
// percent-decoded.
Route route(std::string_view target, std::string& key_buffer);

// Allowed methods for a route (the Allow header of a 405).
std::string_view allowed_methods(RouteKind kind);
bool method_allowed(RouteKind kind, Method m);

}  // namespace hkv::http
