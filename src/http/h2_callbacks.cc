// SPDX-License-Identifier: MIT
// The nghttp2 callbacks of an H2Session: request headers and bodies into streams, stream ends,
// and the checks on the peer's frames (stream order, window overflow, resets, invalid frames).
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "http/h2_session.h"

namespace hkv::http {

namespace {

Method to_method(std::string_view m) {
  if (m == "GET") return Method::get;
  if (m == "HEAD") return Method::head;
  if (m == "POST") return Method::post;
  if (m == "PUT") return Method::put;
  if (m == "DELETE") return Method::del;
  return Method::other;
}

}  // namespace

const nghttp2_session_callbacks* h2_session_callbacks() {
  thread_local struct Holder {
    nghttp2_session_callbacks* cbs = nullptr;
    Holder() {
      nghttp2_session_callbacks_new(&cbs);
      nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2Session::on_begin_headers);
      nghttp2_session_callbacks_set_on_header_callback(cbs, H2Session::on_header);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2Session::on_data_chunk);
      nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2Session::on_frame_recv);
      nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2Session::on_stream_close);
      nghttp2_session_callbacks_set_on_frame_send_callback(cbs, H2Session::on_frame_send);
      nghttp2_session_callbacks_set_send_data_callback(cbs, H2Session::on_send_data);
      nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, H2Session::on_begin_frame);
      nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, H2Session::on_invalid_frame_recv);
    }
    ~Holder() { nghttp2_session_callbacks_del(cbs); }
  } holder;
  return holder.cbs;
}

int H2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* h = static_cast<H2Session*>(self);
  h->receiving_ = nullptr;  // trailers are not read
  h->in_header_block_ = frame->hd.type == NGHTTP2_HEADERS;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  h->receiving_ = h->open_stream(frame->hd.stream_id);
  return 0;
}

int H2Session::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                         std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                         std::uint8_t, void* self) {
  H2Stream* s = static_cast<H2Session*>(self)->receiving_;
  if (s == nullptr || s->id != frame->hd.stream_id) return 0;
  // An HPACK bomb decodes to far more than it costs to send: what is kept is bounded here.
  const HttpLimits& limits = static_cast<H2Session*>(self)->ctx_.limits;
  s->header_bytes += namelen + valuelen + 32;
  if (++s->header_count > limits.max_headers || s->header_bytes > limits.max_header_bytes) {
    s->headers_too_large = true;
    return 0;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n.starts_with(':')) {  // nghttp2 has checked the pseudo-headers; only two matter here
    if (n == ":method") {
      s->req.method = to_method(v);
    } else if (n == ":path") {
      s->req.target = v;
    }
  } else if (n == "content-length") {  // nghttp2 has checked it is digits, and checks the DATA against it
    std::from_chars(v.data(), v.data() + v.size(), s->content_length);
  } else if (std::optional<Field> f = kept_field(n)) {
    s->req.fields.add(*f, v);
  }
  return 0;
}

int H2Session::on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                             const std::uint8_t* data, std::size_t len, void* self) {
  auto* h = static_cast<H2Session*>(self);
  auto* s = static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (s == nullptr || s->body_too_large) return 0;
  if (s->req.body.size() + len > h->ctx_.limits.max_value_size) {
    s->body_too_large = true;
    s->req.body.reset();
    return 0;
  }
  s->req.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int H2Session::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* h = static_cast<H2Session*>(self);
  if (frame->hd.type == NGHTTP2_HEADERS) h->in_header_block_ = false;  // its END_HEADERS has come
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    if (int rv = h->count_reset()) return rv;
  }
  if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK) && h->streams_ != nullptr) {
    if (int rv = h->check_window_settings(frame->settings)) return rv;
    h->release_upgrade_data();
  }
  // An empty DATA frame that does not end the stream does nothing but cost work (CVE-2019-9518).
  if (frame->hd.type == NGHTTP2_DATA && frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    if (int rv = h->count_bad_frame()) return rv;
  }
  if (frame->hd.type == NGHTTP2_HEADERS && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    if (H2Stream* s = h->stream(frame->hd.stream_id)) h->body_announced(s);
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    if (H2Stream* s = h->stream(frame->hd.stream_id)) h->request_complete(s);
  }
  return 0;
}

