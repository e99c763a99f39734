// SPDX-License-Identifier: MIT
// TTL parsing (?ttl= and Cache-Control: max-age), ETag formatting (http::format_etag) and
// If-Match / If-None-Match list parsing.
#include "app/cache_headers.h"

#include <gtest/gtest.h>

#include "http/request.h"  // http::format_etag

#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace hkv::app {
namespace {

using std::nullopt;

// The TTL a request asks for, or nullopt when the parse was an error (the message is checked too).
std::optional<std::uint64_t> ttl_ok(std::optional<std::string_view> query, std::optional<std::string_view> cc) {
  TtlParse p = parse_ttl(query, cc);
  EXPECT_EQ(p.error, nullptr) << "query=" << query.value_or("(none)") << " cc=" << cc.value_or("(none)");
  return p.seconds;
}

// Asserts the parse is an error with a non-empty message and no TTL.
void expect_ttl_error(std::optional<std::string_view> query, std::optional<std::string_view> cc) {
  TtlParse p = parse_ttl(query, cc);
  SCOPED_TRACE(testing::Message() << "query=" << query.value_or("(none)") << " cc=" << cc.value_or("(none)"));
  ASSERT_NE(p.error, nullptr);
  EXPECT_FALSE(std::string_view(p.error).empty());
  EXPECT_FALSE(p.seconds.has_value());
}

std::string etag_text(std::uint64_t e) {
  std::string out(http::kEtagChars, '?');
  http::format_etag(e, out.data());
  return out;
}

TEST(ParseTtl, NeitherGivenMeansNoTtl) {
  TtlParse p = parse_ttl(nullopt, nullopt);
  EXPECT_EQ(p.error, nullptr);
  EXPECT_FALSE(p.seconds.has_value());
}

TEST(ParseTtl, QueryValue) {
  EXPECT_EQ(ttl_ok("60", nullopt), 60u);
  EXPECT_EQ(ttl_ok("1", nullopt), 1u);
  EXPECT_EQ(ttl_ok("007", nullopt), 7u);
}

TEST(ParseTtl, ZeroMeansNeverExpiresAndIsNotAnError) {
  EXPECT_EQ(ttl_ok("0", nullopt), 0u);
  EXPECT_EQ(ttl_ok(nullopt, "max-age=0"), 0u);
}

TEST(ParseTtl, QueryWinsOverHeader) {
  EXPECT_EQ(ttl_ok("60", "max-age=10"), 60u);
  EXPECT_EQ(ttl_ok("0", "max-age=10"), 0u);
  // A bad query TTL is an error even when the header is fine, and a good one hides a bad header.
  expect_ttl_error("x", "max-age=10");
  EXPECT_EQ(ttl_ok("5", "max-age=oops"), 5u);
}

TEST(ParseTtl, MaxAgeAmongOtherDirectives) {
  EXPECT_EQ(ttl_ok(nullopt, "max-age=120"), 120u);
  EXPECT_EQ(ttl_ok(nullopt, "no-transform, max-age=120, must-revalidate"), 120u);
  EXPECT_EQ(ttl_ok(nullopt, "public,max-age=9"), 9u);
  EXPECT_EQ(ttl_ok(nullopt, "  max-age=15  "), 15u);
  // Directive names are case-insensitive (RFC 9111 5.2).
  EXPECT_EQ(ttl_ok(nullopt, "Max-Age=33"), 33u);
  // s-maxage is another directive, not max-age.
  EXPECT_EQ(ttl_ok(nullopt, "s-maxage=50, max-age=20"), 20u);
}

TEST(ParseTtl, CacheControlWithoutMaxAgeMeansNoTtl) {
  for (std::string_view cc : {"no-cache", "no-store, private", "s-maxage=50", "", "max-stale=5"}) {
    TtlParse p = parse_ttl(nullopt, cc);
    EXPECT_EQ(p.error, nullptr) << cc;
    EXPECT_FALSE(p.seconds.has_value()) << cc;
  }
}

TEST(ParseTtl, QuotedMaxAge) { EXPECT_EQ(ttl_ok(nullopt, "max-age=\"30\""), 30u); }

TEST(ParseTtl, MissingValue) {
  expect_ttl_error("", nullopt);  // ?ttl= or ?ttl
  expect_ttl_error(nullopt, "max-age");
  expect_ttl_error(nullopt, "max-age=");
  expect_ttl_error(nullopt, "no-cache, max-age");
  expect_ttl_error(nullopt, "max-age=\"\"");
}

TEST(ParseTtl, Negative) {
  expect_ttl_error("-1", nullopt);
  expect_ttl_error("-0", nullopt);
  expect_ttl_error(nullopt, "max-age=-5");
}

TEST(ParseTtl, NonDigits) {
  for (std::string_view bad : {"10s", "abc", "1.5", "+5", " 5", "5 ", "0x10", "1e3", "١٢"}) {
    expect_ttl_error(bad, nullopt);
  }
  expect_ttl_error(nullopt, "max-age=ten");
  expect_ttl_error(nullopt, "max-age=1.5");
  expect_ttl_error(nullopt, "max-age=60s");
}

TEST(ParseTtl, OverflowAndAboveMax) {
  EXPECT_EQ(kMaxTtlSeconds, 315360000u);
  EXPECT_EQ(ttl_ok("315360000", nullopt), 315360000u);
  EXPECT_EQ(ttl_ok(nullopt, "max-age=315360000"), 315360000u);
  expect_ttl_error("315360001", nullopt);
  expect_ttl_error(nullopt, "max-age=315360001");
  expect_ttl_error("999999999999", nullopt);
  expect_ttl_error("18446744073709551615", nullopt);  // UINT64_MAX
  expect_ttl_error("18446744073709551616", nullopt);  // one past it
  expect_ttl_error("99999999999999999999999999999", nullopt);
  expect_ttl_error(nullopt, "max-age=18446744073709551617");
}

TEST(FormatEtag, QuotedElevenBase64UrlCharacters) {
  EXPECT_EQ(etag_text(0), "\"AAAAAAAAAAA\"");
  EXPECT_EQ(etag_text(0x0123456789abcdefull), "\"ASNFZ4mrze8\"");
  EXPECT_EQ(etag_text(~0ull), "\"__________8\"");
  EXPECT_EQ(etag_text(0xa), "\"AAAAAAAAAAo\"");
}

TEST(EntityTags, NonCanonicalOrShortTagsAreForeign) {
  // The last character carries 4 bits: one with its low 2 bits set is not a tag hkv wrote.
  auto list = parse_entity_tags("\"AAAAAAAAAAB\", \"AAAAAAAAAA\", \"AAAAAAAAAA*A\", \"AAAAAAAAAAAA\"");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->strong_count, 0u);
}

