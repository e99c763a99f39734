// SPDX-License-Identifier: MIT
// Loading, periodic and final snapshot writes, with logs that say what happened.
#include "app/snapshots.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <system_error>

#include "app/cycle_clock.h"
#include "store/snapshot.h"

namespace hkv::app {

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Snapshotter::Snapshotter(Store& store, std::string path, double interval_s, bool clean_only)
    : store_(store), path_(std::move(path)), interval_(interval_s), clean_only_(clean_only) {}

Snapshotter::~Snapshotter() { stop_periodic(); }

bool Snapshotter::load(bool ignore_bad) {
  // The mark goes before anything is served: a crash from now on must not find it.
  bool clean_stop = false;
  try {
    clean_stop = take_clean_stop_mark(path_);
  } catch (const std::exception& e) {
    spdlog::critical("cannot take away the clean-stop mark: {}; not starting (a crash later would pass an old "
                     "snapshot off as current)",
                     e.what());
    return false;
  }
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    spdlog::info("snapshot {} does not exist yet; starting empty", path_);
    return true;
  }
  if (clean_only_ && !clean_stop) {
    spdlog::warn("snapshot {} was not written by a clean stop (the last run crashed, was killed, or its shutdown "
                 "snapshot failed), so writes acknowledged after it may be missing; --snapshot-load clean-only: "
                 "starting empty (the next snapshot replaces the file)",
                 path_);
    return true;
  }
  return load_file(ignore_bad, clean_stop);
}

bool Snapshotter::load_file(bool ignore_bad, bool clean_stop) {
  const auto started = std::chrono::steady_clock::now();
  store_.attach_thread();
  bool ok = true;
  try {
    SnapshotCounts c = load_snapshot(store_, path_, coarse_now_ms());
    spdlog::info("loaded snapshot {} ({}): {} keys, {} value bytes, {} expired keys skipped, in {:.0f} ms", path_,
                 clean_stop ? "written by a clean stop" : "not from a clean stop: writes made after it are lost",
                 c.keys, c.bytes, c.expired, ms_since(started));
  } catch (const SnapshotError& e) {
    if (!ignore_bad) {
      spdlog::critical("{}; not starting. Move the file away or start with --ignore-bad-snapshot "
                       "(it is then renamed aside and hkv starts empty)",
                       e.what());
      ok = false;
    } else {
      const std::string aside = path_ + ".bad-" + std::to_string(std::time(nullptr));
      if (std::rename(path_.c_str(), aside.c_str()) == 0) {
        spdlog::error("{}; --ignore-bad-snapshot: renamed it to {} and starting empty", e.what(), aside);
      } else {
        spdlog::critical("{}; could not rename it aside to {}: not starting", e.what(), aside);
        ok = false;
      }
    }
  } catch (const std::exception& e) {
    spdlog::critical("cannot read snapshot: {}", e.what());
    ok = false;
  }
  store_.detach_thread();
  return ok;
}

bool Snapshotter::write(const char* why) {
  const auto started = std::chrono::steady_clock::now();
  try {
    SnapshotCounts c = write_snapshot(store_, path_, coarse_now_ms());
    spdlog::info("{} snapshot written to {}: {} keys, {} value bytes, in {:.0f} ms", why, path_, c.keys, c.bytes,
                 ms_since(started));
    return true;
  } catch (const std::exception& e) {
    spdlog::error("{} snapshot to {} failed: {}; the previous snapshot is unchanged", why, path_, e.what());
    return false;
  }
}

bool Snapshotter::write_final() {
  if (!write("shutdown")) return false;
  try {
    mark_clean_stop(path_);
  } catch (const std::exception& e) {
    spdlog::error("cannot mark the shutdown snapshot clean: {}; with --snapshot-load clean-only the next start "
                  "will start empty",
                  e.what());
    return false;
  }
  return true;
}

void Snapshotter::start_periodic() {
  if (interval_.count() <= 0) return;
  thread_ = std::thread([this] { run(); });
}

void Snapshotter::stop_periodic() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Snapshotter::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    write("periodic");
    lock.lock();
  }
}

}  // namespace hkv::app
