// SPDX-License-Identifier: MIT
// TTL and entity-tag parsing for the store endpoints.
#include "app/cache_headers.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "http/request.h"
#include "http/syntax.h"

namespace hkv::app {

namespace {

std::optional<std::uint64_t> parse_seconds(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n > kMaxTtlSeconds) return std::nullopt;
  return n;
}

// The max-age directive of a Cache-Control value: absent, its argument, or "bad" for a
// directive without one.
std::optional<std::string_view> max_age_of(std::string_view cc, bool& malformed) {
  while (!cc.empty()) {
    const std::string_view d = http::next_list_item(cc);
    std::size_t eq = d.find('=');
    std::string_view name = http::trim_ows(d.substr(0, eq));
    if (name.size() == 7 && strncasecmp(name.data(), "max-age", 7) == 0) {
      if (eq == std::string_view::npos) {
        malformed = true;
        return std::nullopt;
      }
      std::string_view arg = http::trim_ows(d.substr(eq + 1));
      if (arg.size() >= 2 && arg.front() == '"' && arg.back() == '"') arg = arg.substr(1, arg.size() - 2);
      return arg;
    }
  }
  return std::nullopt;
}

}  // namespace

TtlParse parse_ttl(std::optional<std::string_view> query_ttl, std::optional<std::string_view> cache_control) {
  static const std::string kBad =
      fmt::format("ttl must be a whole number of seconds from 0 (never expires) to {}\n", kMaxTtlSeconds);
  static const std::string kBadMaxAge =
      fmt::format("Cache-Control max-age must be a whole number of seconds from 0 to {}\n", kMaxTtlSeconds);
  if (query_ttl) {
    std::optional<std::uint64_t> s = parse_seconds(*query_ttl);
    return s ? TtlParse{s, nullptr} : TtlParse{std::nullopt, kBad.c_str()};
  }
  if (cache_control) {
    bool malformed = false;
    std::optional<std::string_view> arg = max_age_of(*cache_control, malformed);
    if (malformed) return {std::nullopt, "Cache-Control max-age needs a value, e.g. max-age=60\n"};
    if (!arg) return {};
    std::optional<std::uint64_t> s = parse_seconds(*arg);
    if (!s) return {std::nullopt, kBadMaxAge.c_str()};
    return {s, nullptr};
  }
  return {};
}

Freshness freshness_of(std::uint64_t expires_at_ms, std::uint64_t stored_at_s, std::uint64_t now_ms) {
  if (expires_at_ms == 0) return {};
  const std::uint64_t now_s = now_ms / 1000;
  const std::int64_t age = now_s > stored_at_s ? static_cast<std::int64_t>(now_s - stored_at_s) : 0;
  const std::uint64_t left_ms = expires_at_ms > now_ms ? expires_at_ms - now_ms : 0;
  return {age + static_cast<std::int64_t>((left_ms + 999) / 1000), age};
}

bool EntityTagList::matches_strong(std::uint64_t etag) const {
  return any || std::find(strong.begin(), strong.begin() + strong_count, etag) != strong.begin() + strong_count;
}

bool EntityTagList::matches_weak(std::uint64_t etag) const {
  return matches_strong(etag) || std::find(weak.begin(), weak.begin() + weak_count, etag) != weak.begin() + weak_count;
}

std::optional<EntityTagList> parse_entity_tags(std::string_view value) {
  // RFC 9110 8.8.3: #( [ "W/" ] DQUOTE *etagc DQUOTE ) or "*". A tag may contain commas, so the
  // list is scanned tag by tag rather than split on commas.
  EntityTagList list;
  std::size_t tags = 0;
  std::size_t i = 0;
  auto skip_separators = [&] {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) ++i;
  };
  skip_separators();
  while (i < value.size()) {
    if (++tags > EntityTagList::kMaxTags) return std::nullopt;
    if (value[i] == '*') {
      list.any = true;
      ++i;
    } else {
      const bool weak = value.substr(i, 2) == "W/";
      if (weak) i += 2;
      if (i >= value.size() || value[i] != '"') return std::nullopt;
      const std::size_t close = value.find('"', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      std::uint64_t e = 0;
      if (http::parse_etag(value.substr(i + 1, close - i - 1), e)) {
        if (weak) {
          list.weak[list.weak_count++] = e;
        } else {
          list.strong[list.strong_count++] = e;
        }
      }
      i = close + 1;
    }
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    if (i < value.size() && value[i] != ',') return std::nullopt;  // junk after a tag
    skip_separators();
  }
  return list;
}

}  // namespace hkv::app
