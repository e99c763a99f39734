// SPDX-License-Identifier: MIT
// Tests both Store implementations (lock-free QSBR and sharded-mutex) single- and multi-threaded.
#include "store/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
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
  // Replaces the store with a new one made with `options` (same kind).
  void reopen(const StoreOptions& options) {
    store_->detach_thread();
    store_.reset();
    store_ = make_store(GetParam(), options);
    ASSERT_NE(store_, nullptr);
    store_->attach_thread();
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

// Readers look up 500 stable keys while two writers grow the table far past its initial size and
// then empty it again (resizes, tombstones, reuse of tombstones): a stable key is never missed,
// and every value found is the one written for its key.
TEST_P(StoreTest, ReadersNeverMissAStableKeyWhileTheTableGrowsAndShrinks) {
  constexpr int kStable = 500;
  constexpr int kChurnPerWriter = 20000;
  for (int k = 0; k < kStable; ++k) put("stable" + std::to_string(k), "stable" + std::to_string(k));
  std::atomic<bool> done{false};
  std::atomic<long> missed{0}, wrong{0}, reads{0};
  store_->thread_offline();
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      store_->attach_thread();
      for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < kChurnPerWriter; ++i) {
          std::string key = "churn" + std::to_string(w) + ":" + std::to_string(i);
          put_in(*store_, key, key);
          if (i % 64 == 63) store_->quiescent();
        }
        for (int i = 0; i < kChurnPerWriter; ++i) {
          erase_in(*store_, "churn" + std::to_string(w) + ":" + std::to_string(i));
          if (i % 64 == 63) store_->quiescent();
        }
      }
      store_->detach_thread();
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      store_->attach_thread();
      std::mt19937 rng(77u + static_cast<unsigned>(r));
      for (long i = 0; !done.load(std::memory_order_relaxed); ++i) {
        std::string key = "stable" + std::to_string(rng() % kStable);
        ValueRef v = get_in(*store_, key);
        if (!v) {
          missed.fetch_add(1);
        } else if (v->bytes() != key) {
          wrong.fetch_add(1);
        }
        reads.fetch_add(1, std::memory_order_relaxed);
        if (i % 64 == 63) store_->quiescent();
      }
      store_->detach_thread();
    });
  }
  threads[0].join();
  threads[1].join();
  done = true;
  threads[2].join();
  threads[3].join();
  store_->thread_online();
  EXPECT_EQ(missed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(reads.load(), 1000);
  EXPECT_EQ(store_->size(), static_cast<std::size_t>(kStable));
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

// ---- Expiry, conditional writes, ETags, content types, the memory cap (SIEVE) and iteration.

// "k" + std::to_string(i) without GCC 12's -Wrestrict false positive on short literals.
std::string numbered(std::string_view prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

ValueMeta meta_at(std::uint64_t now_ms, std::uint64_t expires_at_ms = 0, std::string_view type = {}) {
  ValueMeta m;
  m.content_type = type;
  m.stored_at_ms = now_ms;
  m.expires_at_ms = expires_at_ms;
  return m;
}

Precondition if_match(std::span<const std::uint64_t> etags) { return Precondition{false, etags}; }
const Precondition kIfMatchAny{true, {}};

TEST_P(StoreTest, ExpiredValueIsGoneOnRead) {
  ASSERT_EQ(store_->put("t", "short-lived", meta_at(1000, 2000)).status, WriteStatus::created);
  put("forever", "x");
  ReadResult before = store_->get("t", 1999);
  ASSERT_TRUE(before.value);
  EXPECT_FALSE(before.expired);
  EXPECT_EQ(before.value->bytes(), "short-lived");
  EXPECT_EQ(before.value->expires_at_ms(), 2000u);
  EXPECT_EQ(store_->size(), 2u);

  ReadResult at = store_->get("t", 2000);  // now == expires_at: expired
  EXPECT_FALSE(at.value);
  EXPECT_TRUE(at.expired);
  EXPECT_EQ(store_->size(), 1u);
  ReadResult later = store_->get("t", 2001);
  EXPECT_FALSE(later.value);
  EXPECT_FALSE(later.expired) << "the first read removed it: nothing left to expire";
  EXPECT_EQ(store_->erase("t", 2001).status, WriteStatus::not_found);
  // A reader that held the value before it expired still has its bytes.
  EXPECT_EQ(before.value->bytes(), "short-lived");
  // Keys without a TTL never expire.
  ReadResult forever = store_->get("forever", ~0ull - 1);
  ASSERT_TRUE(forever.value);
  EXPECT_EQ(forever.value->expires_at_ms(), 0u);
}

TEST_P(StoreTest, ExpiredKeyCountsAsAbsentForWrites) {
  store_->put("k", "old", meta_at(0, 100));
  EXPECT_EQ(store_->put("k", "new", meta_at(100)).status, WriteStatus::created);
  EXPECT_EQ(store_->size(), 1u);
  EXPECT_EQ(get_str(*store_, "k"), "new");
  store_->put("e", "old", meta_at(0, 100));
  EXPECT_EQ(store_->erase("e", 150).status, WriteStatus::not_found);
  EXPECT_EQ(store_->size(), 1u) << "erase of an expired key removes it all the same";
  EXPECT_FALSE(store_->get("e", 0).value);
}

TEST_P(StoreTest, ReapExpiredRemovesOnlyExpiredKeys) {
  constexpr int kKeys = 300;
  // i % 3: 0 expires at 1000, 1 never, 2 at 5000.
  for (int i = 0; i < kKeys; ++i) {
    const std::uint64_t exp = i % 3 == 0 ? 1000 : i % 3 == 1 ? 0 : 5000;
    ASSERT_EQ(store_->put(numbered("k", i), "v", meta_at(0, exp)).status, WriteStatus::created);
  }
  EXPECT_EQ(store_->reap_expired(999, 1 << 20), 0u);
  EXPECT_EQ(store_->size(), static_cast<std::size_t>(kKeys));
  std::size_t removed = 0;
  for (int round = 0; round < 4; ++round) removed += store_->reap_expired(1000, 1 << 20);
  EXPECT_EQ(removed, static_cast<std::size_t>(kKeys / 3));
  EXPECT_EQ(store_->size(), static_cast<std::size_t>(kKeys - kKeys / 3));
  for (int i = 0; i < kKeys; ++i) {
    ReadResult r = store_->get(numbered("k", i), 1000);
    EXPECT_EQ(static_cast<bool>(r.value), i % 3 != 0) << i;
    EXPECT_FALSE(r.expired) << i;
  }
  removed = 0;
  for (int round = 0; round < 4; ++round) removed += store_->reap_expired(5000, 1 << 20);
  EXPECT_EQ(removed, static_cast<std::size_t>(kKeys / 3));
  EXPECT_EQ(store_->size(), static_cast<std::size_t>(kKeys / 3));
}

TEST_P(StoreTest, ReapExpiredVisitsAtMostMaxVisitsAndResumes) {
  constexpr int kKeys = 200;
  for (int i = 0; i < kKeys; ++i) store_->put(numbered("k", i), "v", meta_at(0, 10));
  const std::size_t first = store_->reap_expired(100, 10);
  EXPECT_GE(first, 1u);
  EXPECT_LE(first, 10u);
  std::size_t removed = first;
  int calls = 1;
  while (removed < kKeys && calls < 2 * kKeys) {
    const std::size_t n = store_->reap_expired(100, 10);
    EXPECT_LE(n, 10u);
    removed += n;
    ++calls;
  }
  EXPECT_EQ(removed, static_cast<std::size_t>(kKeys));
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_EQ(store_->bytes_used(), 0u);
}

TEST_P(StoreTest, ConditionalPut) {
  // If-Match: * on a missing key fails and creates nothing.
  EXPECT_EQ(store_->put("k", "v0", ValueMeta{}, kIfMatchAny).status, WriteStatus::precondition_failed);
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_FALSE(get_in(*store_, "k"));

  const WriteResult w1 = store_->put("k", "v1", ValueMeta{});
  ASSERT_EQ(w1.status, WriteStatus::created);
  const std::array<std::uint64_t, 1> e1{w1.etag};
  const WriteResult w2 = store_->put("k", "v2", ValueMeta{}, if_match(e1));
  EXPECT_EQ(w2.status, WriteStatus::replaced);
  EXPECT_NE(w2.etag, w1.etag);
  EXPECT_EQ(get_str(*store_, "k"), "v2");

  // e1 is stale now.
  EXPECT_EQ(store_->put("k", "v3", ValueMeta{}, if_match(e1)).status, WriteStatus::precondition_failed);
  EXPECT_EQ(get_str(*store_, "k"), "v2");
  EXPECT_EQ(get_in(*store_, "k")->etag(), w2.etag);

  const std::array<std::uint64_t, 3> some{w1.etag, w2.etag, 42};
  EXPECT_EQ(store_->put("k", "v4", ValueMeta{}, if_match(some)).status, WriteStatus::replaced);
  EXPECT_EQ(store_->put("k", "v5", ValueMeta{}, kIfMatchAny).status, WriteStatus::replaced);
  EXPECT_EQ(get_str(*store_, "k"), "v5");
  EXPECT_EQ(store_->size(), 1u);

  // An expired value is no value: neither * nor its own ETag matches it.
  const WriteResult t = store_->put("t", "ttl", meta_at(0, 100));
  const std::array<std::uint64_t, 1> et{t.etag};
  EXPECT_EQ(store_->put("t", "x", meta_at(100), if_match(et)).status, WriteStatus::precondition_failed);
  EXPECT_EQ(store_->put("t", "x", meta_at(100), kIfMatchAny).status, WriteStatus::precondition_failed);
  EXPECT_EQ(store_->put("t", "x", meta_at(99), if_match(et)).status, WriteStatus::replaced);
}

// A value made first and filled later (a request body read straight into it) is stored as a
// copy of the same bytes would be: same ETag, metadata stamped at put time, conditions honoured.
TEST_P(StoreTest, MadeValueFilledLaterStoresLikeACopy) {
  const std::string bytes = "made, then filled";
  const WriteResult copied = store_->put("copy", bytes, meta_at(1000, 0, "text/plain"));
  ValueRef made = store_->make_value("made", bytes.size(), meta_at(0, 0, "text/plain"));
  std::memcpy(made->unfilled_data(), bytes.data(), bytes.size());
  const WriteResult w = store_->put_value(made, meta_at(5000, 0, "text/plain"));
  EXPECT_EQ(w.status, WriteStatus::created);
  EXPECT_EQ(w.etag, copied.etag);
  ValueRef got = get_in(*store_, "made");
  ASSERT_TRUE(got);
  EXPECT_EQ(got.get(), made.get()) << "stored in place, not copied";
  EXPECT_EQ(got->bytes(), bytes);
  EXPECT_EQ(got->content_type(), "text/plain");
  EXPECT_EQ(got->stored_at_s(), 5u) << "stamped when stored";

  // With an expiry, stamped at put time too.
  ValueRef ttl = store_->make_value("ttl", 1, meta_at(0, 1));
  ttl->unfilled_data()[0] = 'x';
  EXPECT_EQ(store_->put_value(std::move(ttl), meta_at(100, 200)).status, WriteStatus::created);
  EXPECT_EQ(get_in(*store_, "ttl")->expires_at_ms(), 200u);
  EXPECT_FALSE(store_->get("ttl", 200).value);

  // A failed condition stores nothing.
  ValueRef refused = store_->make_value("made", 2, ValueMeta{});
  std::memcpy(refused->unfilled_data(), "no", 2);
  const std::array<std::uint64_t, 1> stale{42};
  EXPECT_EQ(store_->put_value(std::move(refused), ValueMeta{}, if_match(stale)).status,
            WriteStatus::precondition_failed);
  EXPECT_EQ(get_str(*store_, "made"), bytes);

  // An expiry must be announced when the value is made (its room is in the value).
  ValueRef without = store_->make_value("x", 0, ValueMeta{});
  EXPECT_THROW(store_->put_value(std::move(without), meta_at(0, 10)), std::invalid_argument);
  EXPECT_FALSE(get_in(*store_, "x"));
}

TEST_P(StoreTest, ConditionalErase) {
  const WriteResult w = store_->put("k", "v", ValueMeta{});
  const std::array<std::uint64_t, 1> stale{w.etag ^ 1};
  const std::array<std::uint64_t, 1> current{w.etag};
  EXPECT_EQ(store_->erase("k", 0, if_match(stale)).status, WriteStatus::precondition_failed);
  EXPECT_EQ(get_str(*store_, "k"), "v");
  EXPECT_EQ(store_->size(), 1u);
  EXPECT_EQ(store_->erase("k", 0, if_match(current)).status, WriteStatus::removed);
  EXPECT_FALSE(get_in(*store_, "k"));
  EXPECT_EQ(store_->erase("k", 0, kIfMatchAny).status, WriteStatus::precondition_failed);
  EXPECT_EQ(store_->erase("k", 0).status, WriteStatus::not_found);
  store_->put("k", "again", ValueMeta{});
  EXPECT_EQ(store_->erase("k", 0, kIfMatchAny).status, WriteStatus::removed);
  EXPECT_EQ(store_->size(), 0u);
}

TEST_P(StoreTest, EtagFollowsContentTypeAndBytes) {
  auto etag_of = [&](std::string_view key, std::string_view bytes, std::string_view type,
                     std::uint64_t now = 0, std::uint64_t expires = 0) {
    const WriteResult w = store_->put(key, bytes, meta_at(now, expires, type));
    ValueRef v = get_in(*store_, key);
    EXPECT_TRUE(v);
    if (v) {
      EXPECT_EQ(v->etag(), w.etag) << key;
    }
    return w.etag;
  };
  const std::uint64_t e = etag_of("a", "hello", "text/plain");
  EXPECT_EQ(etag_of("b", "hello", "text/plain"), e) << "equal content, other key";
  EXPECT_EQ(etag_of("a", "hello", "text/plain", 123456789, 999999999999), e) << "store time and TTL are not content";
  EXPECT_NE(etag_of("c", "hellO", "text/plain"), e);
  EXPECT_NE(etag_of("d", "hello", "text/html"), e);
  EXPECT_NE(etag_of("e", "hello", ""), e);
  EXPECT_NE(etag_of("f", "", ""), etag_of("g", "", "text/plain"));
  // No ambiguity where the type ends and the bytes begin.
  EXPECT_NE(etag_of("h", "bc", "a"), etag_of("i", "c", "ab"));
  // Replacing the bytes changes the key's ETag.
  EXPECT_NE(etag_of("a", "hello!", "text/plain"), e);
  EXPECT_EQ(etag_of("a", "hello", "text/plain"), e);
}

TEST_P(StoreTest, ContentTypeRoundTrip) {
  store_->put("json", "{}", meta_at(0, 0, "application/json; charset=utf-8"));
  store_->put("plain", "x", ValueMeta{});
  ValueRef j = get_in(*store_, "json");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->content_type(), "application/json; charset=utf-8");
  EXPECT_EQ(j->bytes(), "{}");
  EXPECT_EQ(j->key(), "json");
  ValueRef p = get_in(*store_, "plain");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->content_type(), "");

  store_->put("json", "<a/>", meta_at(0, 0, "text/xml"));
  EXPECT_EQ(get_in(*store_, "json")->content_type(), "text/xml");
  EXPECT_EQ(j->content_type(), "application/json; charset=utf-8") << "a held value never changes";

  // With an expiry (stored in front of the key) the type and bytes are still in place.
  store_->put("ttl", "body", meta_at(0, 5000, "image/png"));
  ValueRef t = get_in(*store_, "ttl");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->content_type(), "image/png");
  EXPECT_EQ(t->bytes(), "body");
  EXPECT_EQ(t->key(), "ttl");

  const std::string longest(Value::kMaxTypeBytes, 't');
  store_->put("long", "v", meta_at(0, 0, longest));
  EXPECT_EQ(get_in(*store_, "long")->content_type(), longest);
  const std::size_t before = store_->size();
  EXPECT_THROW(store_->put("longer", "v", meta_at(0, 0, longest + "t")), std::length_error);
  EXPECT_EQ(store_->size(), before);
  EXPECT_FALSE(get_in(*store_, "longer"));
}

