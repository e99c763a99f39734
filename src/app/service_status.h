// SPDX-License-Identifier: MIT
// ServiceStatus: what systemd hears from hkv under Type=notify (sd_notify): READY=1 once it
// listens, a STATUS= line every few seconds, STOPPING=1 on SIGTERM. Without NOTIFY_SOCKET (not
// started by systemd) every call does nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "app/metrics.h"
#include "store/store.h"

namespace hkv::app {

class ServiceStatus {
 public:
  ServiceStatus(const MetricsRegistry& metrics, const Store& store) : metrics_(metrics), store_(store) {}

  // `listening`: the address and port, for the status line.
  void ready(std::string_view listening);
  // Items, memory, connections and the request rate since the last call.
  void update();
  void stopping();

 private:
  const MetricsRegistry& metrics_;
  const Store& store_;
  std::uint64_t last_requests_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace hkv::app
