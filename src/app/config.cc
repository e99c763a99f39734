// SPDX-License-Identifier: MIT
// Command-line and config-file parsing (CLI11). Sizes accept suffixes such as 512KiB or 2MiB.
#include "app/config.h"

#include "app/auth.h"
#include "app/cache_headers.h"
#include "app/config_errors.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <optional>

namespace hkv::app {

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  return cpus;
}

int available_cores() { return std::max(1, static_cast<int>(allowed_cpus().size())); }

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_' || ch == ':';
  });
}

namespace {

// --config FILE and --check-config. A key the file has but no flag has is an error, not ignored.
void add_config_file_flags(CLI::App& app, Config& c) {
  app.set_config("--config", "",
                 "Read settings from FILE, one 'name = value' per line (TOML), each name a flag without its "
                 "leading dashes: 'port = 3000', 'max-memory = \"1GiB\"', 'pin-threads = true'. Flags on the "
                 "command line override the file. An unknown name or a bad value stops the start (exit 2)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_flag("--check-config", c.check_only,
               "Check the settings (the --config file and the flags) without starting: print the effective "
               "settings and exit 0, or say what is wrong and exit 2")
      ->configurable(false);
}

// Usage errors exit 2 with one line naming the flag, or the file and line of the setting.
int usage_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  const CLI::Option* file = app.get_config_ptr();
  const std::string path = file != nullptr && file->count() > 0 ? file->as<std::string>() : std::string();
  ConfigErrorKind kind = ConfigErrorKind::bad_value;
  if (dynamic_cast<const CLI::FileError*>(&e) != nullptr) kind = ConfigErrorKind::unreadable;
  if (dynamic_cast<const CLI::ConfigError*>(&e) != nullptr) kind = ConfigErrorKind::unknown_key;
  std::cerr << "hkv: " << describe_config_error(path, kind, e.what(), argc, argv) << "\nRun with --help for the flags.\n";
  return 2;
}

// The hostname up to its first dot, or "hkv" when it is not a valid node name.
std::string default_node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "hkv";
  std::string name(host);
  name = name.substr(0, name.find('.'));
  return valid_node_name(name) ? name : "hkv";
}

// Flag values that become Config fields only after parsing: converted, capped or checked together.
struct PendingFlags {
  int concurrency_limit = Config{}.concurrency_limit;
  double header_timeout = 10, body_timeout = 30, idle_timeout = 60, send_timeout = 60;
  std::string snapshot_load = "always";
  std::string snapshot_fail_policy = "warn";
  std::string store = "lockfree";
  bool no_h2c_upgrade = false;
  std::string token_file;
  CLI::Option* node_name = nullptr;
};

// A number of seconds from 0 (none) to a day.
void add_seconds(CLI::App& app, const std::string& flag, double& seconds, const std::string& help) {
  app.add_option(flag, seconds, help)->check(CLI::Range(0.0, 86400.0))->capture_default_str();
}

// Where and how much: the listener, the workers, admission and connections.
void add_server_flags(CLI::App& app, Config& c, PendingFlags& p) {
  app.add_option("--port", c.port, "TCP port to listen on (0 picks a free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--bind", c.bind, "Address to listen on: IPv4 or IPv6 literal; '::' is dual-stack")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "Worker threads, one event loop each (default: cores available)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--pin-threads", c.pin_threads,
               "Pin worker i to the i-th core this process may use (wraps around)");
  app.add_option("--concurrency-limit", p.concurrency_limit,
                 "Requests being handled at once across the server (a slot is freed once the response is queued, not when the client has read it); more wait (never refused). Max 500")
      ->check(CLI::Validator(
          [](const std::string& v) -> std::string {
            long n = std::strtol(v.c_str(), nullptr, 10);
            return n >= 1 ? "" : "must be at least 1 (0 would block every request)";
          },
          "INT>=1"))
      ->capture_default_str();
  app.add_option("--max-connections", c.max_connections,
                 "Open client connections across all workers; more are answered 503 (Retry-After) and closed")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
}

