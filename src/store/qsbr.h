// SPDX-License-Identifier: MIT
// What the lock-free store's files share about liburcu QSBR: ThreadSanitizer annotations. liburcu
// is not built with TSan, so TSan cannot see that call_rcu runs a callback only after every
// reader passed a quiescent state; threads release a token at each quiescent point and callbacks
// acquire it. The macros compile to nothing in other builds.
#pragma once

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#define HKV_TSAN_ACQUIRE(p) __tsan_acquire(p)
#define HKV_TSAN_RELEASE(p) __tsan_release(p)
#else
#define HKV_TSAN_ACQUIRE(p) static_cast<void>(p)
#define HKV_TSAN_RELEASE(p) static_cast<void>(p)
#endif

namespace hkv {

// Stands for "a grace period has elapsed" in the annotations.
inline char grace_period_token;

}  // namespace hkv
