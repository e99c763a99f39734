// SPDX-License-Identifier: MIT
// KvHandler: the HTTP interface of the cache — routes a request and answers it from the store.
#pragma once

#include "http/request.h"
#include "store/store.h"

namespace hkv::app {

class KvHandler final : public http::RequestHandler {
 public:
  explicit KvHandler(Store& store) : store_(store) {}
  void handle(const http::Request& req, http::Response& resp) override;

 private:
  Store& store_;
};

}  // namespace hkv::app
