// SPDX-License-Identifier: MIT
// Tests hkv::http::RequestBody: a body read into memory the handler provided, or into its own
// buffer; what happens when more arrives than was announced; and when the provided memory goes.
#include "http/request_body.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace hkv::http {
namespace {

// Memory a handler provides, counting its releases.
struct Provided {
  std::string bytes;
  int releases = 0;
  explicit Provided(std::size_t n) : bytes(n, '\0') {}
  BodyBuffer buffer() {
    return BodyBuffer{bytes.data(), bytes.size(), this, [](void* p) { ++static_cast<Provided*>(p)->releases; }};
  }
};

// Hands `mem` to `body` and reads the first bytes of a body into it.
void read_into(RequestBody& body, Provided& mem, std::string_view first) {
  body.provide(mem.buffer());
  body.append(first.data(), first.size());
}

TEST(RequestBody, WithoutProvidedMemoryItKeepsItsOwnBuffer) {
  RequestBody body;
  body.reserve(10);
  body.append("hello ", 6);
  body.append("world", 5);
  EXPECT_EQ(body.view(), "hello world");
  EXPECT_EQ(body.size(), 11u);
  EXPECT_EQ(body.filled_owner(), nullptr);
}

TEST(RequestBody, ProvidedMemoryIsWrittenInPlaceAndReleasedOnce) {
  Provided mem(11);
  {
    RequestBody body;
    read_into(body, mem, "hello ");
    EXPECT_EQ(body.filled_owner(), nullptr) << "not filled yet";
    body.append("world", 5);
    EXPECT_EQ(mem.bytes, "hello world");
    EXPECT_EQ(body.view().data(), mem.bytes.data());
    EXPECT_EQ(body.filled_owner(), &mem);
    EXPECT_EQ(mem.releases, 0);
  }
  EXPECT_EQ(mem.releases, 1);
}

TEST(RequestBody, MoreThanAnnouncedLeavesTheProvidedMemory) {
  Provided mem(4);
  RequestBody body;
  read_into(body, mem, "abc");
  body.append("de", 2);  // past the 4 bytes announced
  EXPECT_EQ(body.view(), "abcde");
  EXPECT_NE(body.view().data(), mem.bytes.data());
  EXPECT_EQ(body.filled_owner(), nullptr);
  EXPECT_EQ(mem.releases, 1);
}

TEST(RequestBody, ResetReleasesAndTheNextRequestStartsEmpty) {
  Provided mem(3);
  RequestBody body;
  read_into(body, mem, "abc");
  body.reset();
  EXPECT_EQ(mem.releases, 1);
  EXPECT_EQ(body.size(), 0u);
  body.append("x", 1);
  EXPECT_EQ(body.view(), "x");
  EXPECT_EQ(mem.releases, 1);
}

TEST(RequestBody, MovingHandsTheProvidedMemoryOver) {
  Provided mem(2);
  RequestBody a;
  read_into(a, mem, "hi");
  RequestBody b(std::move(a));
  EXPECT_EQ(b.filled_owner(), &mem);
  EXPECT_EQ(b.view(), "hi");
  a.reset();
  EXPECT_EQ(mem.releases, 0) << "the moved-from body no longer owns it";
  b.reset();
  EXPECT_EQ(mem.releases, 1);
}

TEST(RequestBody, EmptyProvidedBufferIsIgnored) {
  RequestBody body;
  body.provide(BodyBuffer{});
  body.append("abc", 3);
  EXPECT_EQ(body.view(), "abc");
}

}  // namespace
}  // namespace hkv::http
