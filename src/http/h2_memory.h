// SPDX-License-Identifier: MIT
// Per-thread pool allocator handed to nghttp2: small blocks come from size-class free lists, so
// the handful of allocations nghttp2 makes per stream cost no malloc/free. A session lives and
// dies on one worker thread, so the lists need no locking.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>

namespace hkv::http {

// The allocator for sessions created on the calling thread.
nghttp2_mem* thread_h2_memory();
// Bytes the calling thread's sessions hold from it now (blocks handed out, not those cached).
std::size_t h2_memory_in_use();

}  // namespace hkv::http
