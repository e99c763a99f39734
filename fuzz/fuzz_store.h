// SPDX-License-Identifier: MIT
// Fuzz helper: stores made once per process and emptied after every input, so each input starts
// from an empty cache and what it does never depends on the inputs before it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace hkv::fuzz {

// A store attached to the fuzzing thread. Never freed: the thread stays attached until exit. At
// most one lock-free store per process: attaching registers the thread with liburcu.
inline Store& process_store(StoreKind kind, std::uint64_t max_memory) {
  Store* s = make_store(kind, StoreOptions{1024, max_memory}).release();
  s->attach_thread();
  return *s;
}

// Removes every key (expired ones too: at time 0 nothing has expired), then reports a quiescent
// state so the removed values are freed.
inline void empty_store(Store& s) {
  std::vector<std::string> keys;
  s.for_each([&](const Value& v) { keys.emplace_back(v.key()); });
  for (const std::string& k : keys) s.erase(k, 0);
  s.quiescent();
}

}  // namespace hkv::fuzz
