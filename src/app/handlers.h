// SPDX-License-Identifier: MIT
// KvHandler: the HTTP interface of the cache — matches a request to a row of the route table
// (routes.h) and answers it from the store, with TTLs, entity tags, conditional requests, and the
// /metrics and /stats pages.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>

#include "app/auth.h"
#include "app/cycle_clock.h"
#include "app/metrics.h"
#include "app/routes.h"
#include "http/request.h"
#include "store/store.h"

namespace hkv::app {

struct HandlerOptions {
  std::uint64_t default_ttl_s = 0;  // applied when a write names no TTL; 0 = never expires
  const AccessPolicy* access = nullptr;  // who may do what; null = open
  std::string_view node_header;          // sent as X-Hkv-Node on every answer when not empty
  // While it is true, writes get 503 (--snapshot-fail-policy refuse-writes); null = never.
  const std::atomic<bool>* writes_refused = nullptr;
};

class KvHandler final : public http::RequestHandler {
 public:
  KvHandler(Store& store, WorkerMetrics& metrics, const MetricsRegistry& registry, HandlerOptions options)
      : store_(store), metrics_(metrics), registry_(registry), options_(options) {}
  void handle(const http::Request& req, http::Response& resp) override;
  // Announces the keys of /get/ targets to the store (those that need no percent-decoding).
  void prefetch(std::span<const std::string_view> targets) override;
  http::BodyBuffer body_buffer(const http::Request& head, std::size_t length) override;
  // Called by the worker at the start of every event-loop turn: requests answered in this turn
  // use its clock readings (one pair of clock reads per turn, not per request).
  void begin_turn();

  // The handlers of the route table's rows (routes.cc), called once a request has passed its
  // route's access and method checks and carries a valid key where the route takes one.
  void answer_root(const http::Request& req, const RouteMatch& match, http::Response& resp);
  void answer_get(const http::Request& req, const RouteMatch& match, http::Response& resp);
  void answer_write(const http::Request& req, const RouteMatch& match, http::Response& resp);
  void answer_metrics(const http::Request& req, const RouteMatch& match, http::Response& resp);
  void answer_stats(const http::Request& req, const RouteMatch& match, http::Response& resp);
  void answer_keys(const http::Request& req, const RouteMatch& match, http::Response& resp);

 private:
  bool writes_refused() const {
    return options_.writes_refused != nullptr && options_.writes_refused->load(std::memory_order_relaxed);
  }
  const Route* check_route(const http::Request& req, const RouteMatch& match, http::Response& resp);
  bool read_write_meta(const http::Request& req, std::string_view query, ValueMeta& meta, http::Response& resp) const;
  void store_value(const http::Request& req, std::string_view key, std::string_view query, http::Response& resp);
  void delete_value(const http::Request& req, std::string_view key, http::Response& resp);

  Store& store_;
  WorkerMetrics& metrics_;
  const MetricsRegistry& registry_;
  HandlerOptions options_;
  std::uint64_t turn_started_ = 0;  // CycleClock ticks
  std::uint64_t now_ms_ = 0;  // wall clock at the start of the turn, for expiry and Age
};


}  // namespace hkv::app
