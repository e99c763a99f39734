// SPDX-License-Identifier: MIT
// Tests the target tools of src/http/router.h: percent_decode(), split_target(), query_param().
#include "http/router.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace hkv::http {
namespace {

using namespace std::string_literals;

// Expects `in` to decode to exactly `want`, replacing what the output string held before.
void expect_decodes(std::string_view in, std::string_view want) {
  std::string out = "stale";
  ASSERT_TRUE(percent_decode(in, out)) << in;
  EXPECT_EQ(out, want) << in;
}

// ---- percent_decode ----------------------------------------------------------------------------

TEST(PercentDecode, PlainBytesPassThrough) {
  std::string out = "stale";
  ASSERT_TRUE(percent_decode("hello-world_1.2~x", out));
  EXPECT_EQ(out, "hello-world_1.2~x");
}

TEST(PercentDecode, ClearsOutputFirst) {
  std::string out = "previous contents";
  ASSERT_TRUE(percent_decode("", out));
  EXPECT_EQ(out, "");
}

TEST(PercentDecode, DecodesEscapesInBothCases) {
  expect_decodes("a%20b", "a b");
  expect_decodes("%2f%2F%e2%82%AC", "//\xe2\x82\xac");
  expect_decodes("%41", "A");  // escape that ends the input
  expect_decodes("%ff%00x", "\xff\0x"s);
}

TEST(PercentDecode, EscapeCutByTheEndOfTheViewIsMalformed) {
  // The bytes after the view are hex digits; the decoder must not look past the view's end.
  const std::string backing = "ab%41%4";
  std::string out;
  EXPECT_FALSE(percent_decode(std::string_view(backing).substr(0, 4), out));  // "ab%4"
  EXPECT_FALSE(percent_decode(std::string_view(backing).substr(0, 3), out));  // "ab%"
  EXPECT_TRUE(percent_decode(std::string_view(backing).substr(0, 5), out));   // "ab%41"
  EXPECT_EQ(out, "abA");
}

TEST(PercentDecode, PlusStaysPlus) { expect_decodes("a+b%2B", "a+b+"); }

TEST(PercentDecode, DecodedPercentIsNotDecodedAgain) { expect_decodes("%2541", "%41"); }

TEST(PercentDecode, RejectsMalformedEscapes) {
  std::string out;
  for (std::string_view bad : {"%", "%4", "%zz", "%4g", "%g4", "a%", "a%2", "ab%%41", "%-1", "% 1"}) {
    EXPECT_FALSE(percent_decode(bad, out)) << "input: " << bad;
  }
}

// ---- split_target and query_param ---------------------------------------------------------------

TEST(SplitTarget, PathThenQueryUpToTheFragment) {
  auto check = [](std::string_view t, std::string_view path, std::string_view query) {
    const SplitTarget s = split_target(t);
    EXPECT_EQ(s.path, path) << t;
    EXPECT_EQ(s.query, query) << t;
  };
  check("/get/k", "/get/k", "");
  check("/get/k?ttl=5", "/get/k", "ttl=5");
  check("/get/k?a=1#frag", "/get/k", "a=1");
  check("/get/k#a?b", "/get/k", "");
  check("/get/k?", "/get/k", "");
  check("", "", "");
}

TEST(QueryParam, FindsTheFirstOfAName) {
  EXPECT_EQ(query_param("a=1&ttl=60&ttl=5", "ttl"), "60");
  EXPECT_EQ(query_param("ttl", "ttl"), "");
  EXPECT_EQ(query_param("xttl=1&ttlx=2", "ttl"), std::nullopt);
  EXPECT_EQ(query_param("", "ttl"), std::nullopt);
}

}  // namespace
}  // namespace hkv::http
