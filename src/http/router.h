// SPDX-License-Identifier: MIT
// Tools for reading a request target: splitting it into path and query, percent-decoding, and
// query parameters. Which paths mean what is the application's business (app/routes.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hkv::http {

struct SplitTarget {
  std::string_view path;   // up to the first '?' or '#'
  std::string_view query;  // after '?', up to any '#'; still percent-encoded
};
SplitTarget split_target(std::string_view target);

// The raw value of `name` in a query string ("a=1&ttl=60"), or nullopt when absent.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name);

// Percent-decodes `in` into `out` (cleared first). Returns false on a malformed escape.
// '+' is kept as '+' (it only means space in form bodies, not in paths).
bool percent_decode(std::string_view in, std::string& out);

}  // namespace hkv::http
