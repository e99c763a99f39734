// SPDX-License-Identifier: MIT
// libFuzzer target: a fresh connection as the server sees it — the sniffer, then h2c by prior
// knowledge (preface, frames, HPACK through nghttp2 and hkv's H2 session) or HTTP/1.1 with Upgrade.
#include "session_driver.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hkv::fuzz::setup_process();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hkv::fuzz::run_connection({data, size}, hkv::http::make_protocol_sniffer);
  return 0;
}
