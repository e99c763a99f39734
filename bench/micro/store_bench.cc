// SPDX-License-Identifier: MIT
// Microbenchmarks of both stores: GET-only and 80% GET / 20% put of random preloaded keys, 1-2 threads.
#include <benchmark/benchmark.h>

#include <array>
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

constexpr std::size_t kKeys = 1'000'000;
constexpr std::size_t kKeyBytes = 10;  // "k000000000" .. "k000999999"
constexpr std::size_t kValueBytes = 100;
constexpr std::size_t kCapacity = 1 << 20;
constexpr std::uint64_t kQuiescentEvery = 64;

char g_value[kValueBytes];
std::unique_ptr<Store> g_stores[2];  // indexed by StoreKind

// Writes key i, "k" and 9 digits.
void write_key(std::size_t i, char* out) {
  out[0] = 'k';
  for (std::size_t d = kKeyBytes - 1; d > 0; --d, i /= 10) out[d] = static_cast<char>('0' + i % 10);
}

// The keys the benchmarks look up: 2^20 keys drawn at random, their text back to back, read in
// order as a server reads requests from its buffers. As many draws as keys, so the lookups touch
// the whole store, not a subset that fits in the CPU's cache. Read in order, so the hardware
// prefetcher brings the text in ahead (a random slot of an array of every key would add a miss
// the store is not to blame for); written once, before the runs (text written just before each
// lookup stalls the hash's loads on store forwarding until the lookup before retires).
constexpr std::size_t kTraceKeys = 1 << 20;
char g_trace[kTraceKeys * kKeyBytes];

struct Trace {
  std::size_t at;
  std::string_view next() {
    const std::string_view key(g_trace + at * kKeyBytes, kKeyBytes);
    at = (at + 1) & (kTraceKeys - 1);
    return key;
  }
};

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
  std::uint64_t ops = 0;
  std::uint64_t hits = 0;
  Trace trace{static_cast<std::size_t>(state.thread_index()) * 7919};
  store.attach_thread();
  for (auto _ : state) {
    hkv::ValueRef v = store.get(trace.next(), 0).value;
    hits += static_cast<bool>(v);
    benchmark::DoNotOptimize(v.get());
    if ((++ops % kQuiescentEvery) == 0) store.quiescent();
  }
  store.detach_thread();
  if (hits != ops) state.SkipWithError("a preloaded key was missing");
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
}

// GETs a batch at a time, announced with prefetch() first, as hkv does for the requests of one
// read (HTTP/2 streams, pipelined HTTP/1.1).
void BM_GetPrefetched(benchmark::State& state, StoreKind kind) {
  constexpr std::size_t kBatch = 16;
  Store& store = store_of(kind);
  Trace trace{static_cast<std::size_t>(state.thread_index()) * 7919};
  std::array<std::string_view, kBatch> keys;
  std::uint64_t ops = 0;
  std::uint64_t hits = 0;
  store.attach_thread();
  for (auto _ : state) {
    for (std::string_view& k : keys) k = trace.next();
    store.prefetch(keys);
    for (std::string_view k : keys) {
      hkv::ValueRef v = store.get(k, 0).value;
      hits += static_cast<bool>(v);
      benchmark::DoNotOptimize(v.get());
    }
    ops += kBatch;
    if ((ops % (kQuiescentEvery * kBatch)) == 0) store.quiescent();
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
  Trace trace{static_cast<std::size_t>(state.thread_index()) * 7919};
  store.attach_thread();
  for (auto _ : state) {
    std::uint64_t r = rng.next();
    std::string_view key = trace.next();
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
BENCHMARK_CAPTURE(BM_GetPrefetched, lockfree, StoreKind::lockfree)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_GetPrefetched, sharded, StoreKind::sharded)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Mix80Get20Put, lockfree, StoreKind::lockfree)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Mix80Get20Put, sharded, StoreKind::sharded)->Threads(1)->Threads(2)->UseRealTime();

// Builds both stores and loads every key once, on this thread, before any benchmark runs.
bool preload() {
  for (std::size_t i = 0; i < kValueBytes; ++i) g_value[i] = static_cast<char>('a' + i % 26);
  const std::string_view value(g_value, kValueBytes);
  XorShift rng(42);
  for (std::size_t i = 0; i < kTraceKeys; ++i) write_key(key_index(rng.next()), g_trace + i * kKeyBytes);
  for (StoreKind kind : {StoreKind::lockfree, StoreKind::sharded}) {
    auto store = hkv::make_store(kind, hkv::StoreOptions{kCapacity, 0});
    store->attach_thread();
    char key[kKeyBytes];
    for (std::size_t i = 0; i < kKeys; ++i) {
      write_key(i, key);
      store->put(std::string_view(key, kKeyBytes), value, hkv::ValueMeta{});
    }
    bool ok = store->size() == kKeys;
    for (std::size_t i = 0; ok && i < kKeys; ++i) {
      write_key(i, key);
      ok = static_cast<bool>(store->get(std::string_view(key, kKeyBytes), 0).value);
    }
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
