// SPDX-License-Identifier: MIT
// Counting requests per worker and rendering the sums as Prometheus text and as JSON.
#include "app/metrics.h"

#include "app/config.h"
#include "app/cycle_clock.h"
#include "app/snapshots.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <utility>

namespace hkv::app {

namespace {

constexpr std::array<const char*, kProtocols> kProtocolNames = {"h1", "h2"};
constexpr std::array<const char*, kMethods> kMethodNames = {"GET", "HEAD", "POST", "PUT", "DELETE", "other"};
// By net::Awaiting: what the connection was waiting for when it timed out.
constexpr std::array<const char*, net::kAwaitingKinds> kTimeoutNames = {"idle", "header", "body", "send"};

std::size_t status_slot(std::uint16_t status) {
  static constexpr auto kSlots = [] {  // status code -> slot, one table lookup per request
    std::array<std::uint8_t, 600> t{};
    t.fill(static_cast<std::uint8_t>(kCountedStatuses.size() - 1));
    for (std::size_t i = 0; i + 1 < kCountedStatuses.size(); ++i) t[kCountedStatuses[i]] = static_cast<std::uint8_t>(i);
    return t;
  }();
  return status < kSlots.size() ? kSlots[status] : kCountedStatuses.size() - 1;
}

std::string status_label(std::size_t slot) {
  return slot + 1 == kCountedStatuses.size() ? "other" : std::to_string(kCountedStatuses[slot]);
}

}  // namespace

WorkerMetrics::WorkerMetrics() {
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i)
    latency_bounds_ticks[i] = static_cast<std::uint64_t>(kLatencyBounds[i] * 1e9 / CycleClock::ns_per_tick());
}

void WorkerMetrics::count_request(http::HttpVersion proto, http::Method method, std::size_t route,
                                  std::uint16_t status, std::uint64_t latency_ticks) {
  requests[static_cast<std::size_t>(proto)][static_cast<std::size_t>(method)][route]
          [status_slot(status)]
              .add();
  // The first bound >= the latency (Prometheus buckets are upper-inclusive): the number of bounds
  // below it, counted without branches.
  std::size_t b = 0;
  for (std::uint64_t bound : latency_bounds_ticks) b += latency_ticks > bound;
  latency_buckets[b].add();
  latency_sum_ticks.add(latency_ticks);
}

struct MetricTotals {
  std::array<std::array<std::array<std::array<std::uint64_t, kCountedStatuses.size()>, kRouteSlots>, kMethods>, kProtocols>
      requests{};
  std::array<std::uint64_t, kLatencyBounds.size() + 1> latency_buckets{};
  std::uint64_t latency_sum_ticks = 0, hits = 0, misses = 0, evictions = 0, expirations = 0;
  std::uint64_t connections_open = 0, connections_accepted = 0, connections_idle = 0, h2_session_bytes = 0;
  std::array<std::uint64_t, http::kH2AbuseKinds> h2_abuse{};
  std::uint64_t h2_goaways = 0;
  std::uint64_t connections_refused = 0, accept_errors = 0;
  std::array<std::uint64_t, net::kAwaitingKinds> timeouts{};
};

// Everything the pages show comes from one reading, taken once per page.
struct Readings {
  MetricTotals t;
  std::uint64_t items, memory_used, memory_limit, in_flight;
};