TEST_P(StoreTest, BytesUsedCountsFootprintPlusTableShare) {
  EXPECT_EQ(store_->bytes_used(), 0u);
  put("one", "x");
  ValueRef v = get_in(*store_, "one");
  ASSERT_TRUE(v);
  EXPECT_GE(v->footprint(), 25u + 3u + 1u);  // header, key, bytes at least
  const std::uint64_t share = GetParam() == StoreKind::lockfree ? 14 : 56;
  EXPECT_EQ(store_->bytes_used(), v->footprint() + share);
  const std::string big(10000, 'b');
  put("two", big);
  ValueRef w = get_in(*store_, "two");
  EXPECT_GE(w->footprint(), big.size());
  EXPECT_EQ(store_->bytes_used(), v->footprint() + w->footprint() + 2 * share);
  put("two", "small again");
  EXPECT_EQ(store_->bytes_used(), v->footprint() + get_in(*store_, "two")->footprint() + 2 * share);
}

TEST_P(StoreTest, BytesUsedReturnsToZero) {
  std::mt19937 rng(7);
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) {
    std::string key = numbered("k", i % 1500);  // some keys replaced
    std::string value(rng() % 3000, static_cast<char>('a' + i % 26));
    store_->put(key, value, meta_at(0, i % 7 == 0 ? 1000 : 0, i % 2 ? "text/plain" : ""));
    if (i < 1500) keys.push_back(key);
    if (i % 64 == 63) store_->quiescent();
  }
  EXPECT_EQ(store_->size(), 1500u);
  EXPECT_GT(store_->bytes_used(), 0u);
  // Some go by expiry (on read and by the sweep), the rest by erase.
  for (int i = 0; i < 100; ++i) store_->get(keys[static_cast<std::size_t>(i)], 1000);
  store_->reap_expired(1000, 1 << 20);
  for (const std::string& k : keys) store_->erase(k, 0);
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_EQ(store_->bytes_used(), 0u);
}

