// SPDX-License-Identifier: MIT
// Metrics: per-worker counters (written only by their worker, without atomic read-modify-write)
// summed when /metrics (Prometheus text format 0.0.4) or /stats (JSON) is served.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/admission.h"
#include "http/context.h"
#include "app/routes.h"
#include "http/request.h"
#include "net/connection.h"
#include "net/counter.h"
#include "store/store.h"

namespace hkv::app {

using Cell = net::Counter;

inline constexpr std::size_t kProtocols = 2;  // http::HttpVersion
inline constexpr std::size_t kMethods = 6;    // http::Method
inline constexpr std::size_t kRouteSlots = kRouteCount + 1;  // the route table's rows, then kNoRoute
// Status codes counted one by one; the last slot takes any other.
inline constexpr std::array<std::uint16_t, 17> kCountedStatuses = {200, 201, 204, 304, 400, 401, 404, 405, 412,
                                                                  413, 414, 415, 417, 431, 500, 503, 0};
// Upper bounds of the latency histogram, in seconds (+Inf is implied).
inline constexpr std::array<double, 12> kLatencyBounds = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                          0.001,   0.0025,   0.005,   0.01,   0.1,     1.0};

struct alignas(64) WorkerMetrics {
  std::array<std::array<std::array<std::array<Cell, kCountedStatuses.size()>, kRouteSlots>, kMethods>, kProtocols>
      requests;
  std::array<Cell, kLatencyBounds.size() + 1> latency_buckets;  // the last is +Inf
  Cell latency_sum_ticks;  // CycleClock ticks; converted to seconds on scrape
  Cell hits;
  Cell misses;
  Cell evictions;
  Cell expirations;
  Cell connections_open;
  Cell connections_accepted;
  Cell connections_idle;             // resting between requests (net::ConnectionSet); set every tick
  Cell h2_session_bytes;             // held by this worker's HTTP/2 sessions (http::h2_memory_in_use); set every tick
  Cell connections_refused;         // over --max-connections
  Cell accept_errors;               // out of file descriptors or memory at accept
  net::TimeoutCounters timeouts;    // connections closed by a timeout, by net::Awaiting
  http::ProtocolCounters protocol;  // filled by the protocol sessions of this worker

  std::array<std::uint64_t, kLatencyBounds.size()> latency_bounds_ticks;  // kLatencyBounds in CycleClock ticks

  WorkerMetrics();
  // `latency_ticks` in CycleClock ticks: compared with bounds converted once, so a request costs
  // no floating point.
  // `route` is a RouteMatch::index().
  void count_request(http::HttpVersion proto, http::Method method, std::size_t route, std::uint16_t status,
                     std::uint64_t latency_ticks);
};

struct SnapshotStats;  // snapshots.h
struct MetricTotals;  // the workers' counters summed (metrics.cc)
struct Readings;      // those and the store's and admission's numbers, for one page

class MetricsRegistry {
 public:
  // `node`: this node's name (--node-name), shown in /stats and hkv_build_info.
  MetricsRegistry(int workers, const Store& store, const http::AdmissionGate& gate, std::string node = "hkv");

  WorkerMetrics& worker(int i) { return *workers_[static_cast<std::size_t>(i)]; }
  // With --snapshot: the pages also show what the snapshots did.
  void show_snapshots(const SnapshotStats* stats) { snapshots_ = stats; }

  std::string prometheus_text() const;
  std::string json() const;
  // Requests answered so far, and client connections open now, across the workers.
  std::uint64_t requests_total() const;
  std::uint64_t connections_open() const;

 private:
  MetricTotals sum() const;
  Readings read(const MetricTotals& t) const;

  std::vector<std::unique_ptr<WorkerMetrics>> workers_;
  const Store& store_;
  const http::AdmissionGate& gate_;
  std::chrono::steady_clock::time_point started_;
  std::string node_;
  const SnapshotStats* snapshots_ = nullptr;
};

}  // namespace hkv::app
