// SPDX-License-Identifier: MIT
// libFuzzer target: the lock-free store (TagTable under StoreCore) against a std::map model. The
// input is a program of puts, conditional puts, gets, prefetched gets, erases, clock steps and expiry
// sweeps over a few keys, most of them crowded into one shard so its table grows, fills with
// tombstones and is rebuilt. Every answer is checked; so is the whole content after each input.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "fuzz_store.h"

namespace {

using hkv::ReadResult;
using hkv::WriteStatus;

constexpr std::uint64_t kCap = 64 * 1024;  // a few large values reach it: eviction is fuzzed too
constexpr std::size_t kSameShardKeys = 48;
constexpr std::size_t kKeys = 64;

struct Entry {
  std::string bytes;
  std::uint64_t expires_at_ms;
  std::uint64_t etag;
};

void check(bool ok) {
  if (!ok) std::abort();
}

// Keys 0-47 share shard 0 (the hash's top 6 bits), the rest fall anywhere; one is 250 bytes.
std::vector<std::string> make_keys() {
  std::vector<std::string> keys;
  for (std::size_t n = 0; keys.size() < kSameShardKeys; ++n) {
    std::string k = "s" + std::to_string(n);
    if ((hkv::hash_key(k) >> 58) == 0) keys.push_back(k);
  }
  for (std::size_t n = 0; keys.size() < kKeys - 1; ++n) keys.push_back("o" + std::to_string(n));
  keys.push_back(std::string(250, 'L'));
  return keys;
}

class Program {
 public:
  Program(hkv::Store& store, const std::vector<std::string>& keys) : store_(store), keys_(keys) {}

  // One operation from 4 input bytes: what, which key, a length and a time or condition.
  void step(const std::uint8_t* b) {
    const std::string& key = keys_[b[1] % kKeys];
    switch (b[0] % 8) {
      case 0: put(key, b[2], 0, {}); break;
      case 1: put(key, b[2], now_ + 1 + b[3] % 16, {}); break;
      case 2: conditional_put(key, b[2], b[3]); break;
      case 3: expect(key, store_.get(key, now_)); break;
      case 4: prefetched_gets(b); break;
      case 5: erase(key); break;
      case 6: now_ += b[3] % 8; break;
      default: reap(b[2]); break;
    }
  }

  // The store holds exactly the model's keys (expired ones not yet swept included), each with
  // the bytes and ETag last written, within the memory cap.
  void check_contents() {
    std::size_t seen = 0;
    store_.for_each([&](const hkv::Value& v) {
      ++seen;
      auto it = model_.find(std::string(v.key()));
      check(it != model_.end() && it->second.bytes == v.bytes() && it->second.etag == v.etag());
    });
    check(seen == model_.size() && seen == store_.size());
    check(store_.bytes_used() <= kCap);
  }

 private:
  bool live(const Entry& e) const { return e.expires_at_ms == 0 || now_ < e.expires_at_ms; }
  bool live(const std::string& key) const {
    auto it = model_.find(key);
    return it != model_.end() && live(it->second);
  }

  std::size_t live_count() const {
    return static_cast<std::size_t>(std::count_if(model_.begin(), model_.end(), [&](const auto& kv) { return live(kv.second); }));
  }

  // Mostly short values, sometimes 4 KiB, so that the cap is reached.
  WriteStatus put(const std::string& key, std::uint8_t len_byte, std::uint64_t expires, const hkv::Precondition& cond) {
    const std::string bytes(len_byte >= 250 ? 4096 : len_byte, static_cast<char>('a' + len_byte % 26));
    const bool was_live = live(key);
    const hkv::WriteResult w = store_.put(key, bytes, hkv::ValueMeta{{}, now_, expires}, cond);
    if (w.status == WriteStatus::precondition_failed) return w.status;
    check(w.status == (was_live ? WriteStatus::replaced : WriteStatus::created));
    model_[key] = Entry{bytes, expires, w.etag};
    if (w.evicted != 0) {
      keep_only_stored();
      check(model_.contains(key));  // eviction never takes the value just written
    }
    return w.status;
  }

  // If-Match: `*`, the current ETag, or one that matches nothing.
  void conditional_put(const std::string& key, std::uint8_t len_byte, std::uint8_t how) {
    const bool was_live = live(key);
    const std::array<std::uint64_t, 1> etags{was_live && how % 3 == 1 ? model_[key].etag : 0x5eed};
    hkv::Precondition cond{how % 3 == 0, {}};
    if (how % 3 != 0) cond.etags = etags;
    const bool holds = was_live && how % 3 != 2;
    check((put(key, len_byte, 0, cond) != WriteStatus::precondition_failed) == holds);
  }

  // A read finds the live value last written, or nothing; an expired value it finds it removes.
  void expect(const std::string& key, const ReadResult& r) {
    auto it = model_.find(key);
    const bool was_live = it != model_.end() && live(it->second);
    check(static_cast<bool>(r.value) == was_live);
    if (r.value) check(r.value->bytes() == it->second.bytes && r.value->etag() == it->second.etag);
    if (r.expired) {
      check(it != model_.end() && !was_live);
      model_.erase(it);
    }
  }

  // Four keys, repeats allowed, announced with prefetch() and then read in turn.
  void prefetched_gets(const std::uint8_t* b) {
    std::array<std::string_view, 4> keys;
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = keys_[(b[1] + i * b[2]) % kKeys];
    store_.prefetch(keys);
    for (std::string_view k : keys) expect(std::string(k), store_.get(k, now_));
  }

  void erase(const std::string& key) {
    const WriteStatus s = store_.erase(key, now_).status;
    check(s == (live(key) ? WriteStatus::removed : WriteStatus::not_found));
    model_.erase(key);
  }

  // The sweep removes only expired keys, as many as it says; which ones depends on its cursor.
  void reap(std::uint8_t visits) {
    const std::size_t before = model_.size();
    const std::size_t live_before = live_count();
    const std::size_t removed = store_.reap_expired(now_, visits);
    keep_only_stored();
    check(before - model_.size() == removed && live_count() == live_before);
  }

  // Drops from the model what the store no longer has; only expired keys may go that way,
  // besides the victims of an eviction.
  void keep_only_stored() {
    std::set<std::string, std::less<>> stored;
    store_.for_each([&](const hkv::Value& v) { stored.emplace(v.key()); });
    std::erase_if(model_, [&](const auto& kv) { return !stored.contains(kv.first); });
  }

  hkv::Store& store_;
  const std::vector<std::string>& keys_;
  std::map<std::string, Entry> model_;
  std::uint64_t now_ = 1000;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static hkv::Store& store = hkv::fuzz::process_store(hkv::StoreKind::lockfree, kCap);
  static const std::vector<std::string> keys = make_keys();
  Program program(store, keys);
  for (std::size_t at = 0; at + 4 <= size && at < 4 * 512; at += 4) {
    program.step(data + at);
    if ((at / 4) % 64 == 63) store.quiescent();
  }
  program.check_contents();
  hkv::fuzz::empty_store(store);
  return 0;
}