TEST_P(StoreTest, MaxMemoryIsNeverExceeded) {
  constexpr std::uint64_t kCap = 64 * 1024;
  reopen(StoreOptions{16, kCap});
  EXPECT_EQ(store_->max_memory(), kCap);
  const std::string value(1024, 'v');
  constexpr int kPuts = 1000;  // ~16x the cap
  std::uint64_t evicted = 0;
  for (int i = 0; i < kPuts; ++i) {
    const WriteResult w = store_->put(numbered("key", i), value, ValueMeta{});
    ASSERT_EQ(w.status, WriteStatus::created) << i;
    evicted += w.evicted;
    ASSERT_LE(store_->bytes_used(), kCap) << "after put " << i;
    if (i % 64 == 63) store_->quiescent();
  }
  EXPECT_GT(evicted, 0u);
  EXPECT_EQ(store_->size(), kPuts - evicted) << "every evicted value counted once";
  // Evicts only until the items fit: the cap is used, less at most about one item.
  EXPECT_GE(store_->bytes_used(), kCap - 2048);
  std::size_t live = 0;
  std::uint64_t footprints = 0;
  for (int i = 0; i < kPuts; ++i) {
    if (ValueRef v = get_in(*store_, numbered("key", i))) {
      ++live;
      footprints += v->footprint();
    }
  }
  EXPECT_EQ(live, store_->size());
  EXPECT_EQ(footprints + live * (GetParam() == StoreKind::lockfree ? 14 : 56), store_->bytes_used());
  // Replacing values with bigger ones under the cap evicts others, never the one written.
  const std::string bigger(4096, 'B');
  for (int i = 0; i < 50; ++i) {
    const std::string key = numbered("big", i);
    ASSERT_EQ(store_->put(key, bigger, ValueMeta{}).status, WriteStatus::created);
    ASSERT_LE(store_->bytes_used(), kCap);
    ASSERT_TRUE(get_in(*store_, key)) << key;
  }
}

