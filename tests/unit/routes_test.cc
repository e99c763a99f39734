// SPDX-License-Identifier: MIT
// Tests the route table (src/app/routes.h): matching targets to rows, keys and their errors, and
// the Allow header and method sets that come from the rows.
#include "app/routes.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "app/handlers.h"

namespace hkv::app {
namespace {

using http::Method;
using namespace std::string_literals;

// Matches a copy of `target` with a fresh buffer; keeps both alive next to the result, since the
// key may point into either.
struct Routed {
  std::string target;
  std::string buffer;
  RouteMatch r;
};

Routed route_of(std::string_view target) {
  Routed out;
  out.target = target;
  out.r = match_route(out.target, out.buffer);
  return out;
}

std::string_view label(const RouteMatch& m) { return route_label(m.index()); }

// Expects `target` to match the route labelled `want` with the valid (decoded) key `key`.
void expect_key(std::string_view target, std::string_view want, std::string_view key) {
  auto [routed_target, buf, r] = route_of(target);
  EXPECT_EQ(label(r), want) << target;
  EXPECT_EQ(r.key_error, KeyError::none) << target;
  EXPECT_EQ(r.key, key) << target;
}

std::string repeat(std::string_view piece, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.append(piece);
  return s;
}

// ---- match_route: the fixed paths ---------------------------------------------------------------------

TEST(Route, Root) {
  auto [routed_target, buf, r] = route_of("/");
  EXPECT_EQ(label(r), "root");
  EXPECT_EQ(r.key_error, KeyError::none);
  EXPECT_TRUE(r.key.empty());
}

TEST(Route, RootIgnoresQueryAndFragment) {
  EXPECT_EQ(label(route_of("/?x=1").r), "root");
  EXPECT_EQ(label(route_of("/#top").r), "root");
}

TEST(Route, GetKey) { expect_key("/get/k", "get", "k"); }

TEST(Route, StoreKey) { expect_key("/store/some-key", "store", "some-key"); }

TEST(Route, KeyPointsIntoCallerBuffer) {
  std::string buffer;
  RouteMatch r = match_route("/get/abc%21", buffer);
  ASSERT_EQ(r.key_error, KeyError::none);
  EXPECT_EQ(r.key, "abc!");
  EXPECT_EQ(r.key.data(), buffer.data());
  EXPECT_EQ(r.key.size(), buffer.size());
}

TEST(Route, QueryStringIsIgnored) {
  for (std::string_view t : {"/get/k?x=1", "/get/k?", "/get/k?a/b=%zz", "/get/k#frag", "/get/k#a?b"}) {
    expect_key(t, "get", "k");
  }
  auto [routed_target, buf, r] = route_of("/store/k?ttl=5");
  EXPECT_EQ(label(r), "store");
  EXPECT_EQ(r.key, "k");
}

TEST(Route, KeyIsPercentDecoded) {
  expect_key("/get/a%20b", "get", "a b");
  auto s = route_of("/store/a+b");
  EXPECT_EQ(s.r.key, "a+b");
}

TEST(Route, EncodedNulIsAOneByteKey) {
  auto [routed_target, buf, r] = route_of("/get/%00");
  EXPECT_EQ(r.key_error, KeyError::none);
  EXPECT_EQ(r.key, "\0"s);
}

TEST(Route, EncodedSlashStaysInsideTheKey) { expect_key("/get/a%2Fb", "get", "a/b"); }

// ---- match_route: key errors --------------------------------------------------------------------------

TEST(Route, BadEncoding) {
  for (std::string_view t : {"/get/%", "/get/%4", "/get/%zz", "/get/ok%", "/store/%", "/store/x%4"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_NE(label(r), "none") << t;
    EXPECT_EQ(r.key_error, KeyError::bad_encoding) << t;
    EXPECT_TRUE(r.key.empty()) << t;
  }
  EXPECT_EQ(label(route_of("/get/%").r), "get");
  EXPECT_EQ(label(route_of("/store/%zz").r), "store");
}

TEST(Route, EmptyKey) {
  for (std::string_view t : {"/get/", "/get/?x=1", "/get/#f"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_EQ(label(r), "get") << t;
    EXPECT_EQ(r.key_error, KeyError::empty) << t;
    EXPECT_TRUE(r.key.empty()) << t;
  }
  auto [routed_target, buf, r] = route_of("/store/");
  EXPECT_EQ(label(r), "store");
  EXPECT_EQ(r.key_error, KeyError::empty);
}

TEST(Route, KeyLengthLimitRaw) {
  ASSERT_EQ(kMaxKeyBytes, 250u);
  std::string ok(250, 'k');
  auto a = route_of("/get/" + ok);
  EXPECT_EQ(a.r.key_error, KeyError::none);
  EXPECT_EQ(a.r.key, ok);

  auto b = route_of("/get/" + std::string(251, 'k'));
  EXPECT_EQ(label(b.r), "get");
  EXPECT_EQ(b.r.key_error, KeyError::too_long);
  EXPECT_TRUE(b.r.key.empty());

  auto c = route_of("/store/" + std::string(251, 'k'));
  EXPECT_EQ(label(c.r), "store");
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

// ---- match_route: not found ---------------------------------------------------------------------------

TEST(Route, KeyWithSlashIsNotFound) {
  for (std::string_view t : {"/get/a/b", "/get/k/", "/store/a/b", "/get//", "/store//x"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_EQ(label(r), "none") << t;
  }
}

TEST(Route, UnknownPathsAreNotFound) {
  for (std::string_view t : {"", "//", "/get", "/store", "/GET/k", "/gets/k", "/getk", "/x/get/k",
                             "get/k", "/index.html", "/get?/k", "*"}) {
    auto [routed_target, buf, r] = route_of(t);
    EXPECT_EQ(label(r), "none") << "target: '" << t << "'";
    EXPECT_EQ(r.key_error, KeyError::none) << t;
    EXPECT_TRUE(r.key.empty()) << t;
  }
}

TEST(Route, BufferReuseDoesNotLeakPreviousKey) {
  std::string buffer;
  RouteMatch a = match_route("/get/first-key", buffer);
  EXPECT_EQ(a.key, "first-key");
  RouteMatch b = match_route("/get/xy", buffer);
  EXPECT_EQ(b.key, "xy");
}

// ---- the table ---------------------------------------------------------------------------------

const Route& row(std::string_view want) {
  for (const Route& r : routes()) {
    if (r.label == want) return r;
  }
  ADD_FAILURE() << "no route labelled " << want;
  return routes()[0];
}

TEST(RouteTable, AllowHeaderComesFromTheMethods) {
  EXPECT_EQ(allowed_methods(row("root")), "GET, HEAD");
  EXPECT_EQ(allowed_methods(row("get")), "GET, HEAD");
  EXPECT_EQ(allowed_methods(row("store")), "POST, PUT, DELETE");
  EXPECT_EQ(allowed_methods(row("metrics")), "GET, HEAD");
}

TEST(RouteTable, MethodSets) {
  const Method all[] = {Method::get, Method::head, Method::post, Method::put, Method::del, Method::other};
  for (Method m : all) {
    const bool read = m == Method::get || m == Method::head;
    const bool write = m == Method::post || m == Method::put || m == Method::del;
    EXPECT_EQ((row("root").methods & method_bit(m)) != 0, read) << static_cast<int>(m);
    EXPECT_EQ((row("get").methods & method_bit(m)) != 0, read) << static_cast<int>(m);
    EXPECT_EQ((row("store").methods & method_bit(m)) != 0, write) << static_cast<int>(m);
  }
}

TEST(RouteTable, EveryRowMatchesItsOwnPathAndHasItsOwnLabel) {
  for (std::size_t i = 0; i < kRouteCount; ++i) {
    const Route& r = routes()[i];
    const std::string target = std::string(r.path) + (r.takes_key ? "k" : "");
    EXPECT_EQ(route_of(target).r.index(), i) << target;
    EXPECT_EQ(route_label(i), r.label);
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(routes()[j].label, r.label);
  }
  EXPECT_EQ(route_label(kNoRoute), "none");
}

TEST(RouteTable, OnlyTheRootIsOpenWhenATokenIsSet) {
  EXPECT_EQ(row("root").access, Access::open);
  EXPECT_EQ(row("get").access, Access::read);
  for (std::string_view l : {"store", "metrics", "stats", "keys"}) EXPECT_EQ(row(l).access, Access::restricted) << l;
}

}  // namespace
}  // namespace hkv::app