TEST(EntityTags, FormatRoundTripsThroughParse) {
  for (std::uint64_t e : {0ull, 1ull, 0x8000000000000000ull, 0xdeadbeefcafef00dull, ~0ull}) {
    std::string text = etag_text(e);
    auto list = parse_entity_tags(text);
    ASSERT_TRUE(list) << text;
    EXPECT_FALSE(list->any);
    ASSERT_EQ(list->strong_count, 1u) << text;
    EXPECT_EQ(list->strong[0], e);
    EXPECT_EQ(list->weak_count, 0u);
    EXPECT_TRUE(list->matches_strong(e));
    EXPECT_TRUE(list->matches_weak(e));
    EXPECT_FALSE(list->matches_strong(e ^ 1));
    EXPECT_FALSE(list->matches_weak(e ^ 1));
  }
}

TEST(EntityTags, Star) {
  auto list = parse_entity_tags("*");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->any);
  EXPECT_TRUE(list->matches_strong(0));
  EXPECT_TRUE(list->matches_strong(12345));
  EXPECT_TRUE(list->matches_weak(12345));
  auto spaced = parse_entity_tags("  *  ");
  ASSERT_TRUE(spaced);
  EXPECT_TRUE(spaced->any);
}

TEST(EntityTags, ListWithSeveralTags) {
  const std::uint64_t a = 0x1111111111111111ull, b = 0x2222222222222222ull, c = 0x3333333333333333ull;
  auto list = parse_entity_tags(etag_text(a) + ", " + etag_text(b) + "  ,\t" + etag_text(c));
  ASSERT_TRUE(list);
  EXPECT_FALSE(list->any);
  EXPECT_EQ(list->strong_count, 3u);
  for (std::uint64_t e : {a, b, c}) EXPECT_TRUE(list->matches_strong(e));
  EXPECT_FALSE(list->matches_strong(0x4444444444444444ull));
  // Empty list elements are allowed (RFC 9110 5.6.1) and ignored.
  auto sparse = parse_entity_tags(", " + etag_text(a) + ",," + etag_text(b) + ",");
  ASSERT_TRUE(sparse);
  EXPECT_EQ(sparse->strong_count, 2u);
  EXPECT_TRUE(sparse->matches_strong(b));
}

