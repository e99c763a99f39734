// SPDX-License-Identifier: MIT
// Tests hkv::http::route(), percent_decode() and the per-route method table (src/http/router.h).
#include "http/router.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace hkv::http {
namespace {

using namespace std::string_literals;

// Routes a copy of `target` with a fresh buffer; keeps both alive next to the result, since the
// key may point into either.
struct Routed {
  std::string target;
  std::string buffer;
  Route r;
};

Routed route_of(std::string_view target) {
  Routed out;
  out.target = target;
  out.r = route(out.target, out.buffer);
  return out;
}

// Expects `in` to decode to exactly `want`, replacing what the output string held before.
void expect_decodes(std::string_view in, std::string_view want) {
  std::string out = "stale";
  ASSERT_TRUE(percent_decode(in, out)) << in;
  EXPECT_EQ(out, want) << in;
}

// Expects `target` to route to `kind` with the valid (decoded) key `key`.
void expect_key(std::string_view target, RouteKind kind, std::string_view key) {
  auto [routed_target, buf, r] = route_of(target);
  EXPECT_EQ(r.kind, kind) << target;
  EXPECT_EQ(r.key_error, KeyError::none) << target;
  EXPECT_EQ(r.key, key) << target;
}

std::string repeat(std::string_view piece, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.append(piece);
  return s;
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

// ---- route: the fixed paths ---------------------------------------------------------------------

TEST(Route, Root) {
  auto [routed_target, buf, r] = route_of("/");
  EXPECT_EQ(r.kind, RouteKind::root);
  EXPECT_EQ(r.key_error, KeyError::none);
  EXPECT_TRUE(r.key.empty());
}

TEST(Route, RootIgnoresQueryAndFragment) {
  EXPECT_EQ(route_of("/?x=1").r.kind, RouteKind::root);
  EXPECT_EQ(route_of("/#top").r.kind, RouteKind::root);
}

TEST(Route, GetKey) { expect_key("/get/k", RouteKind::get_value, "k"); }

TEST(Route, StoreKey) { expect_key("/store/some-key", RouteKind::store_value, "some-key"); }

TEST(Route, KeyPointsIntoCallerBuffer) {
  std::string buffer;
  Route r = route("/get/abc%21", buffer);
  ASSERT_EQ(r.key_error, KeyError::none);
  EXPECT_EQ(r.key, "abc!");
  EXPECT_EQ(r.key.data(), buffer.data());
  EXPECT_EQ(r.key.size(), buffer.size());
}

TEST(Route, QueryStringIsIgnored) {
  for (std::string_view t : {"/get/k?x=1", "/get/k?", "/get/k?a/b=%zz", "/get/k#frag", "/get/k#a?b"}) {
    expect_key(t, RouteKind::get_value, "k");
  }
  auto [routed_target, buf, r] = route_of("/store/k?ttl=5");
  EXPECT_EQ(r.kind, RouteKind::store_value);
  EXPECT_EQ(r.key, "k");
}

TEST(Route, KeyIsPercentDecoded) {
  expect_key("/get/a%20b", RouteKind::get_value, "a b");
  auto s = route_of("/store/a+b");
  EXPECT_EQ(s.r.key, "a+b");
}

TEST(Route, EncodedNulIsAOneByteKey) {
  auto [routed_target, buf, r] = route_of("/get/%00");
  EXPECT_EQ(r.key_error, KeyError::none);
  EXPECT_EQ(r.key, "\0"s);
}

TEST(Route, EncodedSlashStaysInsideTheKey) { expect_key("/get/a%2Fb", RouteKind::get_value, "a/b"); }

// ---- route: key errors --------------------------------------------------------------------------

TEST(Route, BadEncoding) {
  for (std::string_view t : {"/get/%", "/get/%4", "/get/%zz", "/get/ok%", "/store/%", "/store/x%4"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_NE(r.kind, RouteKind::not_found) << t;
    EXPECT_EQ(r.key_error, KeyError::bad_encoding) << t;
    EXPECT_TRUE(r.key.empty()) << t;
  }
  EXPECT_EQ(route_of("/get/%").r.kind, RouteKind::get_value);
  EXPECT_EQ(route_of("/store/%zz").r.kind, RouteKind::store_value);
}

TEST(Route, EmptyKey) {
  for (std::string_view t : {"/get/", "/get/?x=1", "/get/#f"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_EQ(r.kind, RouteKind::get_value) << t;
    EXPECT_EQ(r.key_error, KeyError::empty) << t;
    EXPECT_TRUE(r.key.empty()) << t;
  }
  auto [routed_target, buf, r] = route_of("/store/");
  EXPECT_EQ(r.kind, RouteKind::store_value);
  EXPECT_EQ(r.key_error, KeyError::empty);
}

TEST(Route, KeyLengthLimitRaw) {
  ASSERT_EQ(kMaxKeyBytes, 250u);
  std::string ok(250, 'k');
  auto a = route_of("/get/" + ok);
  EXPECT_EQ(a.r.key_error, KeyError::none);
  EXPECT_EQ(a.r.key, ok);

  auto b = route_of("/get/" + std::string(251, 'k'));
  EXPECT_EQ(b.r.kind, RouteKind::get_value);
  EXPECT_EQ(b.r.key_error, KeyError::too_long);
  EXPECT_TRUE(b.r.key.empty());

  auto c = route_of("/store/" + std::string(251, 'k'));
  EXPECT_EQ(c.r.kind, RouteKind::store_value);
  EXPECT_EQ(c.r.key_error, KeyError::too_long);
}

TEST(Route, KeyLengthIsCountedAfterDecoding) {
  // 250 escapes: 750 raw bytes but a 250-byte key.
  auto a = route_of("/get/" + repeat("%41", 250));
  EXPECT_EQ(a.r.key_error, KeyError::none);
  EXPECT_EQ(a.r.key, std::string(250, 'A'));

  auto b = route_of("/get/" + repeat("%41", 251));
  EXPECT_EQ(b.r.key_error, KeyError::too_long);

  // Mixed: 249 plain + one escape = 250 decoded bytes.
  auto c = route_of("/store/" + std::string(249, 'x') + "%20");
  ASSERT_EQ(c.r.key_error, KeyError::none);
  ASSERT_EQ(c.r.key.size(), 250u);
  EXPECT_EQ(c.r.key.back(), ' ');
}

// ---- route: not found ---------------------------------------------------------------------------

TEST(Route, KeyWithSlashIsNotFound) {
  for (std::string_view t : {"/get/a/b", "/get/k/", "/store/a/b", "/get//", "/store//x"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_EQ(r.kind, RouteKind::not_found) << t;
  }
}

TEST(Route, UnknownPathsAreNotFound) {
  for (std::string_view t : {"", "//", "/get", "/store", "/GET/k", "/gets/k", "/getk", "/x/get/k",
                             "get/k", "/index.html", "/get?/k", "*"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_EQ(r.kind, RouteKind::not_found) << "target: '" << t << "'";
    EXPECT_EQ(r.key_error, KeyError::none) << t;
    EXPECT_TRUE(r.key.empty()) << t;
  }
}

TEST(Route, BufferReuseDoesNotLeakPreviousKey) {
  std::string buffer;
  Route a = route("/get/first-key", buffer);
  EXPECT_EQ(a.key, "first-key");
  Route b = route("/get/xy", buffer);
  EXPECT_EQ(b.key, "xy");
}

// ---- methods ------------------------------------------------------------------------------------

TEST(Methods, AllowedMethodsHeader) {
  EXPECT_EQ(allowed_methods(RouteKind::root), "GET, HEAD");
  EXPECT_EQ(allowed_methods(RouteKind::get_value), "GET, HEAD");
  EXPECT_EQ(allowed_methods(RouteKind::store_value), "POST, PUT, DELETE");
  EXPECT_EQ(allowed_methods(RouteKind::not_found), "");
}

TEST(Methods, MethodAllowedMatchesTable) {
  const Method all[] = {Method::get, Method::head, Method::post, Method::put, Method::del, Method::other};
  auto allowed = [](RouteKind k, Method m) { return method_allowed(k, m); };
  for (Method m : all) {
    bool read = m == Method::get || m == Method::head;
    bool write = m == Method::post || m == Method::put || m == Method::del;
    EXPECT_EQ(allowed(RouteKind::root, m), read) << static_cast<int>(m);
    EXPECT_EQ(allowed(RouteKind::get_value, m), read) << static_cast<int>(m);
    EXPECT_EQ(allowed(RouteKind::store_value, m), write) << static_cast<int>(m);
    EXPECT_FALSE(allowed(RouteKind::not_found, m)) << static_cast<int>(m);
  }
}

}  // namespace
}  // namespace hkv::http
