// SPDX-License-Identifier: MIT
// Snapshotter: loads --snapshot at start, writes it every --snapshot-interval seconds on its own
// thread (requests never wait for it: the store is copied out one shard at a time), and writes a
// last one after the workers have drained at shutdown, followed by the clean-stop mark.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "store/store.h"

namespace hkv::app {

class Snapshotter {
 public:
  // `clean_only` (--snapshot-load clean-only): load the file only when the last run ended with a
  // clean shutdown snapshot; after a crash start empty.
  Snapshotter(Store& store, std::string path, double interval_s, bool clean_only);
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

 private:
  void run();
  bool load_file(bool ignore_bad, bool clean_stop);

  Store& store_;
  const std::string path_;
  const std::chrono::duration<double> interval_;
  const bool clean_only_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hkv::app