// How long a client may take, and how slowly.
void add_timeout_flags(CLI::App& app, Config& c, PendingFlags& p) {
  add_seconds(app, "--header-timeout", p.header_timeout,
                 "Seconds a client has to send a whole request head, from its first byte (and a new "
                 "connection, from accept); then 408 and close. 0 = none");
  add_seconds(app, "--body-timeout", p.body_timeout,
                 "Seconds a request body may go without a byte arriving; then 408 and close. Also the "
                 "start of the body's deadline (see --min-body-rate). 0 = none");
  app.add_option("--min-body-rate", c.timeouts.min_body_rate,
                 "Bytes per second a request body must average: its deadline is --body-timeout plus the "
                 "bytes received divided by this rate, so a body trickled slower gets 408 and close "
                 "(HTTP/2: GOAWAY). 0 = no minimum")
      ->capture_default_str();
  add_seconds(app, "--idle-timeout", p.idle_timeout,
                 "Seconds a keep-alive connection may sit idle between requests before it is closed. 0 = none");
  add_seconds(app, "--send-timeout", p.send_timeout,
                 "Seconds a response may wait for a client that does not read it (HTTP/2: or does not "
                 "open its window); then the connection is closed. Also the start of the response's "
                 "deadline (see --min-send-rate). 0 = none");
  app.add_option("--min-send-rate", c.timeouts.min_send_rate,
                 "Bytes per second a client must take a response at, on average: its deadline is "
                 "--send-timeout plus the bytes sent divided by this rate (a window opened a byte at a "
                 "time is cut). 0 = no minimum")
      ->capture_default_str();
}

// Request and HTTP/2 limits.
void add_http_limit_flags(CLI::App& app, Config& c) {
  app.add_option("--max-streams", c.http.max_streams,
                 "HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--max-value-size", c.http.max_value_size,
                 "Largest request body (value) accepted; larger gets 413. Suffixes: KiB, MiB")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30).description("at most 1GiB"))
      ->default_str("1MiB");
  app.add_option("--max-header-bytes", c.http.max_header_bytes,
                 "Largest request header section (HTTP/2: decoded, +32 per field); larger gets 431. "
                 "Suffixes: KiB")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 20).description("1KiB to 1MiB"))
      ->default_str("16KiB");
  app.add_option("--max-headers", c.http.max_headers, "Most header fields in one request; more gets 431")
      ->check(CLI::Range(std::size_t{8}, std::size_t{10000}))
      ->capture_default_str();
  // The HTTP/2 flood limits: each a count per connection, in a range.
  struct CountFlag {
    const char* name;
    std::uint32_t http::HttpLimits::*limit;
    std::uint32_t least, most;
    const char* help;
  };
  static constexpr CountFlag kH2Limits[] = {
      {"--h2-reset-burst", &http::HttpLimits::h2_reset_burst, 1, 1u << 20,
       "HTTP/2 stream resets (received and sent) a connection may burst before GOAWAY (Rapid Reset, MadeYouReset)"},
      {"--h2-reset-rate", &http::HttpLimits::h2_reset_rate, 1, 1u << 20,
       "HTTP/2 stream resets per second a connection may sustain after the burst"},
      {"--h2-max-continuations", &http::HttpLimits::h2_max_continuations, 1, 1000,
       "HTTP/2 CONTINUATION frames allowed after one HEADERS (CONTINUATION flood)"},
      {"--h2-max-pending-acks", &http::HttpLimits::h2_max_pending_acks, 1, 1u << 20,
       "HTTP/2 SETTINGS/PING acknowledgements queued for a peer that does not read (PING and SETTINGS floods)"},
      {"--h2-max-settings", &http::HttpLimits::h2_max_settings, 8, 1000, "HTTP/2 entries allowed in one SETTINGS frame"},
      {"--h2-max-bad-frames", &http::HttpLimits::h2_max_bad_frames, 1, 1u << 20,
       "HTTP/2 empty DATA frames without END_STREAM plus frames rejected as invalid, per connection, before GOAWAY"},
  };
  for (const CountFlag& f : kH2Limits) {
    app.add_option(f.name, c.http.*f.limit, f.help)->check(CLI::Range(f.least, f.most))->capture_default_str();
  }
}

