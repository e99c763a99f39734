// SPDX-License-Identifier: MIT
// libFuzzer target: an HTTP/1.1 byte stream (pipelined, chunked, Upgrade: h2c) read in pieces by
// the real H1Session, routed and answered by KvHandler from a real store (see session_driver.h).
#include "http/h1.h"
#include "session_driver.h"

namespace {

std::unique_ptr<hkv::net::Protocol> h1_session(hkv::net::Connection& conn, hkv::http::HttpContext& ctx) {
  return std::make_unique<hkv::http::H1Session>(conn, ctx);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hkv::fuzz::setup_process();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hkv::fuzz::run_connection({data, size}, h1_session);
  return 0;
}
