// SPDX-License-Identifier: MIT
// Tests both Store implementations (lock-free QSBR and sharded-mutex) single- and multi-threaded.
#include "store/store.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace hkv {
namespace {

using namespace std::string_literals;

WriteStatus put_in(Store& s, std::string_view key, std::string_view value) {
  return s.put(key, value, ValueMeta{}).status;
}
ValueRef get_in(Store& s, std::string_view key) { return s.get(key, 0).value; }
bool erase_in(Store& s, std::string_view key) { return s.erase(key, 0).status == WriteStatus::removed; }

std::optional<std::string> get_str(Store& s, std::string_view key) {
  ValueRef v = get_in(s, key);
  if (!v) return std::nullopt;
  return std::string(v->bytes());
}

class StoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    store_ = make_store(GetParam(), StoreOptions{16, 0});
    ASSERT_NE(store_, nullptr);
    store_->attach_thread();
  }
  void TearDown() override {
    store_->detach_thread();
    store_.reset();
  }
  WriteStatus put(std::string_view key, std::string_view value) {
    return put_in(*store_, key, value);
  }
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, GetMissingIsEmpty) {
  EXPECT_FALSE(get_in(*store_, "nope"));
  EXPECT_EQ(store_->size(), 0u);
}

TEST_P(StoreTest, PutCreatesThenReplaces) {
  EXPECT_EQ(put("k", "v1"), WriteStatus::created);
  EXPECT_EQ(get_str(*store_, "k"), "v1");
  EXPECT_EQ(put("k", "second"), WriteStatus::replaced);
  EXPECT_EQ(get_str(*store_, "k"), "second");
  EXPECT_EQ(store_->size(), 1u);
  EXPECT_FALSE(get_in(*store_, "K"));  // keys are case-sensitive
}

TEST_P(StoreTest, EraseReportsWhetherKeyExisted) {
  put("a", "1");
  put("b", "2");
  EXPECT_TRUE(erase_in(*store_, "a"));
  EXPECT_FALSE(get_in(*store_, "a"));
  EXPECT_FALSE(erase_in(*store_, "a"));
  EXPECT_FALSE(erase_in(*store_, "never-there"));
  EXPECT_EQ(get_str(*store_, "b"), "2");
  EXPECT_EQ(store_->size(), 1u);
  EXPECT_EQ(put("a", "again"), WriteStatus::created);
  EXPECT_EQ(get_str(*store_, "a"), "again");
}

TEST_P(StoreTest, BinaryValuesAndKeysWithNulBytes) {
  const std::string value = "\0a\0b\xff\0"s;
  put("bin", value);
  ValueRef v = get_in(*store_, "bin");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->size(), value.size());
  EXPECT_EQ(std::string(v->bytes()), value);

  EXPECT_EQ(put("k\0x"s, "x"), WriteStatus::created);
  EXPECT_EQ(put("k\0y"s, "y"), WriteStatus::created);
  EXPECT_EQ(put("k", "plain"), WriteStatus::created);
  EXPECT_EQ(get_str(*store_, "k\0x"s), "x");
  EXPECT_EQ(get_str(*store_, "k\0y"s), "y");
  EXPECT_EQ(get_str(*store_, "k"), "plain");
  EXPECT_EQ(store_->size(), 4u);
}

TEST_P(StoreTest, EmptyValueIsPresentNotMissing) {
  EXPECT_EQ(put("empty", ""), WriteStatus::created);
  ValueRef v = get_in(*store_, "empty");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->size(), 0u);
  EXPECT_TRUE(erase_in(*store_, "empty"));
  EXPECT_FALSE(get_in(*store_, "empty"));
}

TEST_P(StoreTest, GetsShareOneValueObject) {
  put("k", "shared bytes");
  ValueRef a = get_in(*store_, "k");
  ValueRef b = get_in(*store_, "k");
  ASSERT_TRUE(a);
  EXPECT_EQ(a.get(), b.get());  // no copy per reader
  EXPECT_EQ(a->key(), "k");
  EXPECT_EQ(a->bytes(), "shared bytes");
}

TEST_P(StoreTest, HeldValueOutlivesReplaceAndErase) {
  put("k", "original");
  ValueRef held = get_in(*store_, "k");
  ASSERT_TRUE(held);
  for (int i = 0; i < 1000; ++i) {
    put("k", "replacement " + std::to_string(i));
    if (i % 64 == 0) store_->quiescent();  // lets the lock-free store reclaim old entries
  }
  EXPECT_TRUE(erase_in(*store_, "k"));
  store_->quiescent();
  EXPECT_EQ(held->bytes(), "original");
}

TEST_P(StoreTest, SizeTracksManyKeysThroughGrowth) {
  constexpr int kKeys = 5000;  // far above the initial capacity of 16
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(put("key" + std::to_string(i), std::to_string(i)), WriteStatus::created);
  EXPECT_EQ(store_->size(), static_cast<std::size_t>(kKeys));
  for (int i = 0; i < kKeys; i += 2) ASSERT_TRUE(erase_in(*store_, "key" + std::to_string(i)));
  EXPECT_EQ(store_->size(), static_cast<std::size_t>(kKeys / 2));
  for (int i = 0; i < kKeys; ++i) {
    auto v = get_str(*store_, "key" + std::to_string(i));
    if (i % 2 == 0) {
      EXPECT_FALSE(v) << i;
    } else {
      EXPECT_EQ(v, std::to_string(i)) << i;
    }
  }
  const std::string long_key(250, 'L');
  put(long_key, "long");
  EXPECT_EQ(get_str(*store_, long_key), "long");
  EXPECT_FALSE(get_in(*store_, std::string(249, 'L')));
}