// SIEVE: keys read between the writes keep their place, keys never read are evicted in turn.
// The hot keys are the oldest, so a FIFO would have evicted them first.
TEST_P(StoreTest, RepeatedlyReadKeysSurviveEviction) {
  constexpr std::uint64_t kCap = 1 << 20;
  reopen(StoreOptions{1024, kCap});
  const std::string value(1000, 'x');
  constexpr int kHot = 50;
  constexpr int kCold = 5000;  // ~5x what fits
  auto hot = [](int i) { return numbered("hot", i); };
  auto cold = [](int i) { return numbered("cold", i); };
  for (int h = 0; h < kHot; ++h) store_->put(hot(h), value, ValueMeta{});
  std::uint64_t evicted = 0;
  for (int i = 0; i < kCold; ++i) {
    evicted += store_->put(cold(i), value, ValueMeta{}).evicted;
    if (i % 10 == 0) {
      for (int h = 0; h < kHot; ++h) static_cast<void>(store_->get(hot(h), 0));
    }
    if (i % 64 == 63) store_->quiescent();
  }
  ASSERT_GT(evicted, static_cast<std::uint64_t>(kCold / 2)) << "the test needs heavy eviction";
  int hot_alive = 0, cold_alive = 0;
  for (int h = 0; h < kHot; ++h) hot_alive += static_cast<bool>(get_in(*store_, hot(h)));
  for (int i = 0; i < kCold; ++i) cold_alive += static_cast<bool>(get_in(*store_, cold(i)));
  const double hot_rate = static_cast<double>(hot_alive) / kHot;
  const double cold_rate = static_cast<double>(cold_alive) / kCold;
  EXPECT_GE(hot_rate, 0.9) << hot_alive << "/" << kHot << " hot keys left; cold: " << cold_alive << "/" << kCold;
  EXPECT_LE(cold_rate, 0.3) << cold_alive << "/" << kCold;
  EXPECT_EQ(static_cast<std::size_t>(hot_alive + cold_alive), store_->size());
}

