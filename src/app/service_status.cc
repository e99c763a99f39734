// SPDX-License-Identifier: MIT
// sd_notify messages for systemd's Type=notify: readiness, a status line, stopping.
#include "app/service_status.h"

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include <string>

namespace hkv::app {

void ServiceStatus::ready(std::string_view listening) {
  last_requests_ = metrics_.requests_total();
  last_ = std::chrono::steady_clock::now();
  const std::string message = fmt::format("READY=1\nSTATUS=listening on {}; {} items", listening, store_.size());
  sd_notify(0, message.c_str());
}

void ServiceStatus::update() {
  const auto now = std::chrono::steady_clock::now();
  const std::uint64_t requests = metrics_.requests_total();
  const double seconds = std::chrono::duration<double>(now - last_).count();
  const double rate = seconds > 0 ? static_cast<double>(requests - last_requests_) / seconds : 0;
  last_requests_ = requests;
  last_ = now;
  const std::string message =
      fmt::format("STATUS={} items, {:.1f} MiB of items, {:.0f} req/s, {} connections", store_.size(),
                  static_cast<double>(store_.bytes_used()) / (1 << 20), rate, metrics_.connections_open());
  sd_notify(0, message.c_str());
}

void ServiceStatus::stopping() { sd_notify(0, "STOPPING=1\nSTATUS=draining connections, then the snapshot"); }

}  // namespace hkv::app
