// SPDX-License-Identifier: MIT
// Start-up and shutdown: signals are blocked in every thread and taken with sigwait by the main
// thread, which then asks each worker to drain and joins them. SIGHUP is logged and ignored.
// Under systemd it reports readiness, status and stopping (ServiceStatus).
#include "app/server.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <vector>

#include "app/cycle_clock.h"
#include "app/metrics.h"
#include "app/service_status.h"
#include "app/snapshots.h"
#include "app/worker.h"
#include "http/admission.h"
#include "net/listener.h"

namespace hkv::app {

namespace {

const char* store_name(StoreKind k) { return k == StoreKind::lockfree ? "lockfree" : "sharded"; }

// Raises the soft limit on open files to the hard one, and warns when that still cannot hold
// --max-connections (plus listeners, snapshot files and the like).
void raise_file_limit(int max_connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  constexpr rlim_t kSpare = 64;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < static_cast<rlim_t>(max_connections) + kSpare) {
    spdlog::warn("the open-file limit ({}) is below --max-connections {} + {}: connections beyond it wait in the "
                 "accept queue (raise ulimit -n)",
                 lim.rlim_cur, max_connections, kSpare);
  }
}

// Takes signals until SIGINT or SIGTERM, which it returns. SIGHUP is logged and changes nothing;
// every few seconds in between, systemd gets a status line.
int wait_for_stop(const sigset_t& signals, ServiceStatus& service) {
  constexpr timespec kStatusEvery{5, 0};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &kStatusEvery);
    if (sig == SIGINT || sig == SIGTERM) return sig;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: nothing to reload (settings are read once, at start); restart hkv to apply a change");
    } else {
      service.update();  // the timeout (or an interrupted wait)
    }
  }
}

// Large values come and go at the rate of writes. By default glibc maps each allocation over
// 128 KiB on its own and hands back the top of a heap once 128 KiB of it is free, so every write
// of a large value faults its pages in anew: a 256 KiB write took 1.7 times as long
// (bench/NOTES.md, issue 15). Values up to 32 MiB come from the heaps instead, and up to 32 MiB
// free is kept at the top of each.
void tune_allocator() {
  constexpr int kLargest = 32 << 20;
  mallopt(M_MMAP_THRESHOLD, kLargest);
  mallopt(M_TRIM_THRESHOLD, kLargest);
}

// Blocks the signals wait_for_stop() takes, in every thread started after this; ignores SIGPIPE.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

std::string address_text(const std::string& bind, int port) {
  const bool v6 = bind.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", v6 ? "[" : "", bind, v6 ? "]" : "", port);
}

void log_listening(const Config& config, int port) {
  spdlog::info(
      "hkv {} listening on {} threads={}{} store={} concurrency-limit={} max-value-size={} max-memory={} "
      "default-ttl={}s max-connections={} auth={}",
      kVersion, address_text(config.bind, port), config.threads, config.pin_threads ? " (pinned)" : "",
      store_name(config.store), config.concurrency_limit, config.http.max_value_size, config.max_memory,
      config.default_ttl_s, config.max_connections,
      config.auth_token.empty() ? "off" : config.auth_reads ? "all" : "writes");
}

// Lets the workers finish what their connections are doing (up to --shutdown-timeout), then
// writes the final snapshot. Returns the exit status.
int drain_and_stop(const Config& config, int sig, std::vector<std::unique_ptr<Worker>>& workers, const Store& store,
                   Snapshotter* snapshots) {
  spdlog::info("received {}, draining connections (up to {} s)", sig == SIGINT ? "SIGINT" : "SIGTERM",
               config.shutdown_timeout_s);
  auto started = std::chrono::steady_clock::now();
  for (auto& w : workers) w->request_stop();
  for (auto& w : workers) w->join();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  spdlog::info("workers stopped in {} ms; {} keys in store", took.count(), store.size());
  workers.clear();
  int status = 0;
  if (snapshots != nullptr) {
    snapshots->stop_periodic();
    if (!snapshots->write_final()) status = 1;
  }
  spdlog::info("hkv stopped");
  return status;
}

}  // namespace

int run_server(const Config& config) {
  const sigset_t signals = block_stop_signals();

  tune_allocator();
  CycleClock::ns_per_tick();  // calibrate the latency clock before any worker needs it
  StoreOptions store_options;
  store_options.initial_capacity = config.initial_capacity;
  store_options.max_memory = config.max_memory;
  auto store = make_store(config.store, store_options);
  http::AdmissionGate gate(config.concurrency_limit);
  MetricsRegistry metrics(config.threads, *store, gate, config.node_name);
  std::unique_ptr<Snapshotter> snapshots;
  if (!config.snapshot_path.empty()) {
    if (auto problem = snapshot_path_problem(config.snapshot_path)) {
      spdlog::critical("--snapshot {}: cannot write a snapshot there: {}; not starting (nothing kept could be saved)",
                       config.snapshot_path, *problem);
      return 2;
    }
    snapshots = std::make_unique<Snapshotter>(*store, config.snapshot_path, config.snapshot_interval_s,
                                              config.snapshot_clean_only, config.snapshot_refuse_writes);
    if (!snapshots->load(config.ignore_bad_snapshot)) return 1;
    metrics.show_snapshots(&snapshots->stats());
  }
  AccessPolicy access(config.auth_token, config.auth_reads);
  HandlerOptions handler_options{config.default_ttl_s, &access,
                                 config.node_header ? std::string_view(config.node_name) : std::string_view(),
                                 config.snapshot_refuse_writes ? &snapshots->stats().last_failed : nullptr};
  net::ConnectionBudget connections(config.max_connections);
  raise_file_limit(config.max_connections);
  auto timeout = std::chrono::milliseconds(static_cast<long>(config.shutdown_timeout_s * 1000));

  net::ListenOptions listen;
  listen.address = config.bind;
  listen.port = config.port;
  std::vector<std::unique_ptr<Worker>> workers;
  try {
    listen.port = net::claim_port(listen);  // refuse a port another process (even hkv) listens on
    for (int i = 0; i < config.threads; ++i) {
      workers.push_back(std::make_unique<Worker>(listen, config.http, config.timeouts, *store, gate, connections,
                                                 timeout, metrics.worker(i), metrics, handler_options));
    }
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen: {}", e.what());
    return 1;
  }
  std::vector<int> cpus = allowed_cpus();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    int cpu = config.pin_threads && !cpus.empty() ? cpus[i % cpus.size()] : -1;
    workers[i]->start(cpu);
  }
  log_listening(config, listen.port);  // once every worker runs (and is pinned): tools wait for this line
  if (snapshots) snapshots->start_periodic();

  ServiceStatus service(metrics, *store);
  service.ready(address_text(config.bind, listen.port));
  const int sig = wait_for_stop(signals, service);
  service.stopping();
  return drain_and_stop(config, sig, workers, *store, snapshots.get());
}

}  // namespace hkv::app
