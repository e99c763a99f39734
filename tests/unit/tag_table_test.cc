// SPDX-License-Identifier: MIT
// TagTable on its own, with hashes chosen by the test: full-hash and tag collisions, tombstones
// reused, resizes, and a table that churns without growing.
#include "store/tag_table.h"

#include <gtest/gtest.h>
#include <urcu-qsbr.h>

#include <string>
#include <vector>

#include "store/store.h"

namespace hkv {
namespace {

class TagTableTest : public ::testing::Test {
 protected:
  void SetUp() override { rcu_register_thread(); }
  void TearDown() override {
    table_.reset();
    rcu_barrier();  // old slot arrays go through call_rcu
    for (Value* v : owned_) v->release();
    rcu_unregister_thread();
  }
  Value* make(const std::string& key) {
    Value* v = Value::make(key, key, ValueMeta{}, 16).detach();
    owned_.push_back(v);
    return v;
  }
  std::unique_ptr<TagTable> table_ = std::make_unique<TagTable>(0);
  std::vector<Value*> owned_;
};

TEST_F(TagTableTest, SameHashDifferentKeysAreToldApart) {
  constexpr std::size_t kHash = 0x0123456789abcdefull;  // every key below collides completely
  std::vector<Value*> vs;
  for (int i = 0; i < 12; ++i) vs.push_back(make("k" + std::to_string(i)));
  for (Value* v : vs) EXPECT_EQ(table_->put(kHash, v), nullptr);
  for (Value* v : vs) EXPECT_EQ(table_->find(kHash, v->key()), v);
  EXPECT_EQ(table_->find(kHash, "absent"), nullptr);
  table_->remove(kHash, vs[3]);
  EXPECT_EQ(table_->find(kHash, "k3"), nullptr);
  for (int i = 4; i < 12; ++i) EXPECT_EQ(table_->find(kHash, vs[i]->key()), vs[i]) << "probe stopped at a tombstone";
  Value* again = make("k3");
  EXPECT_EQ(table_->put(kHash, again), nullptr);
  EXPECT_EQ(table_->find(kHash, "k3"), again);
  EXPECT_EQ(table_->size(), 12u);
}

TEST_F(TagTableTest, PutReplacesInPlaceAndReturnsTheOldValue) {
  const std::size_t h = hash_key("key");
  Value* a = make("key");
  Value* b = make("key");
  EXPECT_EQ(table_->put(h, a), nullptr);
  EXPECT_EQ(table_->put(h, b), a);
  EXPECT_EQ(table_->find(h, "key"), b);
  EXPECT_EQ(table_->size(), 1u);
}

TEST_F(TagTableTest, GrowsAndKeepsEveryKey) {
  std::vector<Value*> vs;
  for (int i = 0; i < 20000; ++i) {
    vs.push_back(make("key" + std::to_string(i)));
    ASSERT_EQ(table_->put(hash_key(vs.back()->key()), vs.back()), nullptr);
  }
  EXPECT_EQ(table_->size(), vs.size());
  EXPECT_GE(table_->capacity() * 3, vs.size() * 4) << "at most 75% full";
  for (Value* v : vs) ASSERT_EQ(table_->find(hash_key(v->key()), v->key()), v);
  EXPECT_EQ(table_->values().size(), vs.size());
}

TEST_F(TagTableTest, ChurnReusesTombstonesInsteadOfGrowing) {
  std::vector<Value*> live;
  for (int i = 0; i < 1000; ++i) {
    live.push_back(make("live" + std::to_string(i)));
    table_->put(hash_key(live.back()->key()), live.back());
  }
  const std::size_t capacity = table_->capacity();
  for (int i = 0; i < 100000; ++i) {
    Value* v = make("churn" + std::to_string(i));
    const std::size_t h = hash_key(v->key());
    ASSERT_EQ(table_->put(h, v), nullptr);
    table_->remove(h, v);
  }
  EXPECT_LE(table_->capacity(), capacity * 2) << "100,000 inserts and deletes of 1 live key at a time";
  for (Value* v : live) ASSERT_EQ(table_->find(hash_key(v->key()), v->key()), v);
  EXPECT_EQ(table_->size(), live.size());
}

}  // namespace
}  // namespace hkv
