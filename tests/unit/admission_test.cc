// SPDX-License-Identifier: MIT
// Tests hkv::http::AdmissionGate and AdmissionQueue: limits, FIFO parking, cancel, wake-ups, threads.
#include "http/admission.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace hkv::http {
namespace {

// Records every admitted() call, and whether it came from inside acquire_or_wait().
struct Recorder {
  std::vector<int> order;
  bool inside_acquire = false;
  int admitted_inside_acquire = 0;
};

struct TestWaiter final : AdmissionWaiter {
  TestWaiter(Recorder& r, int i) : rec(r), id(i) {}
  void admitted() override {
    ++admissions;
    if (rec.inside_acquire) ++rec.admitted_inside_acquire;
    rec.order.push_back(id);
  }
  Recorder& rec;
  int id;
  int admissions = 0;
};

bool acquire(AdmissionQueue& q, TestWaiter& w) {
  w.rec.inside_acquire = true;
  bool ok = q.acquire_or_wait(&w);
  w.rec.inside_acquire = false;
  return ok;
}

TEST(AdmissionGate, TryAcquireRespectsLimitAndReleaseFrees) {
  AdmissionGate gate(2);
  EXPECT_EQ(gate.limit(), 2);
  EXPECT_TRUE(gate.try_acquire());
  EXPECT_TRUE(gate.try_acquire());
  EXPECT_FALSE(gate.try_acquire());
  EXPECT_EQ(gate.in_flight(), 2);
  gate.release();
  EXPECT_EQ(gate.in_flight(), 1);
  EXPECT_TRUE(gate.try_acquire());
  EXPECT_FALSE(gate.try_acquire());
  gate.release(2);
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_TRUE(gate.try_acquire());
  EXPECT_TRUE(gate.try_acquire());
  EXPECT_FALSE(gate.try_acquire());
}

TEST(AdmissionGate, ReleaseWithoutWaitersDoesNotWake) {
  AdmissionGate gate(1);
  int wakes = 0;
  AdmissionQueue q(gate, [&] { ++wakes; });
  gate.register_queue(&q);
  ASSERT_TRUE(gate.try_acquire());
  gate.release();
  EXPECT_EQ(wakes, 0);
}

TEST(AdmissionQueue, AcquiresImmediatelyWhenFree) {
  AdmissionGate gate(1);
  int wakes = 0;
  AdmissionQueue q(gate, [&] { ++wakes; });
  gate.register_queue(&q);
  EXPECT_EQ(&q.gate(), &gate);
  Recorder rec;
  TestWaiter a(rec, 1);
  EXPECT_TRUE(acquire(q, a));
  EXPECT_EQ(a.admissions, 0);  // the caller holds the slot; admitted() is only for parked waiters
  EXPECT_EQ(gate.in_flight(), 1);
  gate.release();
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_EQ(wakes, 0);
}

TEST(AdmissionQueue, ParkedWaiterIsAdmittedOnlyByDrainAfterWake) {
  AdmissionGate gate(1);
  int wakes = 0;
  AdmissionQueue q(gate, [&] { ++wakes; });
  gate.register_queue(&q);
  Recorder rec;
  TestWaiter a(rec, 1), b(rec, 2);
  ASSERT_TRUE(acquire(q, a));
  EXPECT_FALSE(acquire(q, b));
  EXPECT_EQ(b.admissions, 0);
  EXPECT_EQ(gate.in_flight(), 1);

  q.drain();  // no free slot yet
  EXPECT_EQ(b.admissions, 0);
  EXPECT_EQ(wakes, 0);

  gate.release();  // a finishes
  EXPECT_GE(wakes, 1);
  EXPECT_EQ(b.admissions, 0) << "admitted() must come from drain(), not from release()";
  EXPECT_EQ(gate.in_flight(), 0);
  q.drain();
  EXPECT_EQ(b.admissions, 1);
  EXPECT_EQ(gate.in_flight(), 1);  // b now holds the slot
  q.drain();
  EXPECT_EQ(b.admissions, 1);
  EXPECT_EQ(rec.admitted_inside_acquire, 0);

  int wakes_before = wakes;
  gate.release();
  EXPECT_EQ(wakes, wakes_before);  // nobody waits any more
}

TEST(AdmissionQueue, FifoOrderAndNoQueueJumping) {
  AdmissionGate gate(1);
  int wakes = 0;
  AdmissionQueue q(gate, [&] { ++wakes; });
  gate.register_queue(&q);
  Recorder rec;
  TestWaiter first(rec, 0);
  std::vector<std::unique_ptr<TestWaiter>> ws;
  for (int i = 1; i <= 3; ++i) ws.push_back(std::make_unique<TestWaiter>(rec, i));
  ASSERT_TRUE(acquire(q, first));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(acquire(q, *ws[i]));

  gate.release();  // a slot is free, but three waiters are parked
  TestWaiter late(rec, 4);
  EXPECT_FALSE(acquire(q, late)) << "a newcomer must queue behind parked waiters";

  for (int expected = 1; expected <= 4; ++expected) {
    q.drain();
    ASSERT_EQ(rec.order.size(), static_cast<std::size_t>(expected));
    EXPECT_EQ(rec.order.back(), expected);
    EXPECT_EQ(gate.in_flight(), 1);
    q.drain();  // the one slot is taken: nothing more
    EXPECT_EQ(rec.order.size(), static_cast<std::size_t>(expected));
    gate.release();
  }
  EXPECT_EQ(rec.admitted_inside_acquire, 0);
  EXPECT_EQ(late.admissions, 1);
}

TEST(AdmissionQueue, DrainAdmitsAsManyAsThereAreSlots) {
  AdmissionGate gate(3);
  AdmissionQueue q(gate, [] {});
  gate.register_queue(&q);
  Recorder rec;
  std::vector<std::unique_ptr<TestWaiter>> ws;
  for (int i = 0; i < 5; ++i) ws.push_back(std::make_unique<TestWaiter>(rec, i));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(acquire(q, *ws[i]));
  EXPECT_FALSE(acquire(q, *ws[3]));
  EXPECT_FALSE(acquire(q, *ws[4]));
  gate.release(3);
  q.drain();
  EXPECT_EQ(rec.order, (std::vector<int>{3, 4}));
  EXPECT_EQ(gate.in_flight(), 2);
}

TEST(AdmissionQueue, CancelRemovesWaiter) {
  AdmissionGate gate(1);
  int wakes = 0;
  AdmissionQueue q(gate, [&] { ++wakes; });
  gate.register_queue(&q);
  Recorder rec;
  TestWaiter holder(rec, 0), a(rec, 1), b(rec, 2), stranger(rec, 9);
  ASSERT_TRUE(acquire(q, holder));
  EXPECT_FALSE(acquire(q, a));
  EXPECT_FALSE(acquire(q, b));
  q.cancel(&a);
  q.cancel(&stranger);  // not parked: no effect
  gate.release();
  q.drain();
  EXPECT_EQ(a.admissions, 0);
  EXPECT_EQ(b.admissions, 1);
  EXPECT_EQ(rec.order, (std::vector<int>{2}));

  // Cancelling the only waiter: a later release wakes nobody, and drain admits nobody.
  TestWaiter c(rec, 3);
  EXPECT_FALSE(acquire(q, c));
  q.cancel(&c);
  int wakes_before = wakes;
  gate.release();
  EXPECT_EQ(wakes, wakes_before);
  q.drain();
  EXPECT_EQ(c.admissions, 0);
  EXPECT_EQ(gate.in_flight(), 0);
  // The queue is empty again, so the next request is admitted at once.
  TestWaiter d(rec, 4);
  EXPECT_TRUE(acquire(q, d));
}

TEST(AdmissionQueue, ReleaseWakesOnlyQueuesWithWaiters) {
  AdmissionGate gate(1);
  int wakes1 = 0, wakes2 = 0;
  AdmissionQueue q1(gate, [&] { ++wakes1; });
  AdmissionQueue q2(gate, [&] { ++wakes2; });
  gate.register_queue(&q1);
  gate.register_queue(&q2);
  Recorder rec;
  TestWaiter holder(rec, 0), parked(rec, 1);
  ASSERT_TRUE(acquire(q2, holder));  // slot held through q2
  EXPECT_FALSE(acquire(q1, parked));
  gate.release();  // released by q2's worker
  EXPECT_GE(wakes1, 1);
  EXPECT_EQ(wakes2, 0);
  q1.drain();
  EXPECT_EQ(parked.admissions, 1);
}

// A slot freed on another thread while acquire_or_wait() is parking must not be lost: either the
// call takes the slot itself or the releaser wakes the queue. Many tries at random offsets.
TEST(AdmissionRace, ReleaseWhileParkingIsNeverLost) {
  constexpr int kIters = 30000;
  AdmissionGate gate(1);
  std::atomic<bool> woken{false};
  AdmissionQueue q(gate, [&] { woken.store(true); });
  gate.register_queue(&q);
  Recorder rec;
  TestWaiter w(rec, 1);
  std::atomic<int> phase{0};
  auto spin = [](unsigned n) {
    for (unsigned d = 0; d < n; ++d) std::atomic_signal_fence(std::memory_order_seq_cst);
  };
  auto wait_phase = [&](int want) {  // busy, so both threads line up; yields if descheduled
    for (int n = 0; phase.load() != want; ++n) {
      if (n > 2000) std::this_thread::yield();
    }
  };
  std::thread releaser([&] {
    std::mt19937 rng(1);
    for (int i = 0; i < kIters; ++i) {
      wait_phase(2 * i + 1);
      spin(rng() % 1200);
      gate.release();  // frees the slot taken below on this thread's behalf
      phase.store(2 * i + 2);
    }
  });
  std::mt19937 rng(2);
  int lost = 0, parked = 0;
  for (int i = 0; i < kIters; ++i) {
    ASSERT_TRUE(gate.try_acquire());
    woken.store(false);
    phase.store(2 * i + 1);
    spin(rng() % 1200);
    bool now = q.acquire_or_wait(&w);
    wait_phase(2 * i + 2);
    if (!now) {
      ++parked;
      if (!woken.load()) {  // the only release is done and nobody will wake this queue
        ++lost;
        q.cancel(&w);
        continue;
      }
      int before = w.admissions;
      q.drain();
      ASSERT_EQ(w.admissions, before + 1);
    }
    gate.release();
  }
  releaser.join();
  EXPECT_EQ(lost, 0) << "of " << parked << " parked requests";
  EXPECT_EQ(gate.in_flight(), 0);
}

// Two workers, each with its own queue and loop, share one gate. A worker drains only when woken.
// The number of admitted-but-unfinished requests never exceeds the limit, and every request is
// admitted exactly once, in its worker's arrival order.
class AdmissionThreads : public ::testing::TestWithParam<int> {};

struct Worker;

struct Req final : AdmissionWaiter {
  Worker* w = nullptr;
  int id = 0;
  int admissions = 0;
  void admitted() override;
};

struct Shared {
  explicit Shared(int limit) : gate(limit) {}
  AdmissionGate gate;
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::atomic<int> over_limit{0};
};

struct Worker {
  Worker(Shared& s, int n) : shared(s), queue(s.gate, [this] { wake(); }), reqs(static_cast<std::size_t>(n)) {
    for (int i = 0; i < n; ++i) {
      reqs[static_cast<std::size_t>(i)].w = this;
      reqs[static_cast<std::size_t>(i)].id = i;
    }
  }
  void wake() {
    std::lock_guard lock(mu);
    woken = true;
    cv.notify_one();
  }
  void on_admitted(Req* r) {
    if (in_acquire) ++admitted_inside_acquire;
    if (r->id != next_admit) ++out_of_order;
    next_admit = r->id + 1;
    ++r->admissions;
    int now = shared.running.fetch_add(1) + 1;
    if (now > shared.gate.limit()) shared.over_limit.fetch_add(1);
    int seen = shared.max_running.load();
    while (now > seen && !shared.max_running.compare_exchange_weak(seen, now)) {
    }
    active.push_back(r);
  }
  void finish_one() {
    active.pop_front();
    shared.running.fetch_sub(1);
    shared.gate.release();
    ++completed;
  }
  void run() {
    const int n = static_cast<int>(reqs.size());
    int issued = 0;
    unsigned tick = 0;
    while (completed < n) {
      while (issued < n && issued - completed < 4) {
        Req* r = &reqs[static_cast<std::size_t>(issued++)];
        in_acquire = true;
        bool now = queue.acquire_or_wait(r);
        in_acquire = false;
        if (now) {
          on_admitted(r);
        } else {
          ++parks;
        }
      }
      if (!active.empty() && (++tick % 3 != 0 || active.size() > 2)) finish_one();
      bool was_woken;
      {
        std::unique_lock lock(mu);
        const bool parked = issued - completed > static_cast<int>(active.size());
        if (!woken && active.empty() && parked) {
          // Parked requests and nothing running here: only a wake-up can make progress.
          if (!cv.wait_for(lock, std::chrono::seconds(20), [&] { return woken; })) {
            stalled = true;
            return;
          }
        }
        was_woken = std::exchange(woken, false);
      }
      if (was_woken) queue.drain();
      if (tick % 8 == 0) std::this_thread::yield();
    }
  }