namespace {

// A metric that is one number: its Prometheus name, type and help, and its field in /stats.
struct ScalarMetric {
  const char* name;
  const char* type;
  const char* help;
  const char* field;
  std::uint64_t (*value)(const Readings&);
};

// A metric with one label: a number per kind.
struct LabeledMetric {
  const char* name;
  const char* type;
  const char* help;
  const char* field;
  std::span<const char* const> kinds;
  std::uint64_t (*value)(const Readings&, std::size_t kind);
};

// The metrics both pages list, in this order (requests by label, the latency histogram, build
// information and uptime have shapes of their own and are written beside these).
constexpr ScalarMetric kScalars[] = {
    {"hkv_cache_hits_total", "counter", "GETs that found a live value.", "hits",
     [](const Readings& r) { return r.t.hits; }},
    {"hkv_cache_misses_total", "counter", "GETs that found no live value.", "misses",
     [](const Readings& r) { return r.t.misses; }},
    {"hkv_evictions_total", "counter", "Values evicted (SIEVE) to stay under --max-memory.", "evictions",
     [](const Readings& r) { return r.t.evictions; }},
    {"hkv_expirations_total", "counter", "Expired values removed, on read or by the background sweep.", "expirations",
     [](const Readings& r) { return r.t.expirations; }},
    {"hkv_items", "gauge", "Keys in the store, expired ones not yet removed included.", "items",
     [](const Readings& r) { return r.items; }},
    {"hkv_memory_used_bytes", "gauge", "Bytes the items use, as --max-memory counts them.", "memory_used_bytes",
     [](const Readings& r) { return r.memory_used; }},
    {"hkv_memory_limit_bytes", "gauge", "--max-memory (0 = unbounded).", "memory_limit_bytes",
     [](const Readings& r) { return r.memory_limit; }},
    {"hkv_connections_open", "gauge", "Client connections open.", "connections_open",
     [](const Readings& r) { return r.t.connections_open; }},
    {"hkv_connections_idle", "gauge",
     "Client connections idle between requests, holding no buffers (sampled every 100 ms).", "connections_idle",
     [](const Readings& r) { return r.t.connections_idle; }},
    {"hkv_h2_session_bytes", "gauge",
     "Memory held by HTTP/2 sessions: nghttp2's state and the open streams (sampled every 100 ms).",
     "h2_session_bytes", [](const Readings& r) { return r.t.h2_session_bytes; }},
    {"hkv_connections_accepted_total", "counter", "Client connections accepted.", "connections_accepted",
     [](const Readings& r) { return r.t.connections_accepted; }},
    {"hkv_connections_refused_total", "counter",
     "Connections answered 503 and closed because --max-connections were open.", "connections_refused",
     [](const Readings& r) { return r.t.connections_refused; }},
    {"hkv_accept_errors_total", "counter",
     "Times accepting paused for lack of file descriptors or memory (see ulimit -n).", "accept_errors",
     [](const Readings& r) { return r.t.accept_errors; }},
    {"hkv_requests_in_flight", "gauge", "Requests being handled: holding an admission slot (--concurrency-limit).",
     "requests_in_flight", [](const Readings& r) { return r.in_flight; }},
    {"hkv_h2_goaways_total", "counter", "HTTP/2 GOAWAY frames sent, for any reason.", "h2_goaways",
     [](const Readings& r) { return r.t.h2_goaways; }},
};

// What the snapshots did (shown with --snapshot only).
struct SnapshotMetric {
  const char* name;
  const char* type;
  const char* help;
  const char* field;  // in /stats' "snapshot" object
  double (*value)(const SnapshotStats&);
};

constexpr SnapshotMetric kSnapshotMetrics[] = {
    {"hkv_snapshot_last_success_timestamp_seconds", "gauge",
     "Unix time the last snapshot was written (the start time until one is).", "last_success_timestamp_seconds",
     [](const SnapshotStats& s) { return s.last_success_unix_s.load(); }},
    {"hkv_snapshot_last_duration_seconds", "gauge", "How long the last successful snapshot took to write.",
     "last_duration_seconds", [](const SnapshotStats& s) { return s.last_duration_s.load(); }},
    {"hkv_snapshot_bytes", "gauge", "Size of the last successful snapshot file.", "bytes",
     [](const SnapshotStats& s) { return static_cast<double>(s.bytes.load()); }},
    {"hkv_snapshot_keys", "gauge", "Keys in the last successful snapshot.", "keys",
     [](const SnapshotStats& s) { return static_cast<double>(s.keys.load()); }},
    {"hkv_snapshot_failures_total", "counter", "Snapshots that could not be written (the previous file stays).",
     "failures", [](const SnapshotStats& s) { return static_cast<double>(s.failures.load()); }},
    {"hkv_snapshot_last_attempt_failed", "gauge",
     "1 while the last snapshot attempt has failed (--snapshot-fail-policy refuse-writes then refuses writes).",
     "last_attempt_failed", [](const SnapshotStats& s) { return s.last_failed.load() ? 1.0 : 0.0; }},
    {"hkv_snapshot_in_progress", "gauge", "1 while a snapshot is being written.", "in_progress",
     [](const SnapshotStats& s) { return s.in_progress.load() ? 1.0 : 0.0; }},
    {"hkv_snapshot_interval_seconds", "gauge", "--snapshot-interval (0 = only at shutdown).", "interval_seconds",
     [](const SnapshotStats& s) { return s.interval_s; }},
};

constexpr LabeledMetric kLabeled[] = {
    {"hkv_timeouts_total", "counter",
     "Connections closed by a timeout: header, body, idle or send (--header-timeout etc.).", "timeouts",
     kTimeoutNames, [](const Readings& r, std::size_t k) { return r.t.timeouts[k]; }},
    {"hkv_h2_flood_goaways_total", "counter",
     "HTTP/2 connections sent GOAWAY for crossing a flood limit, by kind (see --help: --h2-*).", "h2_flood_goaways",
     http::kH2AbuseNames, [](const Readings& r, std::size_t k) { return r.t.h2_abuse[k]; }},
};

}  // namespace

