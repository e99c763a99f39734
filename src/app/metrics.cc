// SPDX-License-Identifier: MIT
// Counting requests per worker and rendering the sums as Prometheus text and as JSON.
#include "app/metrics.h"

#include "app/config.h"
#include "app/cycle_clock.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace hkv::app {

namespace {

constexpr std::array<const char*, kProtocols> kProtocolNames = {"h1", "h2"};
constexpr std::array<const char*, kMethods> kMethodNames = {"GET", "HEAD", "POST", "PUT", "DELETE", "other"};
// By net::Awaiting: what the connection was waiting for when it timed out.
constexpr std::array<const char*, net::kAwaitingKinds> kTimeoutNames = {"idle", "header", "body", "send"};
constexpr std::array<const char*, kRoutes> kRouteNames = {"root", "get", "store", "metrics", "stats", "keys", "none"};

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

void WorkerMetrics::count_request(http::HttpVersion proto, http::Method method, http::RouteKind route,
                                  std::uint16_t status, std::uint64_t latency_ticks) {
  requests[static_cast<std::size_t>(proto)][static_cast<std::size_t>(method)][static_cast<std::size_t>(route)]
          [status_slot(status)]
              .add();
  // The first bound >= the latency (Prometheus buckets are upper-inclusive): the number of bounds
  // below it, counted without branches.
  std::size_t b = 0;
  for (std::uint64_t bound : latency_bounds_ticks) b += latency_ticks > bound;
  latency_buckets[b].add();
  latency_sum_ticks.add(latency_ticks);
}

struct MetricsRegistry::Totals {
  std::array<std::array<std::array<std::array<std::uint64_t, kCountedStatuses.size()>, kRoutes>, kMethods>, kProtocols>
      requests{};
  std::array<std::uint64_t, kLatencyBounds.size() + 1> latency_buckets{};
  std::uint64_t latency_sum_ticks = 0, hits = 0, misses = 0, evictions = 0, expirations = 0;
  std::uint64_t connections_open = 0, connections_accepted = 0;
  std::array<std::uint64_t, http::kH2AbuseKinds> h2_abuse{};
  std::uint64_t h2_goaways = 0;
  std::uint64_t connections_refused = 0, accept_errors = 0;
  std::array<std::uint64_t, net::kAwaitingKinds> timeouts{};
};

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

MetricsRegistry::Totals MetricsRegistry::sum() const {
  Totals t;
  for (const auto& w : workers_) {
    for (std::size_t p = 0; p < kProtocols; ++p)
      for (std::size_t m = 0; m < kMethods; ++m)
        for (std::size_t r = 0; r < kRoutes; ++r)
          for (std::size_t s = 0; s < kCountedStatuses.size(); ++s) t.requests[p][m][r][s] += w->requests[p][m][r][s].get();
    for (std::size_t b = 0; b < t.latency_buckets.size(); ++b) t.latency_buckets[b] += w->latency_buckets[b].get();
    t.latency_sum_ticks += w->latency_sum_ticks.get();
    t.hits += w->hits.get();
    t.misses += w->misses.get();
    t.evictions += w->evictions.get();
    t.expirations += w->expirations.get();
    t.connections_open += w->connections_open.get();
    t.connections_accepted += w->connections_accepted.get();
    for (std::size_t a = 0; a < http::kH2AbuseKinds; ++a) t.h2_abuse[a] += w->protocol.h2_abuse[a].get();
    t.h2_goaways += w->protocol.h2_goaways.get();
    t.connections_refused += w->connections_refused.get();
    t.accept_errors += w->accept_errors.get();
    for (std::size_t k = 0; k < net::kAwaitingKinds; ++k) t.timeouts[k] += w->timeouts[k].get();
  }
  return t;
}

std::string MetricsRegistry::prometheus_text() const {
  const Totals t = sum();
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
      for (std::size_t r = 0; r < kRoutes; ++r)
        for (std::size_t s = 0; s < kCountedStatuses.size(); ++s) {
          if (t.requests[p][m][r][s] == 0) continue;
          fmt::format_to(std::back_inserter(out),
                         "hkv_requests_total{{protocol=\"{}\",method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
                         kProtocolNames[p], kMethodNames[m], kRouteNames[r], status_label(s), t.requests[p][m][r][s]);
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

  family("hkv_cache_hits_total", "counter", "GETs that found a live value.");
  sample("hkv_cache_hits_total", t.hits);
  family("hkv_cache_misses_total", "counter", "GETs that found no live value.");
  sample("hkv_cache_misses_total", t.misses);
  family("hkv_evictions_total", "counter", "Values evicted (SIEVE) to stay under --max-memory.");
  sample("hkv_evictions_total", t.evictions);
  family("hkv_expirations_total", "counter", "Expired values removed, on read or by the background sweep.");
  sample("hkv_expirations_total", t.expirations);
  family("hkv_items", "gauge", "Keys in the store, expired ones not yet removed included.");
  sample("hkv_items", store_.size());
  family("hkv_memory_used_bytes", "gauge", "Bytes the items use, as --max-memory counts them.");
  sample("hkv_memory_used_bytes", store_.bytes_used());
  family("hkv_memory_limit_bytes", "gauge", "--max-memory (0 = unbounded).");
  sample("hkv_memory_limit_bytes", store_.max_memory());
  family("hkv_connections_open", "gauge", "Client connections open.");
  sample("hkv_connections_open", t.connections_open);
  family("hkv_connections_accepted_total", "counter", "Client connections accepted.");
  sample("hkv_connections_accepted_total", t.connections_accepted);
  family("hkv_connections_refused_total", "counter",
         "Connections answered 503 and closed because --max-connections were open.");
  sample("hkv_connections_refused_total", t.connections_refused);
  family("hkv_accept_errors_total", "counter",
         "Times accepting paused for lack of file descriptors or memory (see ulimit -n).");
  sample("hkv_accept_errors_total", t.accept_errors);
  family("hkv_timeouts_total", "counter",
         "Connections closed by a timeout: header, body, idle or send (--header-timeout etc.).");
  for (std::size_t k = 0; k < net::kAwaitingKinds; ++k)
    fmt::format_to(std::back_inserter(out), "hkv_timeouts_total{{kind=\"{}\"}} {}\n", kTimeoutNames[k], t.timeouts[k]);
  family("hkv_requests_in_flight", "gauge", "Requests being handled: holding an admission slot (--concurrency-limit).");
  sample("hkv_requests_in_flight", static_cast<std::uint64_t>(std::max(0, gate_.in_flight())));
  family("hkv_h2_goaways_total", "counter", "HTTP/2 GOAWAY frames sent, for any reason.");
  sample("hkv_h2_goaways_total", t.h2_goaways);
  family("hkv_h2_flood_goaways_total", "counter",
         "HTTP/2 connections sent GOAWAY for crossing a flood limit, by kind (see --help: --h2-*).");
  for (std::size_t a = 0; a < http::kH2AbuseKinds; ++a)
    fmt::format_to(std::back_inserter(out), "hkv_h2_flood_goaways_total{{kind=\"{}\"}} {}\n", http::kH2AbuseNames[a],
                   t.h2_abuse[a]);
  family("hkv_uptime_seconds", "gauge", "Seconds since the server started.");
  fmt::format_to(std::back_inserter(out), "hkv_uptime_seconds {:.3f}\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  return out;
}

std::string MetricsRegistry::json() const {
  const Totals t = sum();
  std::string out = "{";
  auto field = [&](const char* name, auto v) { fmt::format_to(std::back_inserter(out), "\"{}\":{},", name, v); };
  fmt::format_to(std::back_inserter(out), "\"node\":\"{}\",\"version\":\"{}\",", node_, kVersion);
  field("uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  field("items", store_.size());
  field("memory_used_bytes", store_.bytes_used());
  field("memory_limit_bytes", store_.max_memory());
  field("hits", t.hits);
  field("misses", t.misses);
  field("evictions", t.evictions);
  field("expirations", t.expirations);
  field("connections_open", t.connections_open);
  field("connections_accepted", t.connections_accepted);
  field("requests_in_flight", std::max(0, gate_.in_flight()));
  field("connections_refused", t.connections_refused);
  field("accept_errors", t.accept_errors);
  out += "\"timeouts\":{";
  for (std::size_t k = 0; k < net::kAwaitingKinds; ++k)
    fmt::format_to(std::back_inserter(out), "{}\"{}\":{}", k == 0 ? "" : ",", kTimeoutNames[k], t.timeouts[k]);
  out += "},";
  field("h2_goaways", t.h2_goaways);
  out += "\"h2_flood_goaways\":{";
  for (std::size_t a = 0; a < http::kH2AbuseKinds; ++a)
    fmt::format_to(std::back_inserter(out), "{}\"{}\":{}", a == 0 ? "" : ",", http::kH2AbuseNames[a], t.h2_abuse[a]);
  out += "},";
  out += "\"requests\":[";
  bool first = true;
  std::uint64_t total = 0;
  for (std::size_t p = 0; p < kProtocols; ++p)
    for (std::size_t m = 0; m < kMethods; ++m)
      for (std::size_t r = 0; r < kRoutes; ++r)
        for (std::size_t s = 0; s < kCountedStatuses.size(); ++s) {
          const std::uint64_t n = t.requests[p][m][r][s];
          if (n == 0) continue;
          total += n;
          fmt::format_to(std::back_inserter(out),
                         "{}{{\"protocol\":\"{}\",\"method\":\"{}\",\"route\":\"{}\",\"status\":\"{}\",\"count\":{}}}",
                         first ? "" : ",", kProtocolNames[p], kMethodNames[m], kRouteNames[r], status_label(s), n);
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
