// SPDX-License-Identifier: MIT
// Request handling: GET / greeting, GET/HEAD /get/{key}, POST/PUT/DELETE /store/{key}, GET
// /metrics and /stats. Stored values are lent to the response (no copy); the response releases
// them once sent.
#include "app/handlers.h"

#include <algorithm>
#include <array>
#include <new>
#include <string>

#include <fmt/format.h>

#include "app/cache_headers.h"
#include "http/router.h"

namespace hkv::app {

using http::Field;
using http::Method;

namespace {

constexpr std::string_view kOctetStream = "application/octet-stream";

void key_error(http::Response& resp, KeyError e) {
  switch (e) {
    case KeyError::empty: resp.set_error(400, "empty key\n"); break;
    case KeyError::bad_encoding: resp.set_malformed("invalid percent-encoding in key\n"); break;
    case KeyError::too_long: {
      static const std::string kTooLong = fmt::format("key longer than {} bytes\n", kMaxKeyBytes);
      resp.set_error(414, kTooLong);
      break;
    }
    case KeyError::none: break;
  }
}

// A generated page (/metrics, /stats) handed to the response, which frees it once sent.
void lend_text(http::Response& resp, std::string text, std::string_view content_type) {
  auto* owned = new std::string(std::move(text));
  resp.content_type = content_type;
  resp.borrowed = net::ExternalBytes{owned->data(), owned->size(), owned,
                                   [](void* p) { delete static_cast<std::string*>(p); }};
}

// GET /keys: every live key, percent-encoded (all but A-Z a-z 0-9 - . _ ~), one per line, so each
// line can follow /get/ as it is. Cost grows with the store; it is for tools such as scripts/cluster.
std::string key_list(Store& store, std::uint64_t now_ms) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  store.for_each([&](const Value& v) {
    if (v.expired(now_ms)) return;
    for (unsigned char c : v.key()) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '.' || c == '_' || c == '~';
      if (plain) {
        out.push_back(static_cast<char>(c));
      } else {
        out += {'%', kHex[c >> 4], kHex[c & 15]};
      }
    }
    out.push_back('\n');
  });
  return out;
}

// If-Match as a store precondition; false (and a 400 in resp) when the header is malformed.
bool read_if_match(const http::Request& req, EntityTagList& tags, Precondition& cond, http::Response& resp) {
  std::optional<std::string_view> v = req.field(Field::if_match);
  if (!v) return true;
  std::optional<EntityTagList> parsed = parse_entity_tags(*v);
  if (!parsed) {
    resp.set_malformed("malformed If-Match: expected * or a list of quoted entity tags\n");
    return false;
  }
  tags = *parsed;
  if (!tags.any && tags.strong_count == 0) {  // only weak or foreign tags: nothing can match
    resp.set_error(412, "If-Match names no entity tag of this server\n");
    return false;
  }
  cond.any = tags.any;
  cond.etags = {tags.strong.data(), tags.strong_count};
  return true;
}

void set_freshness(const Value& v, std::uint64_t now_ms, http::Response& resp) {
  const Freshness f = freshness_of(v.expires_at_ms(), v.stored_at_s(), now_ms);
  resp.max_age = f.max_age;
  resp.age = f.age;
  resp.cache_control = f.max_age >= 0 ? kMaxAgeDirectives : kRevalidate;
}

// If-None-Match against the current ETag (weak comparison). Out of line: most GETs have none.
// False (and a 400 in resp) when the header is malformed.
[[gnu::noinline]] bool match_if_none_match(std::string_view header, std::uint64_t etag, bool& matches,
                                           http::Response& resp) {
  std::optional<EntityTagList> tags = parse_entity_tags(header);
  if (!tags) {
    resp.set_malformed("malformed If-None-Match: expected * or a list of quoted entity tags\n");
    return false;
  }
  matches = tags->matches_weak(etag);
  return true;
}

}  // namespace

void KvHandler::begin_turn() {
  turn_started_ = CycleClock::now();
  now_ms_ = coarse_now_ms();
}

