// SPDX-License-Identifier: MIT
// Says where a bad setting is: CLI11 reports a config file's unknown key or bad value without its
// place, so the key is looked up in the file to name the line.
#include "app/config_errors.h"

#include <fstream>
#include <string>

#include "http/syntax.h"

namespace hkv::app {

namespace {

// The 1-based line of `file` that sets `key` ("key = value"), or whose text is `key`; 0 if none.
int line_of(const std::string& file, std::string_view key) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string_view text = http::trim_ows(line);
    if (text == key || http::trim_ows(text.substr(0, text.find('='))) == key) return n;
  }
  return 0;
}

bool on_command_line(std::string_view key, int argc, char** argv) {
  const std::string flag = "--" + std::string(key);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == flag || arg.starts_with(flag + "=")) return true;
  }
  return false;
}

std::string at(const std::string& file, int line) {
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

}  // namespace

std::string describe_config_error(const std::string& file, ConfigErrorKind kind, const std::string& message, int argc,
                                  char** argv) {
  if (file.empty()) return message;
  if (kind == ConfigErrorKind::unreadable) return "--config " + file + ": cannot be read (missing, or no permission)";
  if (kind == ConfigErrorKind::unknown_key) {
    // CLI11: "INI was not able to parse <key, or the whole line when it has no '='>".
    static const std::string kPrefix = "INI was not able to parse ";
    const std::string key = message.starts_with(kPrefix) ? message.substr(kPrefix.size()) : message;
    return at(file, line_of(file, key)) + ": unknown setting '" + key +
           "' (a setting is a flag without its leading dashes, as in 'max-memory = \"1GiB\"'; see hkv --help)";
  }
  // A bad value: CLI11 names the flag, as in "--port: Value 70000 not in range 0 to 65535" or
  // "Could not convert: --pin-threads = maybe".
  const std::size_t dashes = message.find("--");
  if (dashes == std::string::npos) return message;
  const std::size_t end = message.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-", dashes + 2);
  const std::string key = message.substr(dashes + 2, end - dashes - 2);
  const int line = on_command_line(key, argc, argv) ? 0 : line_of(file, key);
  if (line == 0) return message;
  std::string detail = message;
  if (message.starts_with("--" + key + ": ")) detail = message.substr(key.size() + 4);
  return at(file, line) + ": " + key + ": " + detail;
}

}  // namespace hkv::app
