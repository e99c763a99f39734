// SPDX-License-Identifier: MIT
// H2Session: the HTTP/2 protocol of one connection, over an nghttp2 server session. Its lifecycle,
// streams, dispatch and output are in h2.cc; the nghttp2 callbacks that build requests and police
// the peer's frames are in h2_callbacks.cc.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "http/context.h"
#include "http/h2.h"
#include "http/h2_guard.h"
#include "http/h2_stream.h"

namespace hkv::http {

class H2Session final : public net::Protocol, public AdmissionWaiter {
 public:
  H2Session(net::Connection& conn, HttpContext& ctx);
  ~H2Session() override;

  // Starts the session; with `upgraded`, as the upgrade of that HTTP/1.1 request (moved into
  // stream 1 once the session has started).
  bool init(Request* upgraded, std::string_view http2_settings);
  std::size_t on_data(const char* data, std::size_t size) override;
  void on_peer_closed() override;
  void on_drained() override;
  void on_shutdown() override;
  void on_close() override;
  net::Awaiting awaiting() const override;
  std::uint64_t requests_begun() const override { return streams_opened_; }
  std::uint64_t progress(std::uint64_t writes) override;
  bool on_timeout(net::Awaiting what) override;
  void admitted() override;
  void release_idle_memory() override;

  // nghttp2 callbacks
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t flags, void* self);
  static int on_data_chunk(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id,
                           const std::uint8_t* data, std::size_t len, void* self);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                             void* self);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* frame_head,
                          std::size_t length, nghttp2_data_source* source, void* self);
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* self);
  static int on_invalid_frame_recv(nghttp2_session*, const nghttp2_frame* frame, int lib_error_code,
                                   void* self);

 private:
  H2Stream* stream(std::int32_t id);
  void body_announced(H2Stream* s);
  void request_complete(H2Stream* s);
  void answer_ended();
  void forget_ended(H2Stream* s);
  void admit(H2Stream* s);
  void dispatch(H2Stream* s);
  void answer(H2Stream* s);
  void release_upgrade_data();
  void pump();
  H2Stream* open_stream(std::int32_t id);
  void close_stream(H2Stream* s);
  void release_body(H2Stream* s);
  void close_all_streams();
  int check_window_settings(const nghttp2_settings& settings);
  int count_reset();
  int count_bad_frame();
  int fail(std::uint32_t error_code, std::optional<H2Abuse> why);
  void say_goodbye(std::uint32_t error_code);

  net::Connection& conn_;
  HttpContext& ctx_;
  nghttp2_session* session_ = nullptr;
  H2FloodGuard guard_;
  // Set by a callback that finds the peer over a limit or out of stream order. The callback then
  // fails, which stops nghttp2 at once: asking it to terminate from inside its own callbacks can
  // leave it parsing on and tripping an assertion. on_data (or pump) then writes this GOAWAY
  // itself and closes.
  std::optional<std::uint32_t> goodbye_;
  bool said_goodbye_ = false;
  std::int32_t newest_headers_id_ = 0;  // the highest stream id a HEADERS frame has named
  // Taken as a SETTINGS frame begins: the widest send window of an open stream, and the peer's
  // initial window size until then (see check_window_settings).
  std::int64_t widest_window_ = 0;
  std::int64_t initial_window_ = NGHTTP2_INITIAL_WINDOW_SIZE;
  // Streams whose request ended in the read being parsed, oldest first (linked, so that an idle
  // session keeps no buffer for them).
  H2Stream* ended_first_ = nullptr;
  H2Stream* ended_last_ = nullptr;
  std::vector<H2Stream*> parked_;  // oldest first; a vector, since an empty deque holds memory
  bool waiting_ = false;
  bool peer_closed_ = false;
  int open_streams_ = 0;
  int incomplete_streams_ = 0;  // open streams whose request has not ended
  int answered_streams_ = 0;    // open streams whose response is submitted: they wait on the peer
  std::uint64_t streams_opened_ = 0;
  // What the send timeout counts as the peer taking output (see progress()).
  std::uint64_t data_frames_sent_ = 0;
  std::uint64_t backlog_writes_ = 0;
  std::uint64_t writes_seen_ = 0;
  H2Stream* streams_ = nullptr;
  // The stream whose request header block is arriving: HEADERS and its CONTINUATIONs come
  // back to back, so on_header needs no lookup by id.
  H2Stream* receiving_ = nullptr;
  bool in_header_block_ = false;  // a HEADERS frame came without END_HEADERS, CONTINUATION is due
};

// The callbacks every session of this thread registers with nghttp2 (h2_callbacks.cc).
const nghttp2_session_callbacks* h2_session_callbacks();

}  // namespace hkv::http
