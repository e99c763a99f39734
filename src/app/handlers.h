// SPDX-License-Identifier: MIT
// KvHandler: the HTTP interface of the cache — routes a request and answers it from the store,
// with TTLs, entity tags, conditional requests, and the /metrics and /stats pages.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "app/auth.h"
#include "app/cycle_clock.h"
#include "app/metrics.h"
#include "http/request.h"
#include "store/store.h"

namespace hkv::app {

struct HandlerOptions {
  std::uint64_t default_ttl_s = 0;  // applied when a write names no TTL; 0 = never expires
  const AccessPolicy* access = nullptr;  // who may do what; null = open
  std::string_view node_header;          // sent as X-Hkv-Node on every answer when not empty
};

class KvHandler final : public http::RequestHandler {
 public:
  KvHandler(Store& store, WorkerMetrics& metrics, const MetricsRegistry& registry, HandlerOptions options)
      : store_(store), metrics_(metrics), registry_(registry), options_(options) {}
  void handle(const http::Request& req, http::Response& resp) override;
  // Announces the keys of /get/ targets to the store (those that need no percent-decoding).
  void prefetch(std::span<const std::string_view> targets) override;
  // Called by the worker at the start of every event-loop turn: requests answered in this turn
  // use its clock readings (one pair of clock reads per turn, not per request).
  void begin_turn();

 private:
  void route_and_answer(const http::Request& req, http::Response& resp, http::RouteKind& kind);
  void get_value(const http::Request& req, std::string_view key, http::Response& resp);
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
