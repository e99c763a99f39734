// SPDX-License-Identifier: MIT
// HTTP/2 session: its streams, the shared handler answering each one, and the output pulled from
// nghttp2. The response body is served from the stream's Response (a stored value is borrowed, not
// copied, until the stream closes). A stream holds an admission slot only while its handler runs;
// streams that find no slot wait in arrival order.
#include <nghttp2/nghttp2.h>

#include <array>
#include <new>
#include <span>
#include <string>

#include "http/h2.h"
#include "http/h2_memory.h"
#include "http/h2_session.h"
#include "http/response.h"
#include "http/syntax.h"

namespace hkv::http {

H2Session::H2Session(net::Connection& conn, HttpContext& ctx) : conn_(conn), ctx_(ctx), guard_(ctx.limits) {}

H2Session::~H2Session() {
  close_all_streams();
  if (session_ != nullptr) nghttp2_session_del(session_);
}

H2Stream* H2Session::open_stream(std::int32_t id) {
  // Streams come from the same per-thread pool as nghttp2's own per-stream blocks.
  void* mem = thread_h2_memory()->malloc(sizeof(H2Stream), nullptr);
  if (mem == nullptr) throw std::bad_alloc();
  auto* s = new (mem) H2Stream();
  s->id = id;
  s->req.version = HttpVersion::h2;
  s->next = streams_;
  if (streams_ != nullptr) streams_->prev = s;
  streams_ = s;
  ++open_streams_;
  ++incomplete_streams_;
  ++streams_opened_;
  nghttp2_session_set_stream_user_data(session_, id, s);
  return s;
}

// Frees a stream and everything it holds: its admission slot, its place in the wait queue and
// the value its response borrows.
void H2Session::close_stream(H2Stream* s) {
  if (receiving_ == s) receiving_ = nullptr;
  if (s->ended) forget_ended(s);
  if (s->parked) {
    std::erase(parked_, s);
    if (parked_.empty() && waiting_) {
      ctx_.admission.cancel(this);
      waiting_ = false;
    }
  }
  if (s->answered) --answered_streams_;
  release_body(s);
  if (s->prev != nullptr) s->prev->next = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  if (streams_ == s) streams_ = s->next;
  --open_streams_;
  if (!s->complete) --incomplete_streams_;
  s->~H2Stream();
  thread_h2_memory()->free(s, nullptr);
}

// The value a stream's response borrowed is released once the output holds none of its bytes.
void H2Session::release_body(H2Stream* s) {
  const net::ExternalBytes& body = s->resp.borrowed;
  if (body.release == nullptr) return;
  if (s->body_lent) {
    conn_.out().release_after_queued(body.owner, body.release);
  } else {
    body.release(body.owner);
  }
}

// nghttp2_session_del() does not call on_stream_close, so streams still open when the
// connection goes away are closed here.
void H2Session::close_all_streams() {
  while (streams_ != nullptr) {
    nghttp2_session_set_stream_user_data(session_, streams_->id, nullptr);
    close_stream(streams_);
  }
}

bool H2Session::init(Request* up, std::string_view http2_settings) {
  std::string settings;
  if (up != nullptr && !base64url_decode(http2_settings, settings)) return false;
  int rv = nghttp2_session_server_new3(&session_, h2_session_callbacks(), this, h2_session_options(ctx_.limits),
                                      thread_h2_memory());
  if (rv != 0) return false;
  if (up != nullptr) {
    rv = nghttp2_session_upgrade2(session_, reinterpret_cast<const std::uint8_t*>(settings.data()),
                                  settings.size(), up->method == Method::head, nullptr);
    if (rv != 0) return false;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, ctx_.limits.max_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(ctx_.limits.max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, 3);
  // A larger connection window lets several large uploads proceed at once.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 16 << 20);
  if (up != nullptr) {
    conn_.out().append("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    H2Stream* s = open_stream(1);
    newest_headers_id_ = 1;
    s->complete = true;  // the HTTP/1.1 request it answers has been read whole
    --incomplete_streams_;
    s->req = std::move(*up);
    s->req.version = HttpVersion::h2;
    answer(s);  // under the slot the HTTP/1.1 session acquired for this request
    // A body that fits in one DATA frame goes out at once, as before: the 101, the preface, the
    // HEADERS and it stay far below what any client keeps. A larger one waits (see hold_data).
    s->hold_data = s->resp.body_size() > kUpgradeBodySentAtOnce;
  }
  pump();
  return true;
}

H2Stream* H2Session::stream(std::int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
}


// The last frame of the connection, written by hand: the session can send nothing more.
void H2Session::say_goodbye(std::uint32_t error_code) {
  if (said_goodbye_) return;
  said_goodbye_ = true;
  append_goaway(conn_.out(), nghttp2_session_get_last_proc_stream_id(session_), error_code);
  ctx_.counters.h2_goaways.add();
  conn_.close_after_flush();
}

// A request's header block has come and its body follows: when its length is known, the handler
// may provide the memory to read it into.
void H2Session::body_announced(H2Stream* s) {
  const std::size_t length = s->content_length;
  if (length < kBodyProvidedFrom || length > ctx_.limits.max_value_size || s->headers_too_large) return;
  s->req.body.provide(ctx_.handler.body_buffer(s->req, length));
}

// Called while nghttp2 parses a read: the stream is answered once the whole read is parsed, with
// the others that ended in it.
void H2Session::request_complete(H2Stream* s) {
  s->complete = true;
  --incomplete_streams_;
  s->ended = true;
  if (ended_last_ != nullptr) {
    ended_last_->next_ended = s;
  } else {
    ended_first_ = s;
  }
  ended_last_ = s;
}

// A stream closed (reset by the peer) in the same read as its request ended.
void H2Session::forget_ended(H2Stream* s) {
  H2Stream* before = nullptr;
  for (H2Stream* e = ended_first_; e != s; e = e->next_ended) before = e;
  (before != nullptr ? before->next_ended : ended_first_) = s->next_ended;
  if (ended_last_ == s) ended_last_ = before;
}

// Tells the handler which GETs are coming, so that their lookups' cache misses overlap, then
// admits and answers each stream in the order its request ended; 64 streams at a time, so that
// what was prefetched is still in cache when its turn comes.
void H2Session::answer_ended() {
  constexpr std::size_t kHintsAtOnce = 64;
  while (ended_first_ != nullptr) {
    std::array<std::string_view, kHintsAtOnce> targets;
    std::size_t hints = 0;
    std::size_t streams = 0;
    for (const H2Stream* s = ended_first_; s != nullptr && streams < kHintsAtOnce; s = s->next_ended, ++streams) {
      if (s->req.method == Method::get || s->req.method == Method::head) targets[hints++] = s->req.target;
    }
    if (hints > 1) ctx_.handler.prefetch(std::span(targets.data(), hints));
    for (; streams > 0 && ended_first_ != nullptr; --streams) {
      H2Stream* s = ended_first_;
      ended_first_ = s->next_ended;
      s->ended = false;
      s->next_ended = nullptr;
      admit(s);
    }
  }
  ended_last_ = nullptr;
}

void H2Session::admit(H2Stream* s) {
  if (!parked_.empty()) {
    s->parked = true;
    parked_.push_back(s);
    return;
  }
  if (ctx_.admission.acquire_or_wait(this)) {
    dispatch(s);
    return;
  }
  s->parked = true;
  parked_.push_back(s);
  waiting_ = true;
  // Push back on the client through TCP. Slots are held only while handlers run, never while
  // a peer is awaited, so the wait is short and the connection's WINDOW_UPDATEs are read soon.
  conn_.pause_reading();
}

void H2Session::admitted() {
  waiting_ = false;
  bool first = true;
  while (!parked_.empty()) {
    if (!first && !ctx_.admission.acquire_or_wait(this)) {
      waiting_ = true;
      break;
    }
    first = false;
    H2Stream* s = parked_.front();
    parked_.erase(parked_.begin());
    s->parked = false;
    dispatch(s);
  }
  pump();
  conn_.resume_reading();
  conn_.flush();
}

// Answers a stream under an admission slot acquired for it, and gives the slot back once the
// response is submitted: from then on the stream waits on the peer, which must not hold a
// server-wide resource (a client with zero windows would otherwise keep every slot).
void H2Session::dispatch(H2Stream* s) {
  answer(s);
  ctx_.admission.gate().release(1);
}

void H2Session::answer(H2Stream* s) {
  if (s->headers_too_large) {
    s->resp.set_error(431, "header section larger than --max-header-bytes or --max-headers\n");
  } else if (s->body_too_large) {
    s->resp.set_error(413, "request body larger than --max-value-size\n");
  } else {
    ctx_.handler.handle(s->req, s->resp);
  }
  s->req.body.reset();
  nghttp2_nv nva[kMaxResponseFields];
  const std::size_t n = h2_response_fields(*s, nva);
  nghttp2_data_provider provider{};
  provider.source.ptr = s;
  provider.read_callback = h2_read_body;
  nghttp2_submit_response(session_, s->id, nva, n, h2_sends_body(s->resp) ? &provider : nullptr);
  s->answered = true;
  ++answered_streams_;
}

std::size_t H2Session::on_data(const char* data, std::size_t size) {
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data), size);
  if (rv < 0) {
    if (goodbye_) {
      say_goodbye(*goodbye_);
      return size;
    }
    // Protocol error: nghttp2 has queued a GOAWAY where one is due; send it and close.
    pump();
    if (std::optional<H2Abuse> why = h2_abuse_of(static_cast<int>(rv))) {
      // A flood nghttp2 stops at (fatal, so it queues no GOAWAY itself): say why before closing.
      ctx_.counters.count(*why);
      say_goodbye(NGHTTP2_ENHANCE_YOUR_CALM);
    }
    conn_.close_after_flush();
    return size;
  }
  answer_ended();
  pump();
  return size;
}

void H2Session::pump() {
  if (conn_.closed() || said_goodbye_) return;
  while (conn_.out().pending() < ctx_.limits.output_high_water) {
    const std::uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      if (goodbye_) {
        say_goodbye(*goodbye_);  // a reset it sent was one too many (on_frame_send)
      } else {
        conn_.close_now();
      }
      return;
    }
    if (n == 0) break;
    conn_.out().append({reinterpret_cast<const char*>(data), static_cast<std::size_t>(n)});
  }
  bool want_write = nghttp2_session_want_write(session_) != 0;
  bool done = !nghttp2_session_want_read(session_) && !want_write;
  // A peer that has closed can send no WINDOW_UPDATE: once nothing more can be sent and no request
  // waits for a slot, the streams still open can never finish.
  if (peer_closed_ && parked_.empty() && !want_write) done = true;
  if (done) conn_.close_after_flush();
}