void KvHandler::handle(const http::Request& req, http::Response& resp) {
  thread_local std::string key_buffer;
  resp.omit_body = req.method == Method::head;  // every HEAD answer, errors included
  const RouteMatch match = match_route(req.target, key_buffer);
  if (const Route* route = check_route(req, match, resp)) (this->*route->answer)(req, match, resp);
  resp.node = options_.node_header;
  // A thread moved to another core mid-turn may read a slightly smaller counter there: count 0.
  const std::uint64_t now = CycleClock::now();
  metrics_.count_request(req.version, req.method, match.index(), resp.status,
                         now > turn_started_ ? now - turn_started_ : 0);
}

// The route of a request that may be answered; otherwise null, with the answer (404, 401, 405,
// or the key's error) in `resp`.
const Route* KvHandler::check_route(const http::Request& req, const RouteMatch& match, http::Response& resp) {
  const Route* route = match.route;
  if (route == nullptr) {
    resp.set_error(404, "no such endpoint; use /get/{key} or /store/{key}\n");
    return nullptr;
  }
  if (options_.access != nullptr && options_.access->required(route->access) &&
      !options_.access->admit(req.field(Field::authorization), resp)) {
    return nullptr;
  }
  if ((route->methods & method_bit(req.method)) == 0) {
    resp.set_error(405, "method not allowed for this path\n");
    resp.allow = allowed_methods(*route);
    return nullptr;
  }
  if (match.key_error != KeyError::none) {
    key_error(resp, match.key_error);
    return nullptr;
  }
  return route;
}

void KvHandler::prefetch(std::span<const std::string_view> targets) {
  constexpr std::size_t kMostKeys = 64;
  std::array<std::string_view, kMostKeys> keys;
  std::size_t n = 0;
  std::string unused;
  for (std::string_view target : targets) {
    if (n == kMostKeys) break;
    const RouteMatch m = match_route(target, unused);
    const bool get = m.route != nullptr && m.route->answer == &KvHandler::answer_get;
    if (get && m.key_error == KeyError::none && unused.empty()) keys[n++] = m.key;
    unused.clear();
  }
  store_.prefetch(std::span(keys.data(), n));
}

void KvHandler::answer_root(const http::Request&, const RouteMatch&, http::Response& resp) {
  resp.text = "Hello, World!";
}

void KvHandler::answer_write(const http::Request& req, const RouteMatch& match, http::Response& resp) {
  if (writes_refused()) {
    resp.set_error(503, "writes refused: the last snapshot failed (--snapshot-fail-policy refuse-writes); reads "
                        "still work\n");
    return;
  }
  if (req.method == Method::del) {
    delete_value(req, match.key, resp);
  } else {
    store_value(req, match.key, match.query, resp);
  }
}

void KvHandler::answer_metrics(const http::Request&, const RouteMatch&, http::Response& resp) {
  lend_text(resp, registry_.prometheus_text(), "text/plain; version=0.0.4; charset=utf-8");
}

void KvHandler::answer_stats(const http::Request&, const RouteMatch&, http::Response& resp) {
  lend_text(resp, registry_.json(), "application/json");
}

void KvHandler::answer_keys(const http::Request&, const RouteMatch&, http::Response& resp) {
  lend_text(resp, key_list(store_, now_ms_), "text/plain; charset=utf-8");
}

void KvHandler::answer_get(const http::Request& req, const RouteMatch& match, http::Response& resp) {
  const std::uint64_t now_ms = now_ms_;
  ReadResult r = store_.get(match.key, now_ms);
  if (r.expired) metrics_.expirations.add();
  if (!r.value) {
    metrics_.misses.add();
    resp.set_error(404, "key not found\n");
    return;
  }
  metrics_.hits.add();
  const Value& v = *r.value;
  std::optional<std::string_view> inm = req.field(Field::if_none_match);
  bool not_modified = false;
  if (inm && !match_if_none_match(*inm, v.etag(), not_modified, resp)) return;
  resp.has_etag = true;
  resp.etag = v.etag();
  set_freshness(v, now_ms, resp);
  if (not_modified) {
    resp.status = 304;
    return;
  }
  resp.content_type = v.content_type().empty() ? kOctetStream : v.content_type();
  resp.borrowed = net::ExternalBytes{v.data(), v.size(), nullptr, Value::release_fn};
  resp.borrowed.owner = r.value.detach();
}

