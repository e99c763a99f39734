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

double unix_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::optional<std::string> snapshot_path_problem(const std::string& path) {
  try {
    check_snapshot_writable(path);
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

Snapshotter::Snapshotter(Store& store, std::string path, double interval_s, bool clean_only, bool refuse_writes)
    : store_(store), path_(std::move(path)), interval_(interval_s), clean_only_(clean_only),
      refuse_writes_(refuse_writes) {
  stats_.interval_s = interval_s;
  stats_.last_success_unix_s = unix_now_s();
}

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
  stats_.in_progress = true;
  try {
    SnapshotCounts c = write_snapshot(store_, path_, coarse_now_ms());
    const double took_ms = ms_since(started);
    struct stat st;
    stats_.bytes = ::stat(path_.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    stats_.keys = c.keys;
    stats_.last_duration_s = took_ms / 1000;
    stats_.last_success_unix_s = unix_now_s();
    stats_.in_progress = false;
    spdlog::info("{} snapshot written to {}: {} keys, {} value bytes, in {:.0f} ms", why, path_, c.keys, c.bytes,
                 took_ms);
    if (stats_.last_failed.exchange(false) && refuse_writes_) spdlog::warn("snapshots succeed again: writes accepted");
    return true;
  } catch (const std::exception& e) {
    stats_.failures.fetch_add(1);
    stats_.in_progress = false;
    const bool newly = !stats_.last_failed.exchange(true);
    spdlog::error("{} snapshot to {} failed: {}; the previous snapshot is unchanged{}", why, path_, e.what(),
                  refuse_writes_ && newly ? "; --snapshot-fail-policy refuse-writes: writes get 503 until a "
                                            "snapshot succeeds"
                                          : "");
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
