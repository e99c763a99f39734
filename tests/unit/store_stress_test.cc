// SPDX-License-Identifier: MIT
// Both stores under everything at once (readers with and without prefetch(), writers with and without
// TTL, deletes, expiry sweeps, iteration, table growth and eviction under a cap), and
// prefetch() followed by gets against gets alone. The TSan phase of the test command runs these.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace hkv {
namespace {

std::string key_name(unsigned i) { return "key" + std::to_string(i); }

// Every value starts with its key and a colon, so a torn or misplaced value shows.
std::string value_for(const std::string& key, unsigned n, std::size_t size) {
  std::string v = key + ":" + std::to_string(n) + ":";
  v.resize(std::max(v.size(), size), 'v');
  return v;
}

class StoreStress : public ::testing::TestWithParam<StoreKind> {};

TEST_P(StoreStress, PrefetchChangesNoAnswer) {
  // Two stores with the same content: one is read after prefetch(), the other without.
  // Attaching registers the thread for both (liburcu's registration is per thread).
  std::array<std::unique_ptr<Store>, 2> stores{make_store(GetParam(), StoreOptions{16, 0}),
                                               make_store(GetParam(), StoreOptions{16, 0})};
  stores[0]->attach_thread();
  for (auto& s : stores) {
    for (unsigned i = 0; i < 300; ++i) {
      const std::uint64_t expires = i % 3 == 0 ? 5000 : 0;  // a third expire at 5 s
      s->put(key_name(i), value_for(key_name(i), i, i % 50), ValueMeta{{}, 1000, expires});
    }
  }
  // 40 keys per batch (more than one prefetch window), present, missing, expired and repeated.
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> names;
    for (int i = 0; i < 40; ++i) names.push_back(key_name(rng() % 400));
    names.push_back(names.front());
    std::vector<std::string_view> keys(names.begin(), names.end());
    const std::uint64_t now = round < 25 ? 2000 : 6000;
    stores[0]->prefetch(keys);
    std::vector<ReadResult> batch;
    for (std::string_view k : keys) batch.push_back(stores[0]->get(k, now));
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const ReadResult one = stores[1]->get(keys[i], now);
      ASSERT_EQ(static_cast<bool>(batch[i].value), static_cast<bool>(one.value)) << keys[i];
      EXPECT_EQ(batch[i].expired, one.expired) << keys[i];
      if (one.value) {
        EXPECT_EQ(batch[i].value->bytes(), one.value->bytes());
      }
    }
  }
  EXPECT_EQ(stores[0]->size(), stores[1]->size());
  stores[0]->detach_thread();
}

// Two writers put (a third of them with a 1-50 ms TTL) and erase over 4,000 keys, past a cap that
// holds about a quarter of them; two readers check every value they find, one of them after
// prefetch() of 24 keys at a time; a sweeper reaps expired keys and walks the store. At the end the accounting
// agrees with the content.
TEST_P(StoreStress, EverythingAtOnceKeepsValuesAndAccountingIntact) {
  constexpr unsigned kKeys = 4000;
  constexpr std::uint64_t kCap = 256 * 1024;
  constexpr int kWritesPerWriter = 60000;
  auto store = make_store(GetParam(), StoreOptions{16, kCap});
  auto now_ms = [start = std::chrono::steady_clock::now()] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - start)
                                          .count()) +
           1000;
  };
  std::atomic<bool> writing{true};
  std::atomic<long> bad{0}, reads{0}, found{0}, evicted{0}, reaped{0}, over_cap{0};
  auto check_value = [&](std::string_view key, const ReadResult& r) {
    reads.fetch_add(1, std::memory_order_relaxed);
    if (!r.value) return;
    found.fetch_add(1, std::memory_order_relaxed);
    if (r.value->key() != key || !r.value->bytes().starts_with(std::string(key) + ":")) bad.fetch_add(1);
  };
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      store->attach_thread();
      std::mt19937 rng(100 + w);
      for (int i = 0; i < kWritesPerWriter; ++i) {
        const std::string key = key_name(rng() % kKeys);
        if (rng() % 8 == 0) {
          store->erase(key, now_ms());
        } else {
          const std::uint64_t now = now_ms();
          const std::uint64_t expires = rng() % 3 == 0 ? now + 1 + rng() % 50 : 0;
          evicted += store->put(key, value_for(key, i, 20 + rng() % 300), ValueMeta{{}, now, expires}).evicted;
        }
        if (store->bytes_used() > kCap + 4096) over_cap.fetch_add(1);
        if (i % 64 == 63) store->quiescent();
      }
      store->detach_thread();
    });
  }
  threads.emplace_back([&] {
    store->attach_thread();
    std::mt19937 rng(200);
    for (long i = 0; writing.load(std::memory_order_relaxed); ++i) {
      const std::string key = key_name(rng() % kKeys);
      check_value(key, store->get(key, now_ms()));
      if (i % 64 == 63) store->quiescent();
    }
    store->detach_thread();
  });
  threads.emplace_back([&] {
    store->attach_thread();
    std::mt19937 rng(300);
    std::array<std::string, 24> names;
    std::array<std::string_view, 24> keys;
    while (writing.load(std::memory_order_relaxed)) {
      for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = names[i] = key_name(rng() % kKeys);
      store->prefetch(keys);
      for (std::string_view k : keys) check_value(k, store->get(k, now_ms()));
      store->quiescent();
    }
    store->detach_thread();
  });
  threads.emplace_back([&] {
    store->attach_thread();
    while (writing.load(std::memory_order_relaxed)) {
      reaped += static_cast<long>(store->reap_expired(now_ms(), 512));
      store->for_each([&](const Value& v) {
        if (!v.bytes().starts_with(std::string(v.key()) + ":")) bad.fetch_add(1);
      });
      store->quiescent();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    store->detach_thread();
  });
  threads[0].join();
  threads[1].join();
  writing = false;
  for (std::size_t t = 2; t < threads.size(); ++t) threads[t].join();

  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(over_cap.load(), 0) << "bytes_used passed the cap by more than one value";
  EXPECT_GT(found.load(), 1000) << reads.load() << " reads";
  EXPECT_GT(evicted.load(), 0);
  EXPECT_GT(reaped.load(), 0);
  store->attach_thread();
  std::size_t items = 0;
  store->for_each([&](const Value&) { ++items; });
  EXPECT_EQ(items, store->size());
  EXPECT_LE(store->bytes_used(), kCap);
  for (unsigned k = 0; k < kKeys; ++k) store->erase(key_name(k), 0);
  EXPECT_EQ(store->size(), 0u);
  EXPECT_EQ(store->bytes_used(), 0u) << "every byte charged was given back";
  store->detach_thread();
}

INSTANTIATE_TEST_SUITE_P(Kinds, StoreStress, ::testing::Values(StoreKind::lockfree, StoreKind::sharded),
                         [](const ::testing::TestParamInfo<StoreKind>& p) {
                           return p.param == StoreKind::lockfree ? std::string("lockfree")
                                                                    : std::string("sharded");
                         });

}  // namespace
}  // namespace hkv