// What a write stores besides its bytes, from its query and header fields; false (and the error
// in resp) when they are invalid.
bool KvHandler::read_write_meta(const http::Request& req, std::string_view query, ValueMeta& meta,
                                http::Response& resp) const {
  TtlParse ttl = parse_ttl(http::query_param(query, "ttl"), req.field(Field::cache_control));
  if (ttl.error != nullptr) {
    resp.set_error(400, ttl.error);
    return false;
  }
  if (req.fields.count(Field::content_type) > 1) {
    resp.set_error(400, "more than one Content-Type\n");
    return false;
  }
  std::string_view type = req.field(Field::content_type).value_or("");
  if (type.size() > Value::kMaxTypeBytes) {
    static const std::string kTooLong = fmt::format("Content-Type longer than {} bytes\n", Value::kMaxTypeBytes);
    resp.set_error(400, kTooLong);
    return false;
  }
  meta.content_type = type == kOctetStream ? std::string_view() : type;  // the default is not stored
  meta.stored_at_ms = now_ms_;
  const std::uint64_t ttl_s = ttl.seconds.value_or(options_.default_ttl_s);
  meta.expires_at_ms = ttl_s != 0 ? meta.stored_at_ms + ttl_s * 1000 : 0;
  return true;
}

// A valid POST or PUT gets its body read straight into the value that will be stored.
http::BodyBuffer KvHandler::body_buffer(const http::Request& head, std::size_t length) {
  thread_local std::string key_buffer;
  const RouteMatch match = match_route(head.target, key_buffer);
  const bool write = match.route != nullptr && match.route->answer == &KvHandler::answer_write;
  http::Response refused;
  ValueMeta meta;
  if (!write || head.method == Method::del || writes_refused() || check_route(head, match, refused) == nullptr ||
      !read_write_meta(head, match.query, meta, refused)) {
    return {};
  }
  try {
    ValueRef v = store_.make_value(match.key, length, meta);
    char* data = v->unfilled_data();
    return http::BodyBuffer{data, length, v.detach(), Value::release_fn};
  } catch (const std::exception&) {  // out of memory: the body goes to the session's buffer
    return {};
  }
}

void KvHandler::store_value(const http::Request& req, std::string_view key, std::string_view query,
                            http::Response& resp) {
  ValueMeta meta;
  if (!read_write_meta(req, query, meta, resp)) return;
  EntityTagList tags;
  Precondition cond;
  if (!read_if_match(req, tags, cond, resp)) return;
  WriteResult w;
  try {
    if (void* provided = req.body.filled_owner()) {  // a value from body_buffer(), filled
      auto* v = static_cast<Value*>(provided);
      v->add_ref();  // the request keeps its own reference until it is done
      w = store_.put_value(ValueRef::adopt(v), meta, cond);
    } else {
      w = store_.put(key, req.body.view(), meta, cond);
    }
  } catch (const std::bad_alloc&) {
    resp.set_error(503, "out of memory; value not stored\n");
    return;
  }
  metrics_.evictions.add(w.evicted);
  switch (w.status) {
    case WriteStatus::created:
      resp.status = 201;
      resp.text = "created\n";
      resp.has_etag = true;
      resp.etag = w.etag;
      break;
    case WriteStatus::replaced:
      resp.text = "replaced\n";
      resp.has_etag = true;
      resp.etag = w.etag;
      break;
    case WriteStatus::precondition_failed:
      resp.set_error(412, "If-Match does not match the current value\n");
      return;
    case WriteStatus::too_large:
      resp.set_error(413, "value larger than --max-memory\n");
      return;
    case WriteStatus::removed:
    case WriteStatus::not_found:
      return;
  }
}

void KvHandler::delete_value(const http::Request& req, std::string_view key, http::Response& resp) {
  EntityTagList tags;
  Precondition cond;
  if (!read_if_match(req, tags, cond, resp)) return;
  switch (store_.erase(key, now_ms_, cond).status) {
    case WriteStatus::removed:
      resp.status = 204;
      break;
    case WriteStatus::precondition_failed:
      resp.set_error(412, "If-Match does not match the current value\n");
      break;
    default:
      resp.set_error(404, "key not found\n");
      break;
  }
}

}  // namespace hkv::app