// Four threads hammer a small key set. Every value names its key, so a torn or misplaced value
// shows up as a wrong prefix. Per key, (puts that created) - (erases that removed) must equal
// whether the key is present afterwards.
TEST_P(StoreTest, ConcurrentHammerKeepsValuesIntact) {
  constexpr int kThreads = 4;
  constexpr int kOps = 200000;
  constexpr int kKeys = 16;
  auto key_name = [](int k) { return "key" + std::to_string(k); };

  put(key_name(0), key_name(0) + ":pinned");
  ValueRef pinned = get_in(*store_, key_name(0));  // held by this thread across the whole run
  ASSERT_TRUE(pinned);

  std::atomic<long> bad_values{0};
  std::atomic<long> changed_holds{0};
  std::atomic<long> hits{0};
  std::vector<std::array<long, kKeys>> created(kThreads), removed(kThreads);

  store_->thread_offline();  // this thread sleeps in join(); it must not hold up reclamation
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& s = *store_;
      s.attach_thread();
      std::mt19937 rng(1234u + static_cast<unsigned>(t));
      created[t].fill(0);
      removed[t].fill(0);
      ValueRef held;
      std::string held_copy;
      for (int i = 0; i < kOps; ++i) {
        int k = static_cast<int>(rng() % kKeys);
        std::string key = key_name(k);
        unsigned op = rng() % 16;
        if (op < 6) {
          std::string value = key + ":" + std::to_string(t) + ":" + std::to_string(i);
          if (put_in(s, key, value) == WriteStatus::created) ++created[t][k];
        } else if (op < 14) {
          ValueRef v = get_in(s, key);
          if (v) {
            hits.fetch_add(1, std::memory_order_relaxed);
            if (!v->bytes().starts_with(key + ":")) bad_values.fetch_add(1);
            if (!held && i % 97 == 0) {
              held = v;
              held_copy = std::string(v->bytes());
            }
          }
        } else {
          if (erase_in(s, key)) ++removed[t][k];
        }
        if (held && i % 1000 == 999) {
          if (held->bytes() != held_copy) changed_holds.fetch_add(1);
          held = ValueRef();
        }
        if (i % 64 == 63) s.quiescent();
      }
      held = ValueRef();
      s.detach_thread();
    });
  }
  for (auto& th : threads) th.join();
  store_->thread_online();

  EXPECT_EQ(bad_values.load(), 0);
  EXPECT_EQ(changed_holds.load(), 0);
  EXPECT_GT(hits.load(), 0);
  EXPECT_EQ(pinned->bytes(), key_name(0) + ":pinned");

  std::size_t present = 0;
  for (int k = 0; k < kKeys; ++k) {
    long balance = k == 0 ? 1 : 0;  // key0 was created before the threads started
    for (int t = 0; t < kThreads; ++t) balance += created[t][k] - removed[t][k];
    bool exists = static_cast<bool>(get_in(*store_, key_name(k)));
    present += exists;
    EXPECT_EQ(balance, exists ? 1 : 0) << key_name(k);
  }
  EXPECT_EQ(store_->size(), present);

  // Known final state, written single-threaded after the join.
  for (int k = 0; k < kKeys; ++k) put(key_name(k), key_name(k) + ":final");
  for (int k = 1; k < kKeys; k += 2) EXPECT_TRUE(erase_in(*store_, key_name(k)));
  for (int k = 0; k < kKeys; ++k) {
    auto v = get_str(*store_, key_name(k));
    if (k % 2 == 0) {
      EXPECT_EQ(v, key_name(k) + ":final");
    } else {
      EXPECT_FALSE(v) << key_name(k);
    }
  }
  EXPECT_EQ(store_->size(), static_cast<std::size_t>(kKeys / 2));
}

// A key that is known to exist (this thread put it, and the other thread only ever puts) must be
// removed by erase(), and erase() must say so, however often the other thread replaces it.
TEST_P(StoreTest, EraseRacingWithReplaceRemovesExistingKey) {
  constexpr int kRounds = 100000;
  const std::string key = "contended";
  std::atomic<bool> stop{false};
  std::atomic<long> rounds{0};
  std::thread replacer([&] {
    store_->attach_thread();
    for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      put_in(*store_, key, "theirs");
      if (i % 64 == 63) store_->quiescent();
      // Stay within a few puts of the other thread so the garbage to reclaim stays bounded.
      while (i > 4 * rounds.load(std::memory_order_relaxed) + 64 && !stop.load(std::memory_order_relaxed)) {
        std::this_thread::yield();
      }
    }
    store_->detach_thread();
  });
  long false_erases = 0;
  // At least kRounds, and at least ~1.5 s so that the two threads really overlap even when other
  // tests share the cores; stops early once the bug has shown.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  long i = 0;
  for (; false_erases == 0 && (i < kRounds || std::chrono::steady_clock::now() < deadline); ++i) {
    put_in(*store_, key, "mine");
    if (!erase_in(*store_, key)) ++false_erases;
    if (i % 64 == 63) store_->quiescent();
    rounds.store(i + 1, std::memory_order_relaxed);
  }
  stop = true;
  store_->thread_offline();
  replacer.join();
  store_->thread_online();
  EXPECT_EQ(false_erases, 0) << "erase() returned false for a key that existed (" << i << " rounds)";
}

INSTANTIATE_TEST_SUITE_P(Kinds, StoreTest, ::testing::Values(StoreKind::lockfree, StoreKind::sharded),
                         [](const ::testing::TestParamInfo<StoreKind>& p) {
                           return p.param == StoreKind::lockfree ? std::string("lockfree")
                                                                    : std::string("sharded");
                         });

}  // namespace
}  // namespace hkv
