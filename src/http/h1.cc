// SPDX-License-Identifier: MIT
// HTTP/1.1 session. llhttp callbacks copy the target and body into per-connection buffers (reused
// across requests); on_message_complete pauses the parser so requests are answered one at a time,
// in order, each after it holds an admission slot.
#include "http/h1.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "http/h2.h"
#include "http/response.h"
#include "http/syntax.h"

namespace hkv::http {

namespace {

// RFC 9112 6.1 and 6.3: a request's codings must end with chunked, applied once (else 400); hkv
// decodes no other coding (501). Empty list items are skipped (RFC 9110 5.6.1).
std::uint16_t transfer_coding_status(std::string_view list) {
  int chunked = 0;
  bool last_is_chunked = false;
  bool other = false;
  while (!list.empty()) {
    std::string_view item = next_list_item(list);
    if (item.empty()) continue;
    last_is_chunked = iequals(item, "chunked");
    chunked += last_is_chunked;
    other = other || !last_is_chunked;
  }
  if (!last_is_chunked || chunked != 1) return 400;
  return other ? 501 : 0;
}

// RFC 9110 7.2: uri-host [":" port], the host a name or address, or an IPv6 literal in brackets.
bool is_host(std::string_view h) {
  if (h.starts_with('[')) {
    std::size_t close = h.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : h.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    h.remove_prefix(close + 1);
  } else {
    while (!h.empty() && kHostChars[static_cast<unsigned char>(h.front())]) h.remove_prefix(1);
  }
  if (h.empty()) return true;
  if (h.front() != ':') return false;
  h.remove_prefix(1);
  return h.find_first_not_of("0123456789") == std::string_view::npos;
}

// RFC 9112 3.2: the request target in origin-form, in absolute-form (rewritten to the origin-form
// the router takes), or "*" for OPTIONS. False for anything else, or for spaces or control bytes
// (llhttp lets a tab through).
bool normalize_target(std::string& target, bool is_options) {
  for (unsigned char c : target) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  if (target.starts_with('/')) return true;
  if (target == "*") return is_options;
  std::size_t scheme_end = target.find("://");
  if (scheme_end == std::string::npos) return false;
  std::string_view scheme(target.data(), scheme_end);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
  std::size_t authority = scheme_end + 3;
  std::size_t path = std::min(target.find_first_of("/?", authority), target.size());
  std::string_view host(target.data() + authority, path - authority);
  // RFC 9110 4.2: an http(s) URI has a host, and no userinfo ('@' is not a host character).
  if (host.empty() || host.front() == ':' || !is_host(host)) return false;
  target.erase(0, path);
  if (!target.starts_with('/')) target.insert(0, 1, '/');
  return true;
}

Method to_method(std::uint8_t m) {
  switch (m) {
    case HTTP_GET: return Method::get;
    case HTTP_HEAD: return Method::head;
    case HTTP_POST: return Method::post;
    case HTTP_PUT: return Method::put;
    case HTTP_DELETE: return Method::del;
    default: return Method::other;
  }
}

H1Session* session_of(llhttp_t* p) { return static_cast<H1Session*>(p->data); }

}  // namespace

struct H1Callbacks {
  static int on_message_begin(llhttp_t* p) {
    H1Session* s = session_of(p);
    s->in_message_ = true;
    s->in_body_ = false;
    ++s->requests_begun_;
    s->header_bytes_ = 0;
    s->header_fields_ = 0;
    return 0;
  }
  static int on_url(llhttp_t* p, const char* at, std::size_t len) {
    H1Session* s = session_of(p);
    s->req_.target.append(at, len);
    s->header_bytes_ += len;
    if (s->req_.target.size() > s->ctx_.limits.max_target_bytes) return s->fail(414, "request target too long");
    return 0;
  }
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    H1Session* s = session_of(p);
    s->field_.append(at, len);
    s->header_bytes_ += len + 4;  // ": " and CRLF
    if (s->header_bytes_ > s->ctx_.limits.max_header_bytes) return s->fail(431, "header section too large");
    return 0;
  }
  // A field the application reads has its value written straight into the request's fields.
  static int on_header_field_complete(llhttp_t* p) {
    H1Session* s = session_of(p);
    s->kept_ = (p->flags & F_TRAILING) ? std::nullopt : kept_field(s->field_);
    if (s->kept_) s->req_.fields.open(*s->kept_);
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    H1Session* s = session_of(p);
    // RFC 9112 5.2: obs-fold is rejected (llhttp joins the lines silently).
    if (len > 0 && s->starts_folded_line(at)) return s->fail(400, "obs-fold (a header line starting with a space)");
    if (s->kept_) {
      s->req_.fields.append({at, len});
    } else {
      s->value_.append(at, len);
    }
    s->header_bytes_ += len;
    if (s->header_bytes_ > s->ctx_.limits.max_header_bytes) return s->fail(431, "header section too large");
    return 0;
  }
  static int on_header_value_complete(llhttp_t* p) {
    H1Session* s = session_of(p);
    s->finish_header();
    return s->error_status_ != 0 ? HPE_USER : 0;
  }
  static int on_headers_complete(llhttp_t* p) { return session_of(p)->headers_complete(); }
  static int on_chunk_extension(llhttp_t* p, const char*, std::size_t len) {
    H1Session* s = session_of(p);
    // Chunk extensions are skipped, but count toward the request's header-section budget.
    s->header_bytes_ += len;
    if (s->header_bytes_ > s->ctx_.limits.max_header_bytes) return s->fail(400, "chunk extensions too long");
    return 0;
  }
  static int on_body(llhttp_t* p, const char* at, std::size_t len) {
    H1Session* s = session_of(p);
    if (s->req_.body.size() + len > s->ctx_.limits.max_value_size) {
      return s->fail(413, "request body larger than --max-value-size");
    }
    s->req_.body.append(at, len);
    return 0;
  }
  // A chunk that cannot fit is refused as it is announced, as an over-limit Content-Length is,
  // rather than after the client has sent the limit's worth (or never, for 2^64 - 1).
  static int on_chunk_header(llhttp_t* p) {
    H1Session* s = session_of(p);
    if (p->content_length > s->ctx_.limits.max_value_size - s->req_.body.size()) {
      return s->fail(413, "request body larger than --max-value-size");
    }
    return 0;
  }
  static int on_message_complete(llhttp_t* p) {
    session_of(p)->in_message_ = false;
    session_of(p)->in_body_ = false;
    return HPE_PAUSED;
  }