TEST_P(StoreTest, ValueLargerThanTheCapIsTooLarge) {
  constexpr std::uint64_t kCap = 8192;
  reopen(StoreOptions{16, kCap});
  ASSERT_EQ(put("small", "s"), WriteStatus::created);
  const std::uint64_t used = store_->bytes_used();
  const WriteResult w = store_->put("big", std::string(kCap, 'b'), ValueMeta{});
  EXPECT_EQ(w.status, WriteStatus::too_large);
  EXPECT_EQ(w.evicted, 0u);
  EXPECT_FALSE(get_in(*store_, "big"));
  // A failed replace leaves the old value alone.
  EXPECT_EQ(store_->put("small", std::string(3 * kCap, 'x'), ValueMeta{}).status, WriteStatus::too_large);
  EXPECT_EQ(get_str(*store_, "small"), "s");
  EXPECT_EQ(store_->size(), 1u);
  EXPECT_EQ(store_->bytes_used(), used);
  // A value that fits alone evicts everything else (from any shard) but stays.
  for (int i = 0; i < 5; ++i) put(numbered("f", i), std::string(1000, 'f'));
  const WriteResult fits = store_->put("fits", std::string(7000, 'F'), ValueMeta{});
  EXPECT_EQ(fits.status, WriteStatus::created);
  EXPECT_GT(fits.evicted, 0u);
  EXPECT_TRUE(get_in(*store_, "fits"));
  EXPECT_LE(store_->bytes_used(), kCap);
}

