// SPDX-License-Identifier: MIT
// HTTP/1.1 session: llhttp parsing, keep-alive and pipelining (responses in request order, all
// answers of one read written with one writev), chunked bodies, 100-continue and Upgrade: h2c.
#pragma once

#include <llhttp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/context.h"

namespace hkv::http {

class H1Session final : public net::Protocol, public AdmissionWaiter {
 public:
  H1Session(net::Connection& conn, HttpContext& ctx);
  ~H1Session() override;

  std::size_t on_data(const char* data, std::size_t size) override;
  void on_peer_closed() override;
  void on_drained() override;
  void on_shutdown() override;
  void on_close() override;
  net::Awaiting awaiting() const override;
  std::uint64_t requests_begun() const override { return requests_begun_; }
  bool on_timeout(net::Awaiting what) override;
  void admitted() override;
  void release_idle_memory() override;

 private:
  friend struct H1Callbacks;
  int fail(std::uint16_t status, const char* message);
  bool starts_folded_line(const char* at) const;
  void respond_error_and_close(std::uint16_t status, std::string_view message);
  void finish_header();
  int headers_complete();
  void dispatch();
  bool try_upgrade();
  void reset_request();
  bool idle() const;

  net::Connection& conn_;
  HttpContext& ctx_;
  llhttp_t parser_;

  Request req_;  // the request being read
  std::string field_;
  std::optional<Field> kept_;  // the field being read is one the application reads
  std::string value_;
  std::string http2_settings_;
  std::string transfer_encoding_;  // the request's Transfer-Encoding lines, joined with ','
  std::string_view input_;  // the bytes on_data is parsing
  std::size_t header_bytes_ = 0;
  std::size_t header_fields_ = 0;
  char last_nonblank_ = 0;  // the last byte before input_ that is not SP or HTAB
  std::uint8_t http2_settings_fields_ = 0;
  bool has_host_ = false;
  bool in_message_ = false;
  bool in_body_ = false;  // the head is complete, the body is still arriving
  std::uint64_t requests_begun_ = 0;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool wants_h2c_ = false;
  bool expect_continue_ = false;
  bool parked_ = false;
  bool backpressured_ = false;
  bool upgraded_ = false;
  bool closing_ = false;
  bool shutting_down_ = false;
  std::uint16_t error_status_ = 0;
  const char* error_message_ = nullptr;
};

}  // namespace hkv::http