  static const llhttp_settings_t* settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t v;
      llhttp_settings_init(&v);
      v.on_message_begin = on_message_begin;
      v.on_url = on_url;
      v.on_header_field = on_header_field;
      v.on_header_field_complete = on_header_field_complete;
      v.on_header_value = on_header_value;
      v.on_header_value_complete = on_header_value_complete;
      v.on_headers_complete = on_headers_complete;
      v.on_chunk_extension_name = on_chunk_extension;
      v.on_chunk_extension_value = on_chunk_extension;
      v.on_body = on_body;
      v.on_chunk_header = on_chunk_header;
      v.on_message_complete = on_message_complete;
      return v;
    }();
    return &s;
  }
};

H1Session::H1Session(net::Connection& conn, HttpContext& ctx) : conn_(conn), ctx_(ctx) {
  llhttp_init(&parser_, HTTP_REQUEST, H1Callbacks::settings());
  parser_.data = this;
}

H1Session::~H1Session() = default;

int H1Session::fail(std::uint16_t status, const char* message) {
  error_status_ = status;
  error_message_ = message;
  llhttp_set_error_reason(&parser_, message);
  return HPE_USER;
}

// Whether header value bytes at `at` begin on a continuation line: the byte before them, blanks
// skipped, is LF. (A value's first bytes follow its colon; a value split across reads continues
// after value bytes.) Before the current input, the last non-blank byte of the previous one.
bool H1Session::starts_folded_line(const char* at) const {
  const char* p = at;
  while (p > input_.data() && is_ows(p[-1])) --p;
  return (p > input_.data() ? p[-1] : last_nonblank_) == '\n';
}