MetricsRegistry::MetricsRegistry(int workers, const Store& store, const http::AdmissionGate& gate, std::string node)
    : store_(store), gate_(gate), started_(std::chrono::steady_clock::now()), node_(std::move(node)) {
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerMetrics>());
}

std::uint64_t MetricsRegistry::requests_total() const {
  std::uint64_t n = 0;  // every answered request lands in exactly one latency bucket
  for (const auto& w : workers_) {
    for (const auto& bucket : w->latency_buckets) n += bucket.get();
  }
  return n;
}

std::uint64_t MetricsRegistry::connections_open() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->connections_open.get();
  return n;
}

MetricTotals MetricsRegistry::sum() const {
  MetricTotals t;
  for (const auto& w : workers_) {
    for (std::size_t p = 0; p < kProtocols; ++p)
      for (std::size_t m = 0; m < kMethods; ++m)
        for (std::size_t r = 0; r < kRouteSlots; ++r)
          for (std::size_t s = 0; s < kCountedStatuses.size(); ++s) t.requests[p][m][r][s] += w->requests[p][m][r][s].get();
    for (std::size_t b = 0; b < t.latency_buckets.size(); ++b) t.latency_buckets[b] += w->latency_buckets[b].get();
    t.latency_sum_ticks += w->latency_sum_ticks.get();
    t.hits += w->hits.get();
    t.misses += w->misses.get();
    t.evictions += w->evictions.get();
    t.expirations += w->expirations.get();
    t.connections_open += w->connections_open.get();
    t.connections_accepted += w->connections_accepted.get();
    t.connections_idle += w->connections_idle.get();
    t.h2_session_bytes += w->h2_session_bytes.get();
    for (std::size_t a = 0; a < http::kH2AbuseKinds; ++a) t.h2_abuse[a] += w->protocol.h2_abuse[a].get();
    t.h2_goaways += w->protocol.h2_goaways.get();
    t.connections_refused += w->connections_refused.get();
    t.accept_errors += w->accept_errors.get();
    for (std::size_t k = 0; k < net::kAwaitingKinds; ++k) t.timeouts[k] += w->timeouts[k].get();
  }
  return t;
}

Readings MetricsRegistry::read(const MetricTotals& t) const {
  return Readings{t, store_.size(), store_.bytes_used(), store_.max_memory(),
                  static_cast<std::uint64_t>(std::max(0, gate_.in_flight()))};
}

