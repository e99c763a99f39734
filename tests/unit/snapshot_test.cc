// SPDX-License-Identifier: MIT
// Snapshot files: round trip of keys, content types and expiry; truncation and corruption anywhere
// are detected before anything is loaded; expired keys are dropped.
#include "store/snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace hkv {
namespace {

constexpr std::uint64_t kNow = 1'800'000'000'000;  // ms since the epoch

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "hkv-snapshot-" + std::to_string(::getpid()) + ".bin";
    src_ = make_store(StoreKind::lockfree, StoreOptions{64, 0});
    dst_ = make_store(StoreKind::lockfree, StoreOptions{64, 0});
    src_->attach_thread();
  }
  void TearDown() override {
    src_->detach_thread();
    std::remove(path_.c_str());
  }
  void put(std::string_view key, std::string_view bytes, std::string_view type = {}, std::uint64_t expires = 0) {
    ASSERT_NE(src_->put(key, bytes, ValueMeta{type, kNow - 5000, expires}).status, WriteStatus::too_large);
  }
  std::string file_bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void write_file(const std::string& bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  std::string path_;
  std::unique_ptr<Store> src_, dst_;
};

TEST_F(SnapshotTest, RoundTripKeepsBytesTypesAndExpiry) {
  const std::string binary("\0\x01\xff tail", 8);
  put("plain", "hello");
  put("typed", "{\"a\":1}", "application/json");
  put("binary", binary);
  put("empty", "");
  put("ttl", "soon", "text/plain", kNow + 60'000);
  put(std::string(250, 'k'), std::string(100'000, 'v'));
  SnapshotCounts w = write_snapshot(*src_, path_, kNow);
  EXPECT_EQ(w.keys, 6u);

  SnapshotCounts r = load_snapshot(*dst_, path_, kNow);
  EXPECT_EQ(r.keys, 6u);
  EXPECT_EQ(r.expired, 0u);
  EXPECT_EQ(dst_->size(), 6u);
  for (const char* key : {"plain", "typed", "binary", "empty", "ttl"}) {
    ValueRef a = src_->get(key, kNow).value;
    ValueRef b = dst_->get(key, kNow).value;
    ASSERT_TRUE(a && b) << key;
    EXPECT_EQ(a->bytes(), b->bytes()) << key;
    EXPECT_EQ(a->content_type(), b->content_type()) << key;
    EXPECT_EQ(a->etag(), b->etag()) << key;
    EXPECT_EQ(a->expires_at_ms(), b->expires_at_ms()) << key;
    EXPECT_EQ(a->stored_at_s(), b->stored_at_s()) << key;
  }
  EXPECT_EQ(dst_->get(std::string(250, 'k'), kNow).value->size(), 100'000u);
}

TEST_F(SnapshotTest, ExpiredKeysAreNotWrittenNorLoaded) {
  put("gone", "x", {}, kNow - 1);
  put("later", "y", {}, kNow + 1000);
  put("forever", "z");
  SnapshotCounts w = write_snapshot(*src_, path_, kNow);
  EXPECT_EQ(w.keys, 2u);
  EXPECT_EQ(w.expired, 1u);
  // Loaded after "later" has expired too.
  SnapshotCounts r = load_snapshot(*dst_, path_, kNow + 2000);
  EXPECT_EQ(r.keys, 1u);
  EXPECT_EQ(r.expired, 1u);
  EXPECT_TRUE(dst_->get("forever", kNow + 2000).value);
  EXPECT_FALSE(dst_->get("later", kNow).value);
}

TEST_F(SnapshotTest, EveryTruncationIsDetectedAndLoadsNothing) {
  for (int i = 0; i < 20; ++i) put("key" + std::to_string(i), std::string(37, static_cast<char>('a' + i)));
  write_snapshot(*src_, path_, kNow);
  const std::string whole = file_bytes();
  ASSERT_GT(whole.size(), 100u);
  for (std::size_t len = 0; len < whole.size(); ++len) {
    write_file(whole.substr(0, len));
    EXPECT_THROW(load_snapshot(*dst_, path_, kNow), SnapshotError) << "length " << len;
  }
  EXPECT_EQ(dst_->size(), 0u);
  write_file(whole);
  EXPECT_EQ(load_snapshot(*dst_, path_, kNow).keys, 20u);
}

TEST_F(SnapshotTest, EveryFlippedByteIsDetected) {
  for (int i = 0; i < 5; ++i) put("k" + std::to_string(i), "value-" + std::to_string(i), "text/plain");
  write_snapshot(*src_, path_, kNow);
  const std::string whole = file_bytes();
  for (std::size_t at = 0; at < whole.size(); ++at) {
    std::string bad = whole;
    bad[at] = static_cast<char>(bad[at] ^ 0x20);
    write_file(bad);
    EXPECT_THROW(load_snapshot(*dst_, path_, kNow), SnapshotError) << "byte " << at;
  }
  EXPECT_EQ(dst_->size(), 0u);
}

TEST_F(SnapshotTest, TrailingGarbageAndWrongMagicAreRejected) {
  put("k", "v");
  write_snapshot(*src_, path_, kNow);
  const std::string whole = file_bytes();
  write_file(whole + "x");
  EXPECT_THROW(load_snapshot(*dst_, path_, kNow), SnapshotError);
  write_file("not a snapshot at all, just text");
  EXPECT_THROW(load_snapshot(*dst_, path_, kNow), SnapshotError);
}

TEST_F(SnapshotTest, MissingFileIsAnIoErrorNotCorruption) {
  EXPECT_THROW(load_snapshot(*dst_, path_ + ".absent", kNow), std::system_error);
}

TEST_F(SnapshotTest, FailedWriteLeavesThePreviousFile) {
  put("k", "v1");
  write_snapshot(*src_, path_, kNow);
  const std::string before = file_bytes();
  EXPECT_THROW(write_snapshot(*src_, "/nonexistent-dir/snap.bin", kNow), std::system_error);
  EXPECT_EQ(file_bytes(), before);
}

}  // namespace
}  // namespace hkv
