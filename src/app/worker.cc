// SPDX-License-Identifier: MIT
// Worker thread: runs the loop, reports RCU quiescent states each turn (offline while asleep),
// owns its connections, and drains them on shutdown within the deadline.
#include "app/worker.h"

#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "app/cycle_clock.h"
#include "http/h2_memory.h"
#include "http/response.h"

namespace hkv::app {

Worker::Worker(const net::ListenOptions& listen, const http::HttpLimits& limits,
               const net::ConnectionTimeouts& timeouts, Store& store, http::AdmissionGate& gate,
               net::ConnectionBudget& connections, std::chrono::milliseconds shutdown_timeout,
               WorkerMetrics& metrics, const MetricsRegistry& registry, HandlerOptions handler_options)
    : store_(store),
      metrics_(metrics),
      connections_(connections),
      timeouts_(timeouts),
      shutdown_timeout_(shutdown_timeout),
      admission_(gate, [this] { loop_.wake(); }),
      handler_(store, metrics, registry, handler_options),
      ctx_{handler_, admission_, limits, metrics.protocol},
      open_(timeouts.idle_ms) {
  gate.register_queue(&admission_);
  listener_ = std::make_unique<net::Listener>(
      loop_, listen, [this](int fd) { accept(fd); }, [this](int err) { accept_failed(err); });
}

Worker::~Worker() {
  join();
  open_.wake_all();
  while (net::Connection* c = open_.first_active()) {
    open_.remove(c);
    delete c;
  }
  for (net::Connection* c : closed_) delete c;
}

void Worker::start(int cpu) {
  thread_ = std::thread([this] { run(); });
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set) != 0) {
      spdlog::warn("could not pin a worker to CPU {}", cpu);
    }
  }
}

void Worker::request_stop() {
  stop_requested_.store(true);
  loop_.wake();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::accept(int fd) {
  if (!connections_.try_acquire()) {
    metrics_.connections_refused.add();
    net::turn_away(fd, http::kServerFullResponse);
    return;
  }
  auto* c = new net::Connection(loop_, fd, *this, &timeouts_, &metrics_.timeouts);
  c->set_protocol(http::make_protocol_sniffer(*c, ctx_));
  metrics_.connections_accepted.add();
  metrics_.connections_open.add();
  open_.add(c);
}

// The listener pauses itself; the next tick resumes it. Logged at most every 10 s per worker.
void Worker::accept_failed(int err) {
  metrics_.accept_errors.add();
  const auto now = std::chrono::steady_clock::now();
  if (now < next_accept_warning_) return;
  next_accept_warning_ = now + std::chrono::seconds(10);
  spdlog::warn("cannot accept connections: {} ({} open on this worker, --max-connections {}); retrying every 100 ms",
               std::strerror(err), metrics_.connections_open.get(), connections_.max());
}

void Worker::connection_closed(net::Connection* c) {
  connections_.release();
  open_.remove(c);
  metrics_.connections_open.sub();
  closed_.push_back(c);  // freed at the end of the turn, outside its own callbacks
}

void Worker::begin_shutdown() {
  stopping_ = true;
  deadline_ = std::chrono::steady_clock::now() + shutdown_timeout_;
  listener_->close();
  open_.wake_all();
  for (net::Connection* c = open_.first_active(); c != nullptr;) {
    net::Connection* next = c->next;
    c->shutdown();
    c = next;
  }
}

void Worker::end_of_turn() {
  store_.quiescent();
  auto now = std::chrono::steady_clock::now();
  if (now >= next_tick_) {
    next_tick_ = now + std::chrono::milliseconds(100);
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    open_.tick(now_ms);
    metrics_.connections_idle.set(open_.resting());
    metrics_.h2_session_bytes.set(http::h2_memory_in_use());
    sweep_expired();
    if (!stopping_) listener_->resume();
  }
  for (net::Connection* c : closed_) delete c;
  closed_.clear();
  if (!stopping_) return;
  if (!open_.empty() && now >= deadline_) {
    open_.wake_all();
    while (net::Connection* c = open_.first_active()) c->close_now();
  }
  if (open_.empty()) {
    for (net::Connection* c : closed_) delete c;
    closed_.clear();
    loop_.stop();
  }
}

// Background expiry, a slice per tick: every worker looks at 1/256 of the keys (at least 256)
// every 100 ms, so a full pass over the store takes about 25 s / workers and no pass stops the
// world: the store holds one shard lock at a time for at most 256 values.
void Worker::sweep_expired() {
  const std::size_t visits = std::max<std::size_t>(256, store_.size() / 256);
  if (std::size_t removed = store_.reap_expired(coarse_now_ms(), visits); removed != 0) {
    metrics_.expirations.add(removed);
  }
}

void Worker::run() {
  store_.attach_thread();
  loop_.set_hooks(net::LoopHooks{
      .before_sleep = [this] { store_.thread_offline(); },
      .after_sleep =
          [this] {
            store_.thread_online();
            handler_.begin_turn();
          },
      .end_of_turn = [this] { end_of_turn(); },
      .on_wake =
          [this] {
            admission_.drain();
            if (stop_requested_.load() && !stopping_) begin_shutdown();
          },
  });
  try {
    // The timeout only bounds how late a shutdown deadline is noticed.
    loop_.run(100);
  } catch (const std::exception& e) {
    spdlog::error("worker stopped: {}", e.what());
  }
  store_.detach_thread();
}

}  // namespace hkv::app
