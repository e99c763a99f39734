// SPDX-License-Identifier: MIT
// hkv entry point: parse flags, set up logging, run the server.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

#include "app/config.h"
#include "app/server.h"
#include "app/snapshots.h"

int main(int argc, char** argv) {
  try {
    auto parsed = hkv::app::parse_config(argc, argv);
    if (auto* code = std::get_if<int>(&parsed)) return *code;
    auto& config = std::get<hkv::app::Config>(parsed);
    if (config.check_only) {
      for (const auto& w : config.warnings) std::fprintf(stderr, "hkv: warning: %s\n", w.c_str());
      if (auto problem = config.snapshot_path.empty() ? std::nullopt : hkv::app::snapshot_path_problem(config.snapshot_path)) {
        std::fprintf(stderr, "hkv: --snapshot %s: cannot write a snapshot there: %s\n", config.snapshot_path.c_str(),
                     problem->c_str());
        return 2;
      }
      std::printf("# hkv %s: the settings are valid. Effective settings:\n%s", hkv::app::kVersion,
                  config.effective_settings.c_str());
      return 0;
    }
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    // Under systemd the journal stamps each line itself (JOURNAL_STREAM: stdout goes to it).
    spdlog::set_pattern(std::getenv("JOURNAL_STREAM") != nullptr ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    for (const auto& w : config.warnings) spdlog::warn("{}", w);
    return hkv::app::run_server(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hkv: %s\n", e.what());
    return 1;
  }
}
