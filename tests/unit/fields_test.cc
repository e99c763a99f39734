// SPDX-License-Identifier: MIT
// Tests hkv::http::RequestFields: values added whole or in pieces, repeated fields joined with
// ", " (RFC 9110 5.3) whatever came between them, and the cap on repetitions.
#include "http/fields.h"

#include <gtest/gtest.h>

#include <string>

namespace hkv::http {
namespace {

TEST(RequestFields, AbsentUntilAdded) {
  RequestFields f;
  EXPECT_EQ(f.get(Field::content_type), std::nullopt);
  f.add(Field::content_type, "text/plain");
  EXPECT_EQ(f.get(Field::content_type), "text/plain");
  EXPECT_EQ(f.count(Field::content_type), 1u);
  EXPECT_EQ(f.get(Field::if_match), std::nullopt);
}

TEST(RequestFields, AValueInPiecesIsOneValue) {
  RequestFields f;
  f.open(Field::authorization);
  f.append("Bear");
  f.append("");
  f.append("er tok");
  f.append("en");
  EXPECT_EQ(f.get(Field::authorization), "Bearer token");
}

TEST(RequestFields, EmptyValueIsPresent) {
  RequestFields f;
  f.open(Field::if_none_match);
  EXPECT_EQ(f.get(Field::if_none_match), "");
}

TEST(RequestFields, RepeatedFieldsAreJoinedEvenWithOthersBetween) {
  RequestFields f;
  f.add(Field::if_match, "\"a\"");
  f.open(Field::cache_control);
  f.append("max-");
  f.append("age=5");
  f.open(Field::if_match);
  f.append("\"b\"");
  f.append(", \"c\"");
  f.add(Field::content_type, "x/y");
  EXPECT_EQ(f.get(Field::if_match), "\"a\", \"b\", \"c\"");
  EXPECT_EQ(f.count(Field::if_match), 2u);
  EXPECT_EQ(f.get(Field::cache_control), "max-age=5");
  EXPECT_EQ(f.get(Field::content_type), "x/y");
}

TEST(RequestFields, PastTheCapFurtherValuesAreDropped) {
  RequestFields f;
  for (int i = 0; i < 300; ++i) f.add(Field::if_match, "*");
  EXPECT_EQ(f.count(Field::if_match), 255u);
  f.open(Field::if_match);
  f.append("dropped");
  EXPECT_EQ(f.get(Field::if_match)->find("dropped"), std::string_view::npos);
}

TEST(RequestFields, ClearForgetsEverything) {
  RequestFields f;
  f.add(Field::content_type, "a/b");
  f.open(Field::if_match);
  f.clear();
  f.append("orphan");
  EXPECT_EQ(f.get(Field::content_type), std::nullopt);
  EXPECT_EQ(f.get(Field::if_match), std::nullopt);
}

}  // namespace
}  // namespace hkv::http
