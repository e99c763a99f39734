// SPDX-License-Identifier: MIT
// Admission gate. Lost wake-ups are impossible: a parker raises `waiting_` before its last try,
// and a releaser lowers `in_flight_` before it reads `waiting_` (both sequentially consistent).
#include "http/admission.h"

#include <algorithm>

namespace hkv::http {

bool AdmissionGate::try_acquire() {
  int n = in_flight_.load(std::memory_order_relaxed);
  while (n < limit_) {
    if (in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

void AdmissionGate::release(int n) {
  in_flight_.fetch_sub(n, std::memory_order_seq_cst);
  if (waiting_.load(std::memory_order_seq_cst) > 0) {
    for (AdmissionQueue* q : queues_) {
      if (q->has_waiters_.load(std::memory_order_seq_cst)) q->wake_();
    }
  }
}

bool AdmissionQueue::acquire_or_wait(AdmissionWaiter* w) {
  if (waiters_.empty() && gate_.try_acquire()) return true;
  waiters_.push_back(w);
  has_waiters_.store(true, std::memory_order_seq_cst);
  gate_.waiting_.fetch_add(1, std::memory_order_seq_cst);
  // A slot may have been freed between the failed try and the increment above; a releaser after
  // the increment sees it and wakes this worker.
  if (waiters_.size() == 1 && gate_.try_acquire()) {
    waiters_.pop_front();
    gate_.waiting_.fetch_sub(1, std::memory_order_seq_cst);
    has_waiters_.store(false, std::memory_order_seq_cst);
    return true;
  }
  return false;
}

void AdmissionQueue::cancel(AdmissionWaiter* w) {
  auto it = std::find(waiters_.begin(), waiters_.end(), w);
  if (it == waiters_.end()) return;
  waiters_.erase(it);
  gate_.waiting_.fetch_sub(1, std::memory_order_seq_cst);
  if (waiters_.empty()) has_waiters_.store(false, std::memory_order_seq_cst);
}

void AdmissionQueue::drain() {
  while (!waiters_.empty() && gate_.try_acquire()) {
    AdmissionWaiter* w = waiters_.front();
    waiters_.pop_front();
    gate_.waiting_.fetch_sub(1, std::memory_order_seq_cst);
    if (waiters_.empty()) has_waiters_.store(false, std::memory_order_seq_cst);
    w->admitted();
  }
}

}  // namespace hkv::http