TEST_P(StoreTest, BytesUsedReturnsToZeroAfterEvictions) {
  reopen(StoreOptions{16, 32 * 1024});
  for (int i = 0; i < 300; ++i) put(numbered("k", i), std::string(500, 'v'));
  std::vector<std::string> keys;
  store_->for_each([&](const Value& v) { keys.emplace_back(v.key()); });
  EXPECT_EQ(keys.size(), store_->size());
  for (const std::string& k : keys) EXPECT_EQ(store_->erase(k, 0).status, WriteStatus::removed) << k;
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_EQ(store_->bytes_used(), 0u);
}

TEST_P(StoreTest, ForEachVisitsEveryLiveKeyExactlyOnce) {
  int calls = 0;
  store_->for_each([&](const Value&) { ++calls; });
  EXPECT_EQ(calls, 0);
  constexpr int kKeys = 1000;
  std::map<std::string, std::string> expected;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = numbered("k", i);
    put(key, numbered("v", i));
    expected[key] = numbered("v", i);
  }
  for (int i = 0; i < kKeys; i += 5) {
    erase_in(*store_, numbered("k", i));
    expected.erase(numbered("k", i));
  }
  for (int i = 1; i < kKeys; i += 3) {
    put(numbered("k", i), "new");
    expected[numbered("k", i)] = "new";
  }
  std::map<std::string, int> seen;
  std::map<std::string, std::string> values;
  store_->for_each([&](const Value& v) {
    ++seen[std::string(v.key())];
    values[std::string(v.key())] = std::string(v.bytes());
  });
  EXPECT_EQ(seen.size(), expected.size());
  EXPECT_EQ(seen.size(), store_->size());
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(values, expected);
}

INSTANTIATE_TEST_SUITE_P(Kinds, StoreTest, ::testing::Values(StoreKind::lockfree, StoreKind::sharded),
                         [](const ::testing::TestParamInfo<StoreKind>& p) {
                           return p.param == StoreKind::lockfree ? std::string("lockfree")
                                                                    : std::string("sharded");
                         });

}  // namespace
}  // namespace hkv
