// SPDX-License-Identifier: MIT
// Request handling: GET / greeting, GET/HEAD /get/{key}, POST/PUT/DELETE /store/{key}.
// Stored values are lent to the response (no copy); the response releases them once sent.
#include "app/handlers.h"

#include <new>
#include <string>

#include "http/router.h"

namespace hkv::app {

using http::KeyError;
using http::Method;
using http::RouteKind;

namespace {

constexpr std::string_view kOctetStream = "application/octet-stream";

void key_error(http::Response& resp, KeyError e) {
  switch (e) {
    case KeyError::empty: resp.set_error(400, "empty key\n"); break;
    case KeyError::bad_encoding: resp.set_error(400, "invalid percent-encoding in key\n"); break;
    case KeyError::too_long: resp.set_error(414, "key longer than 250 bytes\n"); break;
    case KeyError::none: break;
  }
}

}  // namespace

void KvHandler::handle(const http::Request& req, http::Response& resp) {
  thread_local std::string key_buffer;
  resp.omit_body = req.method == Method::head;  // every HEAD answer, errors included
  http::Route route = http::route(req.target, key_buffer);
  if (route.kind == RouteKind::not_found) {
    resp.set_error(404, "no such endpoint; use /get/{key} or /store/{key}\n");
    return;
  }
  if (!http::method_allowed(route.kind, req.method)) {
    resp.set_error(405, "method not allowed for this path\n");
    resp.allow = http::allowed_methods(route.kind);
    return;
  }
  if (route.key_error != KeyError::none) {
    key_error(resp, route.key_error);
    return;
  }
  switch (route.kind) {
    case RouteKind::root:
      resp.text = "Hello, World!";
      return;
    case RouteKind::get_value: {
      ValueRef v = store_.get(route.key);
      if (!v) {
        resp.set_error(404, "key not found\n");
        return;
      }
      resp.content_type = kOctetStream;
      resp.shared = net::ExternalBytes{v->data(), v->size(), nullptr, Value::release_fn};
      resp.shared.owner = v.detach();
      return;
    }
    case RouteKind::store_value:
      if (req.method == Method::del) {
        if (store_.erase(route.key)) {
          resp.status = 204;
        } else {
          resp.set_error(404, "key not found\n");
        }
        return;
      }
      try {
        if (store_.put(route.key, req.body) == PutResult::created) {
          resp.status = 201;
          resp.text = "created\n";
        } else {
          resp.text = "replaced\n";
        }
      } catch (const std::bad_alloc&) {
        resp.set_error(503, "out of memory; value not stored\n");
      }
      return;
    case RouteKind::not_found:
      return;
  }
}

}  // namespace hkv::app
