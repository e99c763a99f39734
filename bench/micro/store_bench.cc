// SPDX-License-Identifier: MIT
// Microbenchmarks of both stores: GET-only and 80% GET / 20% put of random preloaded keys, 1-2 threads.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "store/store.h"

namespace {

using hkv::Store;
using hkv::StoreKind;

constexpr std::size_t kKeys = 100'000;
constexpr std::size_t kKeyBytes = 10;  // "k000000000" .. "k000099999"
constexpr std::size_t kValueBytes = 100;
constexpr std::size_t kCapacity = 1 << 20;
constexpr std::uint64_t kQuiescentEvery = 64;

// All keys back to back in one buffer, so picking a key is one multiply and one add.
char g_keys[kKeys * kKeyBytes];
char g_value[kValueBytes];
std::unique_ptr<Store> g_stores[2];  // indexed by StoreKind

std::string_view key_at(std::size_t i) { return {g_keys + i * kKeyBytes, kKeyBytes}; }

Store& store_of(StoreKind kind) { return *g_stores[static_cast<int>(kind)]; }

// xorshift64*: a few cycles per number, one state per benchmark thread.
struct XorShift {
  std::uint64_t s;
  explicit XorShift(std::uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
};

// Maps the high 32 bits of `r` onto [0, kKeys) without a division.
std::size_t key_index(std::uint64_t r) { return static_cast<std::size_t>(((r >> 32) * kKeys) >> 32); }

void BM_Get(benchmark::State& state, StoreKind kind) {
  Store& store = store_of(kind);
  XorShift rng(static_cast<std::uint64_t>(state.thread_index()) + 1);
  std::uint64_t ops = 0;
  std::uint64_t hits = 0;
  store.attach_thread();
  for (auto _ : state) {
    hkv::ValueRef v = store.get(key_at(key_index(rng.next())), 0).value;
    hits += static_cast<bool>(v);
    benchmark::DoNotOptimize(v.get());
    if ((++ops % kQuiescentEvery) == 0) store.quiescent();
  }
  store.detach_thread();
  if (hits != ops) state.SkipWithError("a preloaded key was missing");
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
}

void BM_Mix80Get20Put(benchmark::State& state, StoreKind kind) {
  Store& store = store_of(kind);
  XorShift rng(static_cast<std::uint64_t>(state.thread_index()) + 101);
  const std::string_view value(g_value, kValueBytes);
  std::uint64_t ops = 0;
  std::uint64_t misses = 0;
  store.attach_thread();
  for (auto _ : state) {
    std::uint64_t r = rng.next();
    std::string_view key = key_at(key_index(r));
    if (static_cast<std::uint32_t>(r) % 5 == 0) {
      benchmark::DoNotOptimize(store.put(key, value, hkv::ValueMeta{}));
    } else {
      hkv::ValueRef v = store.get(key, 0).value;
      misses += !v;
      benchmark::DoNotOptimize(v.get());
    }
    if ((++ops % kQuiescentEvery) == 0) store.quiescent();
  }
  store.detach_thread();
  if (misses != 0) state.SkipWithError("a preloaded key was missing");
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
}

BENCHMARK_CAPTURE(BM_Get, lockfree, StoreKind::lockfree)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Get, sharded, StoreKind::sharded)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Mix80Get20Put, lockfree, StoreKind::lockfree)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Mix80Get20Put, sharded, StoreKind::sharded)->Threads(1)->Threads(2)->UseRealTime();

// Builds both stores and loads every key once, on this thread, before any benchmark runs.
bool preload() {
  for (std::size_t i = 0; i < kKeys; ++i) {
    char buf[kKeyBytes + 1];
    std::snprintf(buf, sizeof buf, "k%09zu", i);
    std::memcpy(g_keys + i * kKeyBytes, buf, kKeyBytes);
  }
  for (std::size_t i = 0; i < kValueBytes; ++i) g_value[i] = static_cast<char>('a' + i % 26);
  const std::string_view value(g_value, kValueBytes);
  for (StoreKind kind : {StoreKind::lockfree, StoreKind::sharded}) {
    auto store = hkv::make_store(kind, hkv::StoreOptions{kCapacity, 0});
    store->attach_thread();
    for (std::size_t i = 0; i < kKeys; ++i) store->put(key_at(i), value, hkv::ValueMeta{});
    bool ok = store->size() == kKeys;
    for (std::size_t i = 0; ok && i < kKeys; ++i) ok = static_cast<bool>(store->get(key_at(i), 0).value);
    store->detach_thread();  // an attached idle thread would hold back every grace period
    if (!ok) {
      std::fprintf(stderr, "preload failed\n");
      return false;
    }
    g_stores[static_cast<int>(kind)] = std::move(store);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!preload()) return 1;
  benchmark::AddCustomContext("keys", std::to_string(kKeys) + " x " + std::to_string(kKeyBytes) +
                                          " B, values " + std::to_string(kValueBytes) + " B");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (auto& s : g_stores) s.reset();
  return 0;
}