std::string MetricsRegistry::prometheus_text() const {
  const MetricTotals t = sum();
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto sample = [&](const char* name, std::uint64_t v) { fmt::format_to(std::back_inserter(out), "{} {}\n", name, v); };

  family("hkv_build_info", "gauge", "Always 1: this node's name (--node-name) and hkv's version, as labels.");
  fmt::format_to(std::back_inserter(out), "hkv_build_info{{node=\"{}\",version=\"{}\"}} 1\n", node_, kVersion);
  family("hkv_requests_total", "counter", "Requests answered by the application, by protocol, method, route and status.");
  for (std::size_t p = 0; p < kProtocols; ++p)
    for (std::size_t m = 0; m < kMethods; ++m)
      for (std::size_t r = 0; r < kRouteSlots; ++r)
        for (std::size_t s = 0; s < kCountedStatuses.size(); ++s) {
          if (t.requests[p][m][r][s] == 0) continue;
          fmt::format_to(std::back_inserter(out),
                         "hkv_requests_total{{protocol=\"{}\",method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                         kProtocolNames[p], kMethodNames[m], route_label(r), status_label(s), t.requests[p][m][r][s]);
        }
  family("hkv_request_duration_seconds", "histogram",
         "Time from the start of the event-loop turn that picked the request up to its response being ready.");
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < t.latency_buckets.size(); ++b) {
    cumulative += t.latency_buckets[b];
    if (b < kLatencyBounds.size()) {
      fmt::format_to(std::back_inserter(out), "hkv_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBounds[b],
                     cumulative);
    } else {
      fmt::format_to(std::back_inserter(out), "hkv_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    }
  }
  fmt::format_to(std::back_inserter(out), "hkv_request_duration_seconds_sum {}\n",
                 static_cast<double>(t.latency_sum_ticks) * CycleClock::ns_per_tick() * 1e-9);
  fmt::format_to(std::back_inserter(out), "hkv_request_duration_seconds_count {}\n", cumulative);

  const Readings readings = read(t);
  for (const ScalarMetric& m : kScalars) {
    family(m.name, m.type, m.help);
    sample(m.name, m.value(readings));
  }
  for (const LabeledMetric& m : kLabeled) {
    family(m.name, m.type, m.help);
    for (std::size_t k = 0; k < m.kinds.size(); ++k)
      fmt::format_to(std::back_inserter(out), "{}{{kind=\"{}\"}} {}\n", m.name, m.kinds[k], m.value(readings, k));
  }
  if (snapshots_ != nullptr) {
    for (const SnapshotMetric& m : kSnapshotMetrics) {
      family(m.name, m.type, m.help);
      fmt::format_to(std::back_inserter(out), "{} {}\n", m.name, m.value(*snapshots_));
    }
  }
  family("hkv_uptime_seconds", "gauge", "Seconds since the server started.");
  fmt::format_to(std::back_inserter(out), "hkv_uptime_seconds {:.3f}\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  return out;
}

std::string MetricsRegistry::json() const {
  const MetricTotals t = sum();
  std::string out = "{";
  auto field = [&](const char* name, auto v) { fmt::format_to(std::back_inserter(out), "\"{}\":{},", name, v); };
  fmt::format_to(std::back_inserter(out), "\"node\":\"{}\",\"version\":\"{}\",", node_, kVersion);
  field("uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  const Readings readings = read(t);
  for (const ScalarMetric& m : kScalars) field(m.field, m.value(readings));
  for (const LabeledMetric& m : kLabeled) {
    fmt::format_to(std::back_inserter(out), "\"{}\":{{", m.field);
    for (std::size_t k = 0; k < m.kinds.size(); ++k)
      fmt::format_to(std::back_inserter(out), "{}\"{}\":{}", k == 0 ? "" : ",", m.kinds[k], m.value(readings, k));
    out += "},";
  }
  if (snapshots_ != nullptr) {
    out += "\"snapshot\":{";
    for (const SnapshotMetric& m : kSnapshotMetrics)
      fmt::format_to(std::back_inserter(out), "{}\"{}\":{}", &m == kSnapshotMetrics ? "" : ",", m.field,
                     m.value(*snapshots_));
    out += "},";
  }
  out += "\"requests\":[";
  bool first = true;
  std::uint64_t total = 0;
  for (std::size_t p = 0; p < kProtocols; ++p)
    for (std::size_t m = 0; m < kMethods; ++m)
      for (std::size_t r = 0; r < kRouteSlots; ++r)
        for (std::size_t s = 0; s < kCountedStatuses.size(); ++s) {
          const std::uint64_t n = t.requests[p][m][r][s];
          if (n == 0) continue;
          total += n;
          fmt::format_to(std::back_inserter(out),
                         "{}{{\"protocol\":\"{}\",\"method\":\"{}\",\"route\":\"{}\",\"status\":\"{}\",\"count\":{}}}",
                         first ? "" : ",", kProtocolNames[p], kMethodNames[m], route_label(r), status_label(s), n);
          first = false;
        }
  out += "],";
  field("requests_total", total);
  out += "\"latency_seconds\":{\"buckets\":{";
  for (std::size_t b = 0; b < t.latency_buckets.size(); ++b) {
    if (b < kLatencyBounds.size()) {
      fmt::format_to(std::back_inserter(out), "\"{}\":{},", kLatencyBounds[b], t.latency_buckets[b]);
    } else {
      fmt::format_to(std::back_inserter(out), "\"+Inf\":{}", t.latency_buckets[b]);
    }
  }
  fmt::format_to(std::back_inserter(out), "}},\"sum\":{}}}}}\n", static_cast<double>(t.latency_sum_ticks) * CycleClock::ns_per_tick() * 1e-9);
  return out;
}

}  // namespace hkv::app
