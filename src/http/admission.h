// SPDX-License-Identifier: MIT
// Admission: the server-wide cap on requests in flight (--concurrency-limit). A request that finds
// no free slot is parked on its worker's queue and its connection stops reading; a slot freed on
// any worker wakes the workers that have parked requests. Requests are never refused.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace hkv::http {

// Something waiting for a slot (a connection with a parked request).
class AdmissionWaiter {
 public:
  virtual ~AdmissionWaiter() = default;
  // Called on the waiter's worker thread with one slot now held by the waiter.
  virtual void admitted() = 0;
};

class AdmissionQueue;

class AdmissionGate {
 public:
  explicit AdmissionGate(int limit) : limit_(limit) {}

  int limit() const { return limit_; }
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  bool try_acquire();
  void release(int n = 1);

  // Each worker registers its queue once, before traffic starts.
  void register_queue(AdmissionQueue* q) { queues_.push_back(q); }

 private:
  friend class AdmissionQueue;
  const int limit_;
  alignas(64) std::atomic<int> in_flight_{0};
  alignas(64) std::atomic<int> waiting_{0};
  std::vector<AdmissionQueue*> queues_;
};

// Per-worker FIFO of waiters. Only its own worker thread touches the deque; `wake` must be safe to
// call from any thread (it should make the owner call drain()).
class AdmissionQueue {
 public:
  AdmissionQueue(AdmissionGate& gate, std::function<void()> wake) : gate_(gate), wake_(std::move(wake)) {}

  AdmissionGate& gate() { return gate_; }
  // Acquires a slot now, or parks `w` and returns false; w->admitted() then comes later, from
  // drain(), never from inside this call.
  bool acquire_or_wait(AdmissionWaiter* w);
  // Forgets a waiter whose connection closed.
  void cancel(AdmissionWaiter* w);
  // Hands free slots to parked waiters in arrival order.
  void drain();

 private:
  friend class AdmissionGate;
  AdmissionGate& gate_;
  std::function<void()> wake_;
  std::deque<AdmissionWaiter*> waiters_;
  std::atomic<bool> has_waiters_{false};
};

}  // namespace hkv::http
