// SPDX-License-Identifier: MIT
// Snapshotter: loads --snapshot at start, writes it every --snapshot-interval seconds on its own
// thread (requests never wait for it: the store is copied out one shard at a time), and writes a
// last one after the workers have drained at shutdown, followed by the clean-stop mark. Counts
// what it did for /metrics and /stats.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "store/store.h"

namespace hkv::app {

// Why a snapshot cannot be written at `path` (see check_snapshot_writable), or nothing.
std::optional<std::string> snapshot_path_problem(const std::string& path);

// What the snapshots did, for /metrics and /stats: written by the thread that snapshots, read by any.
struct SnapshotStats {
  double interval_s = 0;                       // --snapshot-interval
  std::atomic<double> last_success_unix_s{0};  // the start time until a snapshot is written
  std::atomic<double> last_duration_s{0};      // of the last successful snapshot
  std::atomic<std::uint64_t> bytes{0};         // the last successful snapshot's file size
  std::atomic<std::uint64_t> keys{0};          // and its keys
  std::atomic<std::uint64_t> failures{0};
  std::atomic<bool> in_progress{false};
  std::atomic<bool> last_failed{false};  // the last attempt failed: --snapshot-fail-policy refuse-writes refuses writes
};

class Snapshotter {
 public:
  // `clean_only` (--snapshot-load clean-only): load the file only when the last run ended with a
  // clean shutdown snapshot; after a crash start empty. `refuse_writes` (--snapshot-fail-policy
  // refuse-writes): writes are refused while the last attempt has failed (the handler reads
  // stats().last_failed; this only says so in the log).
  Snapshotter(Store& store, std::string path, double interval_s, bool clean_only, bool refuse_writes);
  ~Snapshotter();

  // Loads the file if it exists (and, with clean_only, carries the clean-stop mark), then takes
  // the mark away. A corrupt or truncated file stops the start (returns false) unless
  // `ignore_bad`: then it is renamed aside (never deleted) and the store starts empty.
  bool load(bool ignore_bad);
  void start_periodic();
  void stop_periodic();
  // Writes the snapshot now; logs the outcome. `why`: "periodic", "shutdown".
  bool write(const char* why);
  // The shutdown snapshot, then the clean-stop mark beside it.
  bool write_final();
  const SnapshotStats& stats() const { return stats_; }

 private:
  void run();
  bool load_file(bool ignore_bad, bool clean_stop);

  Store& store_;
  const std::string path_;
  const std::chrono::duration<double> interval_;
  const bool clean_only_;
  const bool refuse_writes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  SnapshotStats stats_;
};

}  // namespace hkv::app