  Shared& shared;
  AdmissionQueue queue;
  std::vector<Req> reqs;
  std::deque<Req*> active;
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  bool in_acquire = false;
  bool stalled = false;
  int admitted_inside_acquire = 0;
  int out_of_order = 0;
  int next_admit = 0;
  int completed = 0;
  int parks = 0;
};

void Req::admitted() { w->on_admitted(this); }

TEST_P(AdmissionThreads, LimitHoldsAndEveryWaiterIsAdmitted) {
  const int limit = GetParam();
  constexpr int kRequests = 20000;
  Shared shared(limit);
  Worker w1(shared, kRequests), w2(shared, kRequests);
  shared.gate.register_queue(&w1.queue);
  shared.gate.register_queue(&w2.queue);
  std::thread t1([&] { w1.run(); });
  std::thread t2([&] { w2.run(); });
  t1.join();
  t2.join();

  EXPECT_EQ(shared.over_limit.load(), 0);
  EXPECT_LE(shared.max_running.load(), limit);
  EXPECT_GE(shared.max_running.load(), 1);
  EXPECT_EQ(shared.gate.in_flight(), 0);
  EXPECT_GT(w1.parks + w2.parks, 0) << "no request ever waited: the test exercised nothing";
  for (Worker* w : {&w1, &w2}) {
    EXPECT_FALSE(w->stalled) << "a parked request was never woken (lost wake-up)";
    EXPECT_EQ(w->completed, kRequests);
    EXPECT_EQ(w->admitted_inside_acquire, 0);
    EXPECT_EQ(w->out_of_order, 0);
    long once = std::count_if(w->reqs.begin(), w->reqs.end(), [](const Req& r) { return r.admissions == 1; });
    EXPECT_EQ(once, kRequests);
  }
}

INSTANTIATE_TEST_SUITE_P(Limits, AdmissionThreads, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace hkv::http
