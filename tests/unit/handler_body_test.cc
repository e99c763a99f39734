// SPDX-License-Identifier: MIT
// Tests KvHandler::body_buffer: a valid write's body is read into the value that is then stored
// (one copy, from the socket buffer), and no memory is provided to a request that will be refused.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "app/auth.h"
#include "app/handlers.h"
#include "app/metrics.h"
#include "http/admission.h"
#include "store/store.h"

namespace hkv::app {
namespace {

class HandlerBody : public ::testing::Test {
 protected:
  HandlerBody()
      : store_(make_store(StoreKind::sharded, StoreOptions{16, 0})),
        gate_(16),
        registry_(1, *store_, gate_),
        handler_(*store_, registry_.worker(0), registry_, HandlerOptions{0, &access_, {}}) {
    handler_.begin_turn();
  }

  http::Request request(http::Method method, std::string target) {
    http::Request req;
    req.method = method;
    req.target = std::move(target);
    return req;
  }

  std::unique_ptr<Store> store_;
  http::AdmissionGate gate_;
  MetricsRegistry registry_;
  AccessPolicy access_{"s3cret", false};
  KvHandler handler_;
};

TEST_F(HandlerBody, AWriteIsStoredInTheMemoryItsBodyWasReadInto) {
  for (http::Method method : {http::Method::post, http::Method::put}) {
    http::Request req = request(method, "/store/k%21?ttl=60");
    req.fields.add(http::Field::authorization, "Bearer s3cret");
    req.fields.add(http::Field::content_type, "text/plain");
    const std::string bytes(5000, method == http::Method::post ? 'p' : 'u');
    const http::BodyBuffer buffer = handler_.body_buffer(req, bytes.size());
    ASSERT_NE(buffer.data, nullptr);
    ASSERT_EQ(buffer.capacity, bytes.size());
    req.body.provide(buffer);
    req.body.append(bytes.data(), bytes.size());
    http::Response resp;
    handler_.handle(req, resp);
    EXPECT_TRUE(resp.status == 201 || resp.status == 200) << resp.status;
    req.clear();  // the request lets go of its reference; the store keeps the value
    ReadResult r = store_->get("k!", 0);
    ASSERT_TRUE(r.value);
    EXPECT_EQ(r.value->data(), buffer.data) << "stored where the body was read, not copied";
    EXPECT_EQ(r.value->bytes(), bytes);
    EXPECT_EQ(r.value->content_type(), "text/plain");
    EXPECT_NE(r.value->expires_at_ms(), 0u);
    EXPECT_EQ(r.value->etag(), resp.etag);
  }
}

TEST_F(HandlerBody, NoMemoryForARequestThatWillBeRefused) {
  auto provided = [&](http::Method method, std::string target, bool token = true, std::string type = "") {
    http::Request req = request(method, std::move(target));
    if (token) req.fields.add(http::Field::authorization, "Bearer s3cret");
    if (!type.empty()) req.fields.add(http::Field::content_type, type);
    const http::BodyBuffer b = handler_.body_buffer(req, 2048);
    if (b.release != nullptr) b.release(b.owner);
    return b.data != nullptr;
  };
  EXPECT_TRUE(provided(http::Method::post, "/store/k"));
  EXPECT_FALSE(provided(http::Method::post, "/store/k", false)) << "no token";
  EXPECT_FALSE(provided(http::Method::del, "/store/k")) << "a DELETE stores no body";
  EXPECT_FALSE(provided(http::Method::get, "/store/k")) << "405";
  EXPECT_FALSE(provided(http::Method::post, "/get/k")) << "405";
  EXPECT_FALSE(provided(http::Method::post, "/nowhere")) << "404";
  EXPECT_FALSE(provided(http::Method::post, "/store/")) << "empty key";
  EXPECT_FALSE(provided(http::Method::post, "/store/" + std::string(251, 'k'))) << "key too long";
  EXPECT_FALSE(provided(http::Method::post, "/store/k?ttl=soon")) << "bad ttl";
  EXPECT_FALSE(provided(http::Method::post, "/store/k", true, "a/" + std::string(300, 'b'))) << "type too long";
  EXPECT_EQ(store_->bytes_used(), 0u);
}

TEST_F(HandlerBody, AFailedConditionStoresNothingAndFreesTheBody) {
  http::Request req = request(http::Method::post, "/store/k");
  req.fields.add(http::Field::authorization, "Bearer s3cret");
  req.fields.add(http::Field::if_match, "*");  // no value yet: fails
  const http::BodyBuffer buffer = handler_.body_buffer(req, 4096);
  ASSERT_NE(buffer.data, nullptr);
  req.body.provide(buffer);
  const std::string bytes(4096, 'c');
  req.body.append(bytes.data(), bytes.size());
  http::Response resp;
  handler_.handle(req, resp);
  EXPECT_EQ(resp.status, 412);
  req.clear();
  EXPECT_FALSE(store_->get("k", 0).value);
  EXPECT_EQ(store_->bytes_used(), 0u);
}

}  // namespace
}  // namespace hkv::app
