// SPDX-License-Identifier: MIT
// The app's cheap clocks: CycleClock, the CPU's time-stamp counter for request latencies (a read
// costs ~7 ns here against ~25 ns for steady_clock), scaled to nanoseconds by a rate measured
// once; and coarse_now_ms, the wall clock at the kernel's tick resolution for expiry and Age.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace hkv::app {

// Wall-clock milliseconds since the epoch, at the kernel's tick resolution (~6 ns a read).
inline std::uint64_t coarse_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

class CycleClock {
 public:
  static std::uint64_t now() {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
  }

  // Nanoseconds per tick, measured against steady_clock over 5 ms on first use (the counter runs
  // at a constant rate on CPUs that advertise constant_tsc, which is what Linux requires to use
  // it as its own clock source).
  static double ns_per_tick() {
    static const double rate = [] {
#if defined(__x86_64__) || defined(__i386__)
      const auto t0 = std::chrono::steady_clock::now();
      const std::uint64_t c0 = now();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const auto t1 = std::chrono::steady_clock::now();
      const std::uint64_t c1 = now();
      return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
#else
      return 1.0;
#endif
    }();
    return rate;
  }
};

}  // namespace hkv::app
