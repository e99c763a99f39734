// SPDX-License-Identifier: MIT
// Snapshots: the whole store in one versioned, checksummed file, written atomically (temp file,
// fsync, rename, fsync of the directory) and loaded only after its checksum is verified.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "store/store.h"

namespace hkv {

// A snapshot that cannot be read: missing end (truncated), bad checksum, unknown version...
class SnapshotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SnapshotCounts {
  std::uint64_t keys = 0;     // written, or loaded into the store
  std::uint64_t bytes = 0;    // value bytes among them
  std::uint64_t expired = 0;  // skipped because their expiry had passed
};

// Writes every value of `store` (expired ones skipped) to `path`. Throws std::system_error on an
// I/O error; the previous file at `path` is then left untouched.
SnapshotCounts write_snapshot(Store& store, const std::string& path, std::uint64_t now_ms);

// Proves that a snapshot can be written at `path` before anything relies on it: `path` is not a
// directory, its directory exists, and a temporary file made there as write_snapshot makes one
// (same name, mode and file system) can be written, synced and removed. Throws std::system_error
// saying what failed.
void check_snapshot_writable(const std::string& path);

// Verifies `path` and loads it into `store` with each key's remaining TTL. The calling thread
// must be attached to the store. Throws SnapshotError when the file is corrupt or truncated
// (nothing is loaded then), std::system_error when it cannot be read.
SnapshotCounts load_snapshot(Store& store, const std::string& path, std::uint64_t now_ms);

// The clean-stop mark: a file `<path>.clean` written (and synced) right after the shutdown
// snapshot, and taken away at the next start. A snapshot without it was written before a crash,
// so writes acknowledged after it may be missing. Both throw std::system_error on an I/O error.
void mark_clean_stop(const std::string& path);
// Whether the mark was there; it is gone (and the directory synced) when this returns.
bool take_clean_stop_mark(const std::string& path);

}  // namespace hkv
