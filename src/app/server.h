// SPDX-License-Identifier: MIT
// Server: builds the store, the admission gate and the workers from the config, and runs them
// until SIGINT or SIGTERM.
#pragma once

#include "app/config.h"

namespace hkv::app {

// Returns the process exit code.
int run_server(const Config& config);

}  // namespace hkv::app