void H1Session::finish_header() {
  if (!is_token(field_)) {  // llhttp lets some others through (spaces, an empty name)
    fail(400, "invalid header field name");
  } else if (++header_fields_ > ctx_.limits.max_headers) {
    fail(431, "more header fields than --max-headers");
  } else if (parser_.flags & F_TRAILING) {
    // RFC 9110 6.5.1: trailer fields are not merged into the header section; hkv reads none.
  } else if (iequals(field_, "host")) {
    // RFC 9112 3.2: exactly one Host field, with a valid value.
    if (has_host_) {
      fail(400, "more than one Host field");
    } else if (!is_host(value_)) {
      fail(400, "invalid Host");
    }
    has_host_ = true;
  } else if (iequals(field_, "transfer-encoding")) {
    // llhttp takes an empty Transfer-Encoding for none at all.
    if (trim_ows(value_).empty()) fail(400, "empty Transfer-Encoding");
    transfer_encoding_ += ',';
    transfer_encoding_ += value_;
  } else if (iequals(field_, "expect")) {
    if (!iequals(value_, "100-continue")) {
      fail(417, "only 'Expect: 100-continue' is supported");
    }
    expect_continue_ = true;
  } else if (iequals(field_, "upgrade")) {
    wants_h2c_ = list_has_token(value_, "h2c");
  } else if (iequals(field_, "http2-settings")) {
    http2_settings_ = value_;
    ++http2_settings_fields_;
  }
  kept_.reset();  // its value is in req_.fields already
  field_.clear();
  value_.clear();
}

int H1Session::headers_complete() {
  if (error_status_ != 0) return -1;  // an earlier header callback failed (e.g. Expect)
  if (parser_.http_major != 1 || parser_.http_minor > 1) {
    fail(400, "unsupported HTTP version");
    return -1;
  }
  http10_ = parser_.http_minor == 0;
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
  if (!http10_ && !has_host_) {
    fail(400, "missing Host");
    return -1;
  }
  if (!normalize_target(req_.target, parser_.method == HTTP_OPTIONS)) {
    fail(400, "invalid request target");
    return -1;
  }
  if (!transfer_encoding_.empty()) {
    // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    std::uint16_t status = http10_ ? 400 : transfer_coding_status(transfer_encoding_);
    if (status != 0) {
      fail(status, status == 501 ? "only the chunked transfer coding is supported" : "invalid Transfer-Encoding");
      return -1;
    }
  }
  // Upgrades are handled here, after the whole request: llhttp must parse it as a normal message.
  // RFC 7540 3.2.1: no upgrade without exactly one HTTP2-Settings field.
  wants_h2c_ = wants_h2c_ && parser_.upgrade && ctx_.limits.h2c_upgrade && !http10_ && http2_settings_fields_ == 1;
  parser_.upgrade = 0;
  if ((parser_.flags & F_CONTENT_LENGTH) && parser_.content_length > ctx_.limits.max_value_size) {
    fail(413, "request body larger than --max-value-size");
    return -1;
  }
  if ((parser_.flags & F_CONTENT_LENGTH) && parser_.content_length > 0) {
    const std::size_t length = parser_.content_length;
    if (length >= kBodyProvidedFrom) {
      req_.method = to_method(parser_.method);
      req_.body.provide(ctx_.handler.body_buffer(req_, length));
    }
    req_.body.reserve(length);
  }
  if (expect_continue_ && !http10_) conn_.out().append("HTTP/1.1 100 Continue\r\n\r\n");
  in_body_ = true;
  return 0;
}

std::size_t H1Session::on_data(const char* data, std::size_t size) {
  input_ = {data, size};
  std::size_t used = 0;
  while (used < size && !parked_ && !closing_ && !backpressured_) {
    llhttp_errno_t err = llhttp_execute(&parser_, data + used, size - used);
    if (err == HPE_OK) {
      // A header value may go on in the next input: keep what starts_folded_line looks behind at.
      std::size_t last = input_.find_last_not_of(" \t");
      if (last != std::string_view::npos) last_nonblank_ = input_[last];
      return size;
    }
    if (err != HPE_PAUSED) {
      std::string message = "malformed request: ";
      std::uint16_t status = 400;
      if (error_status_ != 0) {
        status = error_status_;
        message = error_message_;
      } else {
        message += llhttp_get_error_reason(&parser_);
      }
      respond_error_and_close(status, message);
      return size;
    }
    used = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data);
    llhttp_resume(&parser_);
    if (!ctx_.admission.acquire_or_wait(this)) {
      parked_ = true;
      conn_.pause_reading();
      break;
    }
    dispatch();
    if (upgraded_) return used;
    if (conn_.out().pending() > ctx_.limits.output_high_water) {
      backpressured_ = true;
      conn_.pause_reading();
    }
  }
  if (closing_) {
    conn_.close_after_flush();
    return size;
  }
  return used;
}

