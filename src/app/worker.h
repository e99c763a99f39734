// SPDX-License-Identifier: MIT
// Worker: one thread, one event loop, one SO_REUSEPORT listener and the connections it accepted.
// Workers share only the store and the admission gate; nothing on the request path crosses threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "app/handlers.h"
#include "app/metrics.h"
#include "http/admission.h"
#include "http/context.h"
#include "net/connection.h"
#include "net/connection_budget.h"
#include "net/connection_set.h"
#include "net/event_loop.h"
#include "net/listener.h"
#include "store/store.h"

namespace hkv::app {

class Worker final : public net::ConnectionOwner {
 public:
  // Opens the listening socket now (so bind errors surface before any thread starts).
  Worker(const net::ListenOptions& listen, const http::HttpLimits& limits, const net::ConnectionTimeouts& timeouts,
         Store& store, http::AdmissionGate& gate, net::ConnectionBudget& connections,
         std::chrono::milliseconds shutdown_timeout, WorkerMetrics& metrics, const MetricsRegistry& registry,
         HandlerOptions handler_options);
  ~Worker() override;

  // Starts the thread; cpu >= 0 pins it to that CPU.
  void start(int cpu = -1);
  // Thread-safe: stop accepting, finish in-flight requests, close, and let the thread end.
  void request_stop();
  void join();

  void connection_closed(net::Connection* c) override;
  void connection_woke(net::Connection* c) override { open_.wake(c); }

 private:
  void run();
  void accept(int fd);
  void accept_failed(int err);
  void begin_shutdown();
  void end_of_turn();

  void sweep_expired();

  Store& store_;
  WorkerMetrics& metrics_;
  net::ConnectionBudget& connections_;
  const net::ConnectionTimeouts timeouts_;
  std::chrono::steady_clock::time_point next_accept_warning_{};
  std::chrono::milliseconds shutdown_timeout_;
  net::EventLoop loop_;
  http::AdmissionQueue admission_;
  KvHandler handler_;
  http::HttpContext ctx_;
  std::unique_ptr<net::Listener> listener_;
  net::ConnectionSet open_;
  std::vector<net::Connection*> closed_;
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point next_tick_;  // periodic connection timers
  std::thread thread_;
};

}  // namespace hkv::app
