// SPDX-License-Identifier: MIT
// describe_config_error: turns a command-line or config-file parse error into a message that
// names the file and line of the setting at fault.
#pragma once

#include <string>

namespace hkv::app {

enum class ConfigErrorKind { unreadable, unknown_key, bad_value };

// The message to print for a parse error when `file` was given with --config (empty: none):
// "FILE:LINE: ..." for a key the file holds and the command line does not set; `message` as it
// is otherwise.
std::string describe_config_error(const std::string& file, ConfigErrorKind kind, const std::string& message, int argc,
                                  char** argv);

}  // namespace hkv::app