TEST(EntityTags, WeakTagsMatchOnlyWeakly) {
  const std::uint64_t e = 0x00000000deadbeefull;
  auto list = parse_entity_tags("W/" + etag_text(e));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->strong_count, 0u);
  ASSERT_EQ(list->weak_count, 1u);
  EXPECT_EQ(list->weak[0], e);
  EXPECT_FALSE(list->matches_strong(e));  // If-Match uses the strong comparison
  EXPECT_TRUE(list->matches_weak(e));     // If-None-Match the weak one
  EXPECT_FALSE(list->matches_weak(e + 1));

  const std::uint64_t s = 0x5555555555555555ull;
  auto mixed = parse_entity_tags("W/" + etag_text(e) + ", " + etag_text(s) + ", *");
  ASSERT_TRUE(mixed);
  EXPECT_TRUE(mixed->any);
  EXPECT_EQ(mixed->strong_count, 1u);
  EXPECT_EQ(mixed->weak_count, 1u);
}

TEST(EntityTags, ForeignTagsAreKeptOutButAreNotErrors) {
  // Well-formed entity tags that hkv never issues: they can match nothing.
  for (std::string_view foreign : {"\"\"", "\"abc\"", "\"0123456789abcde\"", "\"0123456789abcdef0\"",
                                   "\"xyz456789abcdefg\"", "W/\"v1\"", "\"-123456789abcdef\""}) {
    auto list = parse_entity_tags(foreign);
    ASSERT_TRUE(list) << foreign;
    EXPECT_FALSE(list->any) << foreign;
    EXPECT_EQ(list->strong_count, 0u) << foreign;
    EXPECT_EQ(list->weak_count, 0u) << foreign;
    EXPECT_FALSE(list->matches_weak(0)) << foreign;
  }
  const std::uint64_t e = 0xabcdef0123456789ull;
  auto list = parse_entity_tags("\"foreign\", " + etag_text(e) + ", W/\"other\"");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->strong_count, 1u);
  EXPECT_TRUE(list->matches_strong(e));
}

TEST(EntityTags, Malformed) {
  for (std::string_view bad : {"abc", "0123456789abcdef", "\"abc", "abc\"", "\"", "W/", "W/abc", "w/\"abc\"",
                               "W/ \"abc\"", "**", "\"0123456789abcdef\", junk"}) {
    EXPECT_FALSE(parse_entity_tags(bad).has_value()) << bad;
  }
}

TEST(EntityTags, AtMostSixteenTags) {
  std::string list;
  for (int i = 0; i < 16; ++i) list += (i ? ", " : "") + etag_text(static_cast<std::uint64_t>(i) + 1);
  auto sixteen = parse_entity_tags(list);
  ASSERT_TRUE(sixteen);
  EXPECT_EQ(sixteen->strong_count, 16u);
  EXPECT_TRUE(sixteen->matches_strong(16));
  EXPECT_FALSE(parse_entity_tags(list + ", " + etag_text(17)).has_value());
  EXPECT_FALSE(parse_entity_tags(list + ", *").has_value());
  EXPECT_FALSE(parse_entity_tags(list + ", \"foreign\"").has_value());  // foreign tags count too
  // Weak tags fill their own slots: 16 weak ones are fine, and so is a list of 16 mixed.
  std::string weak;
  for (int i = 0; i < 16; ++i) weak += (i ? ", W/" : "W/") + etag_text(static_cast<std::uint64_t>(i) + 1);
  auto w = parse_entity_tags(weak);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->weak_count, 16u);
  EXPECT_FALSE(parse_entity_tags(weak + ", " + etag_text(99)).has_value());
}

