// SPDX-License-Identifier: MIT
// Config: every command-line flag, parsed with CLI11 and validated in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <variant>
#include <string>
#include <string_view>
#include <vector>

#include "http/context.h"
#include "net/connection.h"
#include "store/store.h"

namespace hkv::app {

struct Config {
  std::string bind = "127.0.0.1";
  int port = 3000;
  int threads = 0;  // 0: the cores this process may run on
  bool pin_threads = false;  // worker i runs only on the i-th allowed core
  int concurrency_limit = 250;
  std::size_t initial_capacity = 1'000'000;
  std::uint64_t max_memory = 0;     // bytes for items; 0 = unbounded
  std::uint64_t default_ttl_s = 0;  // 0 = keys never expire unless a write says so
  std::string snapshot_path;        // empty: no snapshots
  double snapshot_interval_s = 0;   // 0: only at shutdown
  bool ignore_bad_snapshot = false;
  bool snapshot_clean_only = false;  // --snapshot-load clean-only: after a crash, start empty
  bool snapshot_refuse_writes = false;  // --snapshot-fail-policy refuse-writes
  StoreKind store = StoreKind::lockfree;
  double shutdown_timeout_s = 5.0;
  std::string log_level = "info";
  std::string auth_token;   // from --auth-token-file; empty = no access control
  bool auth_reads = false;  // the token is needed for reads too
  int max_connections = 10'000;  // server-wide; beyond it new connections get 503 and are closed
  std::string node_name;     // this node's name in a cluster: /stats, hkv_build_info; default hostname
  bool node_header = false;  // answers carry X-Hkv-Node: node_name
  net::ConnectionTimeouts timeouts;
  http::HttpLimits http;
  std::vector<std::string> warnings;  // reported once logging is set up
  bool check_only = false;            // --check-config: validate, print, exit
  std::string effective_settings;     // every setting with its value, in the config file's format
};

// Parses argv and the --config file. Returns the config, or an exit code when the program should
// stop (--help and --version: 0; a usage error, already reported on stderr: 2).
std::variant<Config, int> parse_config(int argc, char** argv);

int available_cores();
// Whether `name` can be a node name: 1 to 64 letters, digits, '.', '-', '_' or ':' (it goes into a
// header, a metric label and JSON unescaped).
bool valid_node_name(std::string_view name);
// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus();

inline constexpr const char* kVersion = HKV_VERSION;  // project(VERSION) in CMakeLists.txt

}  // namespace hkv::app
