// SPDX-License-Identifier: MIT
// Microbenchmarks of the HTTP/1.1 path: parse + route of pipelined GETs through H1Session, and response writing.
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "app/routes.h"
#include "http/admission.h"
#include "http/context.h"
#include "http/h1.h"
#include "http/request.h"
#include "http/response.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "net/output_queue.h"
#include "store/value.h"

namespace {

using namespace hkv;

constexpr std::string_view kRequest =
    "GET /get/key000123 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: h2load\r\nAccept: */*\r\n\r\n";

const std::string kBody100(100, 'v');

// Routes like the real handler and answers every GET /get/{key} with the same 100-byte body
// (copied next to the headers, as a stored 100-byte value is), without a store.
class FixedHandler final : public http::RequestHandler {
 public:
  void handle(const http::Request& req, http::Response& resp) override {
    const app::RouteMatch route = app::match_route(req.target, key_buffer_);
    if (route.route == nullptr || route.route->label != "get" || route.key.empty() ||
        (route.route->methods & app::method_bit(req.method)) == 0) {
      resp.set_error(404, "no\n");
      return;
    }
    resp.content_type = "application/octet-stream";
    resp.text = kBody100;
  }

 private:
  std::string key_buffer_;
};

class NullOwner final : public net::ConnectionOwner {
 public:
  void connection_closed(net::Connection*) override {
    std::fprintf(stderr, "benchmark connection closed unexpectedly\n");
    std::abort();
  }
};

// A real Connection on one end of a socketpair, with an H1Session installed. The loop never runs:
// bytes go straight to the session's on_data, and the output is dropped instead of written.
struct H1Rig {
  net::EventLoop loop;
  NullOwner owner;
  FixedHandler handler;
  http::AdmissionGate gate{1 << 30};
  http::AdmissionQueue admission{gate, [] {}};
  http::HttpContext ctx{handler, admission, http::HttpLimits{}};
  int peer_fd = -1;
  std::unique_ptr<net::Connection> conn;
  http::H1Session* session = nullptr;

  H1Rig() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      std::perror("socketpair");
      std::abort();
    }
    peer_fd = fds[1];
    conn = std::make_unique<net::Connection>(loop, fds[0], owner);
    auto s = std::make_unique<http::H1Session>(*conn, ctx);
    session = s.get();
    conn->set_protocol(std::move(s));
  }
  ~H1Rig() {
    conn.reset();
    ::close(peer_fd);
  }
};

// One iteration = `depth` pipelined GETs handed to on_data in one call (as one read() would),
// then the queued answers dropped and on_drained() called, as Connection::flush does after writev.
void BM_H1ParseRoute(benchmark::State& state) {
  const auto depth = static_cast<std::size_t>(state.range(0));
  std::string input;
  for (std::size_t i = 0; i < depth; ++i) input += kRequest;
  H1Rig rig;
  std::size_t out_bytes = 0;
  for (auto _ : state) {
    std::size_t used = rig.session->on_data(input.data(), input.size());
    if (used != input.size()) {
      state.SkipWithError("session did not consume the whole input");
      break;
    }
    out_bytes = rig.conn->out().pending();
    rig.conn->out().clear();
    rig.session->on_drained();
  }
  const auto requests = static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(depth);
  state.SetItemsProcessed(requests);
  state.counters["ns_per_req"] = benchmark::Counter(static_cast<double>(requests),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["resp_bytes"] = static_cast<double>(out_bytes) / static_cast<double>(depth);
}
BENCHMARK(BM_H1ParseRoute)->Arg(1)->Arg(10)->Arg(100);

// match_route() alone on the same target, for the split between llhttp + session and routing.
void BM_Route(benchmark::State& state) {
  std::string key_buffer;
  for (auto _ : state) {
    app::RouteMatch r = app::match_route("/get/key000123", key_buffer);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Route);

// A GET answer with a stored 100-byte value: the handler's reference (taken by Store::get) goes to
// the writer, which copies the bytes next to the headers and drops the reference.
void BM_WriteH1SharedBody100(benchmark::State& state) {
  ValueRef value = Value::make("key000123", std::string(100, 'v'), ValueMeta{}, 16);
  net::OutputQueue out;
  for (auto _ : state) {
    value->add_ref();
    http::Response resp;
    resp.content_type = "application/octet-stream";
    resp.borrowed = net::ExternalBytes{value->data(), value->size(), value.get(), Value::release_fn};
    http::write_h1_response(out, resp, http::H1ResponseOptions{});
    benchmark::DoNotOptimize(out.pending());
    out.clear();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WriteH1SharedBody100);

// A short text answer ("created\n" of a POST, the greeting of GET /).
void BM_WriteH1Text(benchmark::State& state) {
  net::OutputQueue out;
  for (auto _ : state) {
    http::Response resp;
    resp.text = "Hello, World!";
    http::write_h1_response(out, resp, http::H1ResponseOptions{});
    benchmark::DoNotOptimize(out.pending());
    out.clear();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WriteH1Text);

}  // namespace

BENCHMARK_MAIN();