// Answers the parsed request, holding the admission slot acquired for it, which is released as
// soon as the answer is queued (or, for an upgrade, stream 1's answer is submitted): the slot
// bounds the server's work, never the wait for a peer to read.
void H1Session::dispatch() {
  struct SlotRelease {
    AdmissionGate& gate;
    ~SlotRelease() { gate.release(1); }
  } slot{ctx_.admission.gate()};
  req_.method = to_method(parser_.method);
  if (wants_h2c_ && try_upgrade()) return;
  Response resp;
  ctx_.handler.handle(req_, resp);
  if (shutting_down_ || resp.malformed) keep_alive_ = false;
  write_h1_response(conn_.out(), resp, H1ResponseOptions{keep_alive_, http10_});
  if (!keep_alive_) closing_ = true;
  reset_request();
}

// Hands the request over to stream 1 of a new HTTP/2 session, unless HTTP2-Settings is invalid
// (the request is then answered over HTTP/1.1, as it is).
bool H1Session::try_upgrade() {
  auto h2 = upgrade_to_h2(conn_, ctx_, req_, http2_settings_);
  if (!h2) return false;
  upgraded_ = true;
  conn_.set_protocol(std::move(h2));
  return true;
}

void H1Session::reset_request() {
  req_.clear();
  http2_settings_.clear();
  http2_settings_fields_ = 0;
  transfer_encoding_.clear();
  has_host_ = false;
  wants_h2c_ = false;
  expect_continue_ = false;
  error_status_ = 0;
}

void H1Session::release_idle_memory() {
  req_.release_memory();
  for (std::string* s : {&field_, &value_, &http2_settings_, &transfer_encoding_}) std::string().swap(*s);
}

void H1Session::respond_error_and_close(std::uint16_t status, std::string_view message) {
  Response resp;
  std::string text(message);
  text += '\n';
  resp.set_error(status, text);
  write_h1_response(conn_.out(), resp, H1ResponseOptions{false, http10_});
  closing_ = true;
  conn_.close_after_flush();
}

void H1Session::admitted() {
  parked_ = false;
  dispatch();
  if (upgraded_) {
    conn_.resume_reading();  // switches to HTTP/2: `this` is gone after this call
    return;
  }
  if (closing_) {
    conn_.close_after_flush();
    return;
  }
  conn_.resume_reading();
  conn_.flush();
  if (!conn_.closed() && conn_.peer_closed() && idle()) conn_.close_after_flush();
}

// Output the peer does not take comes first: a connection with answers queued must not escape the
// send timeout by having its next request wait for a slot (on the server).
net::Awaiting H1Session::awaiting() const {
  if (backpressured_ || !conn_.out().empty()) return net::Awaiting::send;
  if (parked_) return net::Awaiting::server;
  if (in_message_) return in_body_ ? net::Awaiting::body : net::Awaiting::header;
  return net::Awaiting::idle;
}

// A request cut short by a timeout gets a 408; an idle connection, or one whose peer does not
// read, is closed without a word (RFC 9110 15.5.9).
bool H1Session::on_timeout(net::Awaiting what) {
  if (what == net::Awaiting::header) {
    respond_error_and_close(408, "request head not received within --header-timeout");
    return true;
  }
  if (what == net::Awaiting::body) {
    respond_error_and_close(408, "request body stalled for --body-timeout");
    return true;
  }
  return false;
}

bool H1Session::idle() const { return !in_message_ && !parked_ && !backpressured_; }

void H1Session::on_drained() {
  if (backpressured_) {
    backpressured_ = false;
    conn_.resume_reading();
  }
  if (!conn_.closed() && conn_.peer_closed() && idle()) conn_.close_after_flush();
}

void H1Session::on_peer_closed() {
  if (!parked_ && !backpressured_) conn_.close_after_flush();
}

void H1Session::on_shutdown() {
  shutting_down_ = true;
  if (!in_message_ && !parked_) conn_.close_after_flush();
}

void H1Session::on_close() {
  if (parked_) {
    ctx_.admission.cancel(this);
    parked_ = false;
  }
}

}  // namespace hkv::http