void H2Session::on_drained() { pump(); }

// nghttp2 has framed a DATA frame without copying its body (h2_read_body): queue it, unless the
// output is already at its high-water mark, in which case nghttp2 offers the frame again later.
int H2Session::on_send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* frame_head,
                            std::size_t length, nghttp2_data_source* source, void* self) {
  auto* h = static_cast<H2Session*>(self);
  net::OutputQueue& out = h->conn_.out();
  if (out.pending() >= h->ctx_.limits.output_high_water) return NGHTTP2_ERR_WOULDBLOCK;
  h2_send_body(*static_cast<H2Stream*>(source->ptr), *frame, frame_head, length, out);
  return 0;
}

// The client's SETTINGS have come after an upgrade: stream 1 may now send its DATA.
void H2Session::release_upgrade_data() {
  H2Stream* s = stream(1);
  if (s == nullptr || !s->hold_data) return;
  s->hold_data = false;
  nghttp2_session_resume_data(session_, 1);
}

// The peer takes output when response DATA is produced (it opened windows and read what came
// before) or when writes drain a backlog. Writes with nothing else queued do not count: they may be
// only the PING and SETTINGS ACKs that a client which never opens its windows can keep asking for.
std::uint64_t H2Session::progress(std::uint64_t writes) {
  if (writes != writes_seen_ && !conn_.out().empty()) ++backlog_writes_;
  writes_seen_ = writes;
  return data_frames_sent_ + backlog_writes_;
}