int H2Session::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* self) {
  auto* h = static_cast<H2Session*>(self);
  H2Stream* s = h->stream(stream_id);
  if (s == nullptr) return 0;
  nghttp2_session_set_stream_user_data(h->session_, stream_id, nullptr);
  h->close_stream(s);
  return 0;
}

int H2Session::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* h = static_cast<H2Session*>(self);
  if (frame->hd.type == NGHTTP2_DATA) ++h->data_frames_sent_;
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    h->ctx_.counters.h2_goaways.add();
    // The guard's GOAWAYs are written by hand and never pass here: an ENHANCE_YOUR_CALM here is
    // nghttp2's own, for a SETTINGS frame of too many entries (its reset limit is only a
    // backstop behind the guard, which trips first).
    if (frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM) h->ctx_.counters.count(H2Abuse::settings_flood);
  }
  return frame->hd.type == NGHTTP2_RST_STREAM ? h->count_reset() : 0;
}

// RFC 9113 5.1.1: a new stream's id must exceed every id the peer used before. nghttp2 ignores a
// HEADERS for a lower id it no longer knows (it cannot remember every stream); that is a
// connection error here. HEADERS on a stream nghttp2 still knows (trailers) are its business.
int H2Session::on_begin_frame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* self) {
  auto* h = static_cast<H2Session*>(self);
  if (hd->type == NGHTTP2_SETTINGS && !(hd->flags & NGHTTP2_FLAG_ACK)) {
    h->initial_window_ = nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
    h->widest_window_ = 0;
    for (const H2Stream* s = h->streams_; s != nullptr; s = s->next) {
      h->widest_window_ = std::max<std::int64_t>(h->widest_window_, nghttp2_session_get_stream_remote_window_size(session, s->id));
    }
    return 0;
  }
  if (hd->type != NGHTTP2_HEADERS) return 0;
  if (hd->stream_id > h->newest_headers_id_) {
    h->newest_headers_id_ = hd->stream_id;
  } else if (nghttp2_session_find_stream(session, hd->stream_id) == nullptr) {
    return h->fail(NGHTTP2_PROTOCOL_ERROR, std::nullopt);
  }
  return 0;
}

// RFC 9113 6.9.2: a new SETTINGS_INITIAL_WINDOW_SIZE that takes a stream's send window past
// 2^31-1 is a connection error (FLOW_CONTROL_ERROR); nghttp2 only resets that stream.
int H2Session::check_window_settings(const nghttp2_settings& settings) {
  std::int64_t window = widest_window_;
  std::int64_t initial = initial_window_;
  for (std::size_t i = 0; i < settings.niv; ++i) {
    if (settings.iv[i].settings_id != NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE) continue;
    window += static_cast<std::int64_t>(settings.iv[i].value) - initial;
    initial = settings.iv[i].value;
    if (window > NGHTTP2_MAX_WINDOW_SIZE) return fail(NGHTTP2_FLOW_CONTROL_ERROR, std::nullopt);
  }
  return 0;
}

int H2Session::on_invalid_frame_recv(nghttp2_session*, const nghttp2_frame*, int, void* self) {
  return static_cast<H2Session*>(self)->count_bad_frame();
}

int H2Session::count_reset() {
  return guard_.allow_reset(std::chrono::steady_clock::now()) ? 0
                                                              : fail(NGHTTP2_ENHANCE_YOUR_CALM, H2Abuse::reset_flood);
}

int H2Session::count_bad_frame() {
  return guard_.allow_bad_frame() ? 0 : fail(NGHTTP2_ENHANCE_YOUR_CALM, H2Abuse::bad_frames);
}

// What a callback returns to stop nghttp2 (see goodbye_).
int H2Session::fail(std::uint32_t error_code, std::optional<H2Abuse> why) {
  if (!goodbye_) {
    goodbye_ = error_code;
    if (why) ctx_.counters.count(*why);
  }
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

}  // namespace hkv::http