// RFC 9110 8.8.3: a comma may appear inside an opaque-tag (etagc = %x21 / %x23-7E / obs-text), so
// `"a,b"` is one well-formed foreign tag, not two malformed halves.
TEST(EntityTags, CommaInsideAQuotedForeignTag) {
  const std::uint64_t e = 0x1234567890abcdefull;
  auto list = parse_entity_tags("\"a,b\", " + etag_text(e));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->strong_count, 1u);
  EXPECT_TRUE(list->matches_strong(e));
  auto weak = parse_entity_tags("W/\",\", W/" + etag_text(e) + ", \"x,,y\"");
  ASSERT_TRUE(weak);
  EXPECT_EQ(weak->strong_count, 0u);
  EXPECT_EQ(weak->weak_count, 1u);
  EXPECT_TRUE(weak->matches_weak(e));
  EXPECT_FALSE(parse_entity_tags("\"a,b").has_value()) << "unterminated";
}

// ---- freshness_of: what a cache in front of hkv computes ---------------------------------------

// For every store time (ms), TTL and moment of reading: the freshness a cache computes from the
// headers (RFC 9111 4.2.3: max-age minus Age) is what hkv has left, rounded up: never less, and
// less than a second more. Age is whole seconds since the store, and max-age the TTL to within a
// second.
TEST(Freshness, ACacheKeepsAValueAsLongAsHkvDoes) {
  for (std::uint64_t stored_ms : std::initializer_list<std::uint64_t>{1'700'000'000'000, 1'700'000'000'999, 1'700'000'000'500}) {
    for (std::uint64_t ttl_s : std::initializer_list<std::uint64_t>{1, 6, 300, kMaxTtlSeconds}) {
      const std::uint64_t expires = stored_ms + ttl_s * 1000;
      for (std::uint64_t elapsed_ms = 0; elapsed_ms < ttl_s * 1000; elapsed_ms += 1 + elapsed_ms / 3) {
        const std::uint64_t now = stored_ms + elapsed_ms;
        const Freshness f = freshness_of(expires, stored_ms / 1000, now);
        const std::int64_t left_ms = static_cast<std::int64_t>(expires - now);
        const std::int64_t cache_keeps_ms = (f.max_age - f.age) * 1000;
        ASSERT_GE(cache_keeps_ms, left_ms) << stored_ms << " +" << elapsed_ms << " ttl " << ttl_s;
        ASSERT_LT(cache_keeps_ms, left_ms + 1000) << stored_ms << " +" << elapsed_ms << " ttl " << ttl_s;
        ASSERT_LE(f.age * 1000, static_cast<std::int64_t>(elapsed_ms) + 1000);
        ASSERT_GE(f.age * 1000, static_cast<std::int64_t>(elapsed_ms) - 1000);
        ASSERT_LE(std::llabs(f.max_age - static_cast<std::int64_t>(ttl_s)), 1);
      }
    }
  }
}

TEST(Freshness, NoLifetimeMeansRevalidateEachTime) {
  const Freshness f = freshness_of(0, 1'700'000'000, 1'700'000'123'456);
  EXPECT_EQ(f.max_age, -1);
  EXPECT_EQ(f.age, -1);
}

TEST(Freshness, AClockThatStepsBackGivesAgeZero) {
  const Freshness f = freshness_of(1'700'000'010'000, 1'700'000'005, 1'700'000'004'000);
  EXPECT_EQ(f.age, 0);
  EXPECT_EQ(f.max_age, 6);
}

}  // namespace
}  // namespace hkv::app
