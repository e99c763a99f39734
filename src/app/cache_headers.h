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

// What a stored value tells an HTTP cache in front of hkv (README, "hkv behind an HTTP cache").
// A value with a lifetime says how long it lives and how old it is, as a cache does: max_age =
// age + the seconds hkv has left (rounded up), so the freshness a cache computes (RFC 9111
// 4.2.3: max-age − Age) is what hkv has left, within a second; and no cache may serve it stale.
// A value without one changes in place, so a cache must ask each time (no-cache); its ETag makes
// that cheap.
struct Freshness {
  std::int64_t max_age = -1;  // seconds; -1: no lifetime (no-cache)
  std::int64_t age = -1;      // seconds since the value was stored; -1: not sent
};
// `expires_at_ms`: 0 for never, else after `now_ms` (the value is live); `stored_at_s`: whole
// seconds since the epoch.
Freshness freshness_of(std::uint64_t expires_at_ms, std::uint64_t stored_at_s, std::uint64_t now_ms);
// The Cache-Control of an answer with a lifetime, after "max-age=<seconds>": no serving stale,
// spelt out for caches that ignore must-revalidate (Varnish 7 serves stale for its default grace
// of 10 s unless told stale-while-revalidate=0).
inline constexpr std::string_view kMaxAgeDirectives = ", must-revalidate, stale-while-revalidate=0";
// The Cache-Control of a stored value without a lifetime, and of every answer that is not a
// stored value.
inline constexpr std::string_view kRevalidate = "no-cache";
inline constexpr std::string_view kNotStored = "no-store";

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
