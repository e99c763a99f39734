// SPDX-License-Identifier: MIT
// Protocol detection on a fresh connection: the HTTP/2 client preface means h2c by prior
// knowledge; anything else is HTTP/1.1.
#include <cstring>
#include <string_view>

#include "http/context.h"
#include "http/h1.h"
#include "http/h2.h"

namespace hkv::http {

namespace {

constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class ProtocolSniffer final : public net::Protocol {
 public:
  ProtocolSniffer(net::Connection& conn, HttpContext& ctx) : conn_(conn), ctx_(ctx) {}

  std::size_t on_data(const char* data, std::size_t size) override {
    std::size_t n = std::min(size, kClientPreface.size());
    bool is_h2 = std::memcmp(data, kClientPreface.data(), n) == 0;
    if (is_h2 && n < kClientPreface.size()) return 0;  // could still be the preface: wait
    if (is_h2) {
      auto h2 = make_h2_session(conn_, ctx_);
      if (!h2) {
        conn_.close_now();
        return size;
      }
      conn_.set_protocol(std::move(h2));
    } else {
      conn_.set_protocol(std::make_unique<H1Session>(conn_, ctx_));
    }
    return 0;
  }
  void on_peer_closed() override { conn_.close_now(); }
  void on_shutdown() override { conn_.close_now(); }
  // A fresh connection owes its first request head within the header timeout.
  net::Awaiting awaiting() const override { return net::Awaiting::header; }

 private:
  net::Connection& conn_;
  HttpContext& ctx_;
};

}  // namespace

std::unique_ptr<net::Protocol> make_protocol_sniffer(net::Connection& conn, HttpContext& ctx) {
  return std::make_unique<ProtocolSniffer>(conn, ctx);
}

}  // namespace hkv::http
