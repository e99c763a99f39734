// SPDX-License-Identifier: MIT
// SievePool: insertion order, unlinking, SIEVE's eviction hand (visited values spared and
// cleared, expired ones taken, the value just written never, the hand kept between calls) and the
// background-expiry cursor.
#include "store/sieve.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hkv {
namespace {

// "k" + std::to_string(i) without GCC 12's -Wrestrict false positive on short literals.
std::string numbered(std::string_view prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

class SieveTest : public ::testing::Test {
 protected:
  // The pool does not own its values: every value made here is released in TearDown.
  void TearDown() override {
    for (Value* v : made_) v->release();
  }

  // A value with room for exactly a SieveHook in front of it, as the sharded store makes them.
  Value* make(const std::string& key, std::uint64_t expires_at_ms = 0) {
    ValueMeta meta;
    meta.expires_at_ms = expires_at_ms;
    Value* v = Value::make(key, "bytes of " + key, meta, sizeof(SieveHook)).detach();
    made_.push_back(v);
    return v;
  }
  Value* push(const std::string& key, std::uint64_t expires_at_ms = 0) {
    Value* v = make(key, expires_at_ms);
    pool_.push(v);
    return v;
  }
  // Keys from oldest to newest.
  std::vector<std::string> order() const {
    std::vector<std::string> keys;
    pool_.for_each([&](Value* v) { keys.emplace_back(v->key()); });
    return keys;
  }
  // What the store does with a victim: takes it out of the pool. Returns its key ("" for none).
  std::string evict(const Value* keep = nullptr, std::uint64_t now_ms = 0) {
    Value* v = pool_.pick_victim(keep, now_ms);
    if (v == nullptr) return "";
    pool_.unlink(v);
    return std::string(v->key());
  }

  SievePool pool_;
  std::vector<Value*> made_;
};

using Keys = std::vector<std::string>;

TEST_F(SieveTest, PushKeepsInsertionOrderAndUnlinkFromAnyPosition) {
  EXPECT_EQ(pool_.count(), 0u);
  EXPECT_EQ(order(), Keys{});
  Value* a = push("a");
  Value* b = push("b");
  Value* c = push("c");
  Value* d = push("d");
  EXPECT_EQ(pool_.count(), 4u);
  EXPECT_EQ(order(), (Keys{"a", "b", "c", "d"}));
  pool_.unlink(b);  // middle
  EXPECT_EQ(pool_.count(), 3u);
  EXPECT_EQ(order(), (Keys{"a", "c", "d"}));
  pool_.unlink(a);  // oldest
  EXPECT_EQ(order(), (Keys{"c", "d"}));
  pool_.unlink(d);  // newest
  EXPECT_EQ(order(), (Keys{"c"}));
  Value* e = push("e");
  EXPECT_EQ(order(), (Keys{"c", "e"}));
  pool_.unlink(c);
  pool_.unlink(e);
  EXPECT_EQ(pool_.count(), 0u);
  EXPECT_EQ(order(), Keys{});
  // An emptied pool works like a new one.
  pool_.push(b);
  EXPECT_EQ(order(), (Keys{"b"}));
  EXPECT_EQ(pool_.count(), 1u);
}

TEST_F(SieveTest, EmptyPoolHasNoVictim) {
  EXPECT_EQ(pool_.pick_victim(nullptr, 0), nullptr);
}

TEST_F(SieveTest, EvictsOldestUnvisitedFirst) {
  push("a");
  push("b");
  push("c");
  EXPECT_EQ(evict(), "a");
  EXPECT_EQ(evict(), "b");
  EXPECT_EQ(evict(), "c");
  EXPECT_EQ(evict(), "");
  EXPECT_EQ(pool_.count(), 0u);
}

TEST_F(SieveTest, VisitedValuesAreSparedAndCleared) {
  Value* a = push("a");
  Value* b = push("b");
  push("c");
  Value* d = push("d");
  a->mark_visited();
  b->mark_visited();
  d->mark_visited();
  EXPECT_EQ(evict(), "c");
  EXPECT_FALSE(a->visited()) << "the hand passed a: its bit must be cleared";
  EXPECT_FALSE(b->visited()) << "the hand passed b: its bit must be cleared";
  EXPECT_TRUE(d->visited()) << "the hand stopped at c and never reached d";
  EXPECT_EQ(order(), (Keys{"a", "b", "d"}));
}

TEST_F(SieveTest, AllVisitedEvictsAfterOneClearingPass) {
  Value* a = push("a");
  Value* b = push("b");
  Value* c = push("c");
  for (Value* v : {a, b, c}) v->mark_visited();
  // First pass clears every bit, the second finds a (the oldest) unvisited.
  EXPECT_EQ(evict(), "a");
  EXPECT_FALSE(b->visited());
  EXPECT_FALSE(c->visited());
}

TEST_F(SieveTest, NeverReturnsKeep) {
  Value* a = push("a");
  push("b");
  EXPECT_EQ(evict(a), "b");  // a is the oldest and unvisited, but it is the one just written
  EXPECT_EQ(evict(a), "");   // only a is left
  EXPECT_EQ(pool_.count(), 1u);
  EXPECT_EQ(order(), (Keys{"a"}));
}

TEST_F(SieveTest, NullWhenOnlyKeepIsLeftEvenIfKeepIsExpiredOrVisited) {
  Value* a = push("a", /*expires_at_ms=*/100);
  EXPECT_EQ(pool_.pick_victim(a, 1000), nullptr);
  a->mark_visited();
  EXPECT_EQ(pool_.pick_victim(a, 1000), nullptr);
  EXPECT_EQ(pool_.count(), 1u);
}

TEST_F(SieveTest, ExpiredValuesAreTakenEvenWhenVisited) {
  Value* a = push("a");
  Value* b = push("b", /*expires_at_ms=*/500);
  Value* c = push("c");
  for (Value* v : {a, b, c}) v->mark_visited();
  // Before b's expiry: a full clearing pass, then a.
  Value* victim = pool_.pick_victim(nullptr, 499);
  EXPECT_EQ(victim, a);
  // Start afresh: every value visited again, now past b's expiry (now == expires_at counts).
  for (Value* v : {a, b, c}) v->mark_visited();
  pool_.unlink(a);
  victim = pool_.pick_victim(nullptr, 500);
  EXPECT_EQ(victim, b);
  EXPECT_TRUE(c->visited()) << "b was found before the hand reached c";
}

TEST_F(SieveTest, ExpiredKeepIsStillNotTaken) {
  Value* a = push("a", /*expires_at_ms=*/10);
  Value* b = push("b");
  b->mark_visited();
  // a is expired but is `keep`; b is spared once, then taken.
  EXPECT_EQ(pool_.pick_victim(a, 1000), b);
}

// SIEVE keeps the hand where it stopped: the next eviction continues from the value after the
// last victim instead of starting again at the oldest.
TEST_F(SieveTest, HandPositionPersistsBetweenCalls) {
  Value* a = push("a");
  push("b");
  push("c");
  a->mark_visited();
  EXPECT_EQ(evict(), "b");  // a spared (and cleared), the hand now rests on c
  EXPECT_FALSE(a->visited());
  // a is unvisited now, but the hand is past it: c goes first.
  EXPECT_EQ(evict(), "c");
  // The hand ran off the new end: it wraps around to the oldest.
  EXPECT_EQ(evict(), "a");
}

TEST_F(SieveTest, HandSeesValuesPushedAfterItAndWraps) {
  Value* a = push("a");
  push("b");
  Value* c = push("c");
  a->mark_visited();
  c->mark_visited();
  EXPECT_EQ(evict(), "b");  // hand on c
  push("d");                // newer than the hand: reached before the wrap
  EXPECT_EQ(evict(), "d");  // c spared and cleared on the way
  EXPECT_FALSE(c->visited());
  EXPECT_EQ(evict(), "a");  // wrapped: a was cleared by the first sweep
  EXPECT_EQ(evict(), "c");
}

TEST_F(SieveTest, UnlinkingTheValueUnderTheHandMovesTheHandOn) {
  Value* a = push("a");
  push("b");
  Value* c = push("c");
  push("d");
  a->mark_visited();
  EXPECT_EQ(evict(), "b");  // hand on c
  pool_.unlink(c);          // c deleted by a client, not evicted
  // The hand continues at d (a, unvisited now, is behind it).
  EXPECT_EQ(evict(), "d");
  EXPECT_EQ(evict(), "a");
}

TEST_F(SieveTest, SweepVisitsAtMostMaxAndResumes) {
  // Ten values; v1, v4, v5 and v8 expire at 100.
  std::vector<Value*> v;
  for (int i = 0; i < 10; ++i) {
    bool expiring = i == 1 || i == 4 || i == 5 || i == 8;
    v.push_back(push(numbered("v", i), expiring ? 100 : 0));
  }
  Keys removed;
  auto on_expired = [&](Value* x) {
    removed.emplace_back(x->key());
    pool_.unlink(x);
  };
  // Before the expiry nothing is removed, but the cursor still advances.
  EXPECT_EQ(pool_.sweep_expired(3, 99, on_expired), 3u);
  EXPECT_EQ(removed, Keys{});
  // Resumes at v3: visits v3, v4, v5 and removes v4 and v5; v1 was already passed.
  EXPECT_EQ(pool_.sweep_expired(3, 100, on_expired), 3u);
  EXPECT_EQ(removed, (Keys{"v4", "v5"}));
  EXPECT_EQ(pool_.count(), 8u);
  // v6 .. v9: four values left before the end, so only four visits.
  EXPECT_EQ(pool_.sweep_expired(100, 100, on_expired), 4u);
  EXPECT_EQ(removed, (Keys{"v4", "v5", "v8"}));
  // The next sweep starts again at the oldest and finds v1.
  EXPECT_EQ(pool_.sweep_expired(2, 100, on_expired), 2u);
  EXPECT_EQ(removed, (Keys{"v4", "v5", "v8", "v1"}));
  EXPECT_EQ(order(), (Keys{"v0", "v2", "v3", "v6", "v7", "v9"}));
  EXPECT_EQ(pool_.count(), 6u);
}

TEST_F(SieveTest, SweepWithZeroBudgetVisitsNothing) {
  push("x", 1);
  int calls = 0;
  EXPECT_EQ(pool_.sweep_expired(0, 1000, [&](Value*) { ++calls; }), 0u);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(pool_.count(), 1u);
}

TEST_F(SieveTest, SweepCursorSurvivesUnlinkOfItsValue) {
  std::vector<Value*> v;
  for (int i = 0; i < 6; ++i) v.push_back(push(numbered("v", i), 50));
  Keys seen;
  auto note = [&](Value* x) {
    seen.emplace_back(x->key());
    pool_.unlink(x);
  };
  EXPECT_EQ(pool_.sweep_expired(2, 10, note), 2u);  // not yet expired: cursor on v2
  pool_.unlink(v[2]);                                // removed by a reader or a client
  EXPECT_EQ(pool_.sweep_expired(2, 60, note), 2u);
  EXPECT_EQ(seen, (Keys{"v3", "v4"}));
}

TEST_F(SieveTest, SweepAndHandAreIndependent) {
  Value* a = push("a", 100);
  push("b");
  push("c");
  a->mark_visited();
  EXPECT_EQ(evict(nullptr, 0), "b");  // the hand rests on c
  Keys seen;
  // The sweep cursor starts at the oldest regardless of the hand.
  pool_.sweep_expired(1, 200, [&](Value* x) {
    seen.emplace_back(x->key());
    pool_.unlink(x);
  });
  EXPECT_EQ(seen, Keys{"a"});
  EXPECT_EQ(evict(nullptr, 0), "c");
}

}  // namespace
}  // namespace hkv