void H2Session::on_peer_closed() {
  peer_closed_ = true;
  pump();
  conn_.flush();
}

void H2Session::on_shutdown() {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  pump();
  conn_.flush();
}

// Streams still uploading wait on the body; streams waiting for an admission slot, on the server;
// answered ones, on the peer to read them or to open its flow-control window.
// Output waiting for the peer comes first, then answered streams, so that a connection cannot
// escape the send timeout by having new streams wait for a slot or trickle a body.
net::Awaiting H2Session::awaiting() const {
  if (!conn_.out().empty() || answered_streams_ > 0) return net::Awaiting::send;
  if (in_header_block_) return net::Awaiting::header;  // as an HTTP/1.1 head: --header-timeout
  if (!parked_.empty()) return net::Awaiting::server;
  if (incomplete_streams_ > 0) return net::Awaiting::body;
  return open_streams_ == 0 ? net::Awaiting::idle : net::Awaiting::send;
}

// An idle connection, or one whose uploads stalled, is told GOAWAY and closed once it is sent.
// One whose peer stopped reading cannot be told anything: it is closed at once.
bool H2Session::on_timeout(net::Awaiting what) {
  if (what == net::Awaiting::send) return false;
  nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  pump();
  conn_.close_after_flush();
  return true;
}

void H2Session::release_idle_memory() { std::vector<H2Stream*>().swap(parked_); }

void H2Session::on_close() {
  if (waiting_) {
    ctx_.admission.cancel(this);
    waiting_ = false;
  }
  close_all_streams();
}

std::unique_ptr<net::Protocol> make_h2_session(net::Connection& conn, HttpContext& ctx) {
  auto s = std::make_unique<H2Session>(conn, ctx);
  if (!s->init(nullptr, {})) return nullptr;
  return s;
}

std::unique_ptr<net::Protocol> upgrade_to_h2(net::Connection& conn, HttpContext& ctx, Request& req,
                                             std::string_view http2_settings) {
  auto s = std::make_unique<H2Session>(conn, ctx);
  if (!s->init(&req, http2_settings)) return nullptr;
  return s;
}

}  // namespace hkv::http
