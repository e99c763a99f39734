// SPDX-License-Identifier: MIT
// The HTTP caching vocabulary of the store endpoints: TTLs from ?ttl= or Cache-Control: max-age,
// and the If-Match / If-None-Match entity-tag lists (tags are written by http::format_etag).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hkv::app {

// Longest TTL accepted: ten years, in seconds.
inline constexpr std::uint64_t kMaxTtlSeconds = 10ull * 365 * 24 * 3600;

// A TTL from a request: absent, a number of seconds (0 = never expires), or an error message.
struct TtlParse {
  std::optional<std::uint64_t> seconds;
  const char* error = nullptr;
};

// `?ttl=SECONDS` wins over `Cache-Control: max-age=SECONDS`; other Cache-Control directives are
// ignored. Seconds are decimal digits only, at most kMaxTtlSeconds.
TtlParse parse_ttl(std::optional<std::string_view> query_ttl, std::optional<std::string_view> cache_control);

// A parsed If-Match / If-None-Match list. Tags that are not hkv's (not 11 base64url characters) cannot
// match anything and are dropped; weak tags (W/"...") are kept only for weak comparison.
struct EntityTagList {
  static constexpr std::size_t kMaxTags = 16;
  bool any = false;  // "*"
  std::array<std::uint64_t, kMaxTags> strong{};
  std::size_t strong_count = 0;
  std::array<std::uint64_t, kMaxTags> weak{};  // from W/ tags
  std::size_t weak_count = 0;

  // Strong comparison (If-Match): only strong tags count.
  bool matches_strong(std::uint64_t etag) const;
  // Weak comparison (If-None-Match): W/ prefixes ignored.
  bool matches_weak(std::uint64_t etag) const;
};

// Returns nullopt when the list is malformed (unquoted tag, more than kMaxTags tags).
std::optional<EntityTagList> parse_entity_tags(std::string_view value);

}  // namespace hkv::app