// The store, its memory, expiry and snapshots, and shutdown.
void add_store_flags(CLI::App& app, Config& c, PendingFlags& p) {
  app.add_option("--initial-capacity", c.initial_capacity, "Entries the table is pre-sized for")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32))
      ->capture_default_str();
  app.add_option("--max-memory", c.max_memory,
                 "Memory for keys, values and per-entry overhead; beyond it SIEVE evicts. "
                 "Suffixes: KiB, MiB, GiB. 0 = unbounded")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("0");
  app.add_option("--default-ttl", c.default_ttl_s,
                 "Seconds a stored key lives when the write names no TTL (?ttl= or Cache-Control: "
                 "max-age); 0 = forever")
      ->check(CLI::Range(std::uint64_t{0}, kMaxTtlSeconds))
      ->capture_default_str();
  app.add_option("--snapshot", c.snapshot_path,
                 "File to load at start (if present) and to write atomically at shutdown; keys keep "
                 "their remaining TTLs. hkv refuses to start (exit 2) when it cannot write a file there");
  app.add_option("--snapshot-interval", c.snapshot_interval_s,
                 "Also write the snapshot every this many seconds, in the background (0 = only at shutdown)")
      ->check(CLI::Range(0.0, 86400.0 * 365))
      ->capture_default_str();
  app.add_flag("--ignore-bad-snapshot", c.ignore_bad_snapshot,
               "Start empty when the snapshot is corrupt or truncated, renaming it aside (default: refuse "
               "to start)");
  app.add_option("--snapshot-load", p.snapshot_load,
                 "Which snapshot to load at start: 'always' loads whatever is there (after a crash, the last "
                 "periodic one, so writes made since are lost); 'clean-only' loads it only if the last run ended "
                 "with a clean shutdown snapshot and otherwise starts empty, so a cluster node never serves a value "
                 "older than an acknowledged write or a key whose delete was acknowledged")
      ->check(CLI::IsMember({"always", "clean-only"}))
      ->capture_default_str();
  app.add_option("--snapshot-fail-policy", p.snapshot_fail_policy,
                 "When a snapshot fails: 'warn' logs it and counts it (hkv_snapshot_failures_total); "
                 "'refuse-writes' also answers writes 503 until a snapshot succeeds again (reads go on), so "
                 "nothing is acknowledged that could not be kept")
      ->check(CLI::IsMember({"warn", "refuse-writes"}))
      ->capture_default_str();
  app.add_option("--store", p.store, "Store implementation: lockfree (liburcu QSBR hash table) or sharded (mutexes)")
      ->check(CLI::IsMember({"lockfree", "sharded"}))
      ->capture_default_str();
  app.add_option("--shutdown-timeout", c.shutdown_timeout_s,
                 "Seconds to finish in-flight requests after SIGINT/SIGTERM")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
}

// Upgrade, access, the node's name and logging.
void add_access_flags(CLI::App& app, Config& c, PendingFlags& p) {
  app.add_flag("--no-h2c-upgrade", p.no_h2c_upgrade,
               "Ignore 'Upgrade: h2c' (h2c by prior knowledge still works)");
  app.add_option("--auth-token-file", p.token_file,
                 "File whose first line is a bearer token: writes, deletes, /metrics and /stats then need "
                 "'Authorization: Bearer <token>' (401 otherwise)");
  app.add_flag("--auth-reads", c.auth_reads, "With --auth-token-file: GET/HEAD /get/{key} need the token too");
  p.node_name = app.add_option("--node-name", c.node_name,
                 "This node's name in a cluster, shown in /stats and in the hkv_build_info metric's node label "
                 "(default: the hostname). 1 to 64 letters, digits, '.', '-', '_' or ':'");
  app.add_flag("--node-header", c.node_header,
               "Answers from the application carry 'X-Hkv-Node: <node name>', so a client behind a load "
               "balancer sees which node served it");
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

// Turns the parsed flags into the Config and checks what no single flag can: 0, or the exit code
// of a usage error already reported.
int finish_config(Config& c, const PendingFlags& p) {
  c.http.h2c_upgrade = !p.no_h2c_upgrade;
  auto ms = [](double s) { return static_cast<std::int64_t>(s * 1000); };
  c.timeouts.header_ms = ms(p.header_timeout);
  c.timeouts.body_ms = ms(p.body_timeout);
  c.timeouts.idle_ms = ms(p.idle_timeout);
  c.timeouts.send_ms = ms(p.send_timeout);
  c.store = p.store == "sharded" ? StoreKind::sharded : StoreKind::lockfree;
  c.snapshot_clean_only = p.snapshot_load == "clean-only";
  c.snapshot_refuse_writes = p.snapshot_fail_policy == "refuse-writes";
  c.concurrency_limit = p.concurrency_limit;
  if (c.concurrency_limit > 500) {
    c.warnings.push_back("--concurrency-limit " + std::to_string(c.concurrency_limit) + " capped to 500");
    c.concurrency_limit = 500;
  }
  if (c.threads == 0) c.threads = available_cores();
  if (c.snapshot_path.empty() &&
      (c.snapshot_interval_s > 0 || c.ignore_bad_snapshot || c.snapshot_clean_only || c.snapshot_refuse_writes)) {
    std::cerr << "--snapshot-interval, --snapshot-load clean-only, --snapshot-fail-policy refuse-writes and "
                 "--ignore-bad-snapshot need --snapshot FILE\n";
    return 2;
  }
  if (p.node_name->count() == 0) c.node_name = default_node_name();
  if (!valid_node_name(c.node_name)) {
    std::cerr << "--node-name: '" << c.node_name << "' is not 1 to 64 letters, digits, '.', '-', '_' or ':'\n";
    return 2;
  }
  if (c.auth_reads && p.token_file.empty()) {
    std::cerr << "--auth-reads needs --auth-token-file FILE\n";
    return 2;
  }
  if (!p.token_file.empty()) {
    if (std::optional<std::string> error = read_token_file(p.token_file, c.auth_token)) {
      std::cerr << *error << "\n";
      return 2;
    }
    struct stat st{};
    if (::stat(p.token_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      c.warnings.push_back("--auth-token-file " + p.token_file + " can be read by other users (chmod 600 it)");
    }
  }
  if (!is_loopback(c.bind) && c.auth_token.empty()) {
    c.warnings.push_back("LISTENING ON " + c.bind +
                         " WITHOUT --auth-token-file: anyone who can reach this port can read, overwrite and "
                         "delete every key, and read /metrics");
  }
  if (c.max_memory == 0) {
    c.warnings.push_back("no --max-memory: the store grows until the machine runs out of memory");
  }
  return 0;
}

}  // namespace

std::variant<Config, int> parse_config(int argc, char** argv) {
  Config c;
  PendingFlags p;
  CLI::App app{"hkv: an in-memory key-value cache served over HTTP/1.1 and h2c"};
  app.set_version_flag("--version", std::string("hkv ") + kVersion);
  app.get_formatter()->column_width(36);
  add_config_file_flags(app, c);
  add_server_flags(app, c, p);
  add_timeout_flags(app, c, p);
  add_http_limit_flags(app, c);
  add_store_flags(app, c, p);
  add_access_flags(app, c, p);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    return usage_error(app, e, argc, argv);
  }
  if (int code = finish_config(c, p)) return code;
  // Settings resolved after parsing are shown with the values they resolved to.
  app.get_option("--threads")->default_str(std::to_string(c.threads));
  app.get_option("--node-name")->default_str(c.node_name);
  if (c.concurrency_limit != p.concurrency_limit) {  // capped
    CLI::Option* limit = app.get_option("--concurrency-limit");
    limit->clear();
    limit->add_result(std::to_string(c.concurrency_limit));
  }
  c.effective_settings = app.config_to_str(true, true);
  return c;
}

}  // namespace hkv::app
