// SPDX-License-Identifier: MIT
// Property test of HTTP/2 flow control through the real Connection and H2 session: an nghttp2
// client on a socketpair opens streams for values of random sizes, opens its windows by random
// amounts at random times, resets streams, changes SETTINGS_INITIAL_WINDOW_SIZE and reads at a
// random pace, and replaces the stored values by equal ones (so that the values being sent lose
// their last reference in the store), while the server runs one event-loop turn at a time. Once the client opens every
// window and reads everything, each stream must end (whole and byte-exact, or reset by the client)
// within a bounded number of turns, and the connection must hold no admission slot and no output.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "app/handlers.h"
#include "app/metrics.h"
#include "http/context.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "store/store.h"

namespace hkv {
namespace {

constexpr std::size_t kSizes[] = {0, 1, 100, 16383, 16384, 16385, 65535, 65536, 200'000, 1 << 20};

struct ClientStream {
  std::size_t size = 0;  // of the value asked for
  std::string body;
  int status = 0;
  bool ended = false;   // END_STREAM received
  bool closed = false;  // nghttp2 closed it (ended, or reset by either side)
  bool reset_by_us = false;
  std::uint32_t close_code = 0;
};

// The client: an nghttp2 session that gives back no window by itself.
class Client {
 public:
  explicit Client(int fd) : fd_(fd) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
  }
  ~Client() { nghttp2_session_del(session_); }

  void settings(std::uint32_t initial_window) {
    nghttp2_settings_entry iv{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, initial_window};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &iv, 1);
  }
  void get(std::size_t size) {
    const std::string path = "/get/v" + std::to_string(size);
    const nghttp2_nv nva[] = {nv(":method", "GET"), nv(":scheme", "http"), nv(":path", path), nv(":authority", "t")};
    std::int32_t id = nghttp2_submit_request(session_, nullptr, nva, 4, nullptr, nullptr);
    if (id > 0) streams[id].size = size;
  }
  // A WINDOW_UPDATE on stream `id` (0: the connection); refused by nghttp2 past 2^31-1.
  void open_window(std::int32_t id, std::int32_t n) { nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, id, n); }
  void reset(std::int32_t id) {
    if (nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) == 0) streams[id].reset_by_us = true;
  }
  // Sends what nghttp2 has queued; returns false if the server closed.
  bool write() {
    for (;;) {
      const std::uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) return n == 0;
      if (::send(fd_, data, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return false;
    }
  }
  // Reads up to `limit` bytes that have arrived and feeds them to nghttp2; returns bytes read.
  std::size_t read(std::size_t limit) {
    std::size_t total = 0;
    char buf[16384];
    while (total < limit) {
      ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, limit - total), MSG_DONTWAIT);
      if (n <= 0) {
        peer_closed_ = n == 0;
        break;
      }
      total += static_cast<std::size_t>(n);
      if (nghttp2_session_mem_recv(session_, reinterpret_cast<std::uint8_t*>(buf), static_cast<std::size_t>(n)) < 0) {
        peer_closed_ = true;
        break;
      }
    }
    return total;
  }
  std::vector<std::int32_t> open_ids() const {
    std::vector<std::int32_t> ids;
    for (const auto& [id, s] : streams) {
      if (!s.closed) ids.push_back(id);
    }
    return ids;
  }
  bool peer_closed() const { return peer_closed_; }
  // Keeps at least `want` bytes of window open on every open stream and on the connection.
  void keep_windows_open(std::int32_t want) {
    for (std::int32_t id : open_ids()) {
      const std::int32_t left = nghttp2_session_get_stream_local_window_size(session_, id);
      if (left >= 0 && left < want) open_window(id, want);
    }
    if (nghttp2_session_get_local_window_size(session_) < want) open_window(0, want);
  }

  std::map<std::int32_t, ClientStream> streams;

 private:
  static nghttp2_nv nv(std::string_view n, std::string_view v) {
    return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
            reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE};
  }
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name, std::size_t namelen,
                       const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* self) {
    if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
      static_cast<Client*>(self)->streams[f->hd.stream_id].status =
          std::stoi(std::string(reinterpret_cast<const char*>(value), valuelen));
    }
    return 0;
  }
  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len,
                     void* self) {
    static_cast<Client*>(self)->streams[id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* self) {
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      static_cast<Client*>(self)->streams[f->hd.stream_id].ended = true;
    }
    return 0;
  }
  static int on_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* self) {
    ClientStream& s = static_cast<Client*>(self)->streams[id];
    s.closed = true;
    s.close_code = code;
    return 0;
  }

  int fd_;
  nghttp2_session* session_ = nullptr;
  bool peer_closed_ = false;
};

// One server worker with one connection, run a turn at a time.
class OneConnectionServer : public net::ConnectionOwner {
 public:
  OneConnectionServer(Store& store, int admission_limit, std::size_t high_water, int fd)
      : gate(admission_limit),
        admission(gate, [this] { loop.wake(); }),
        registry(1, store, gate),
        handler(store, registry.worker(0), registry, app::HandlerOptions{}),
        ctx{handler, admission, make_limits(high_water), registry.worker(0).protocol} {
    gate.register_queue(&admission);
    loop.set_hooks(net::LoopHooks{.before_sleep = {},
                                  .after_sleep = [this] { handler.begin_turn(); },
                                  .end_of_turn = [this] { loop.stop(); },
                                  .on_wake = [this] { admission.drain(); }});
    conn = std::make_unique<net::Connection>(loop, fd, *this);
    conn->set_protocol(http::make_protocol_sniffer(*conn, ctx));
  }
  void turn() {
    if (!closed) loop.run(0);
  }
  void connection_closed(net::Connection*) override { closed = true; }

  net::EventLoop loop;
  http::AdmissionGate gate;
  http::AdmissionQueue admission;
  app::MetricsRegistry registry;
  app::KvHandler handler;
  http::HttpContext ctx;
  std::unique_ptr<net::Connection> conn;
  bool closed = false;

 private:
  static http::HttpLimits make_limits(std::size_t high_water) {
    http::HttpLimits l;
    l.output_high_water = high_water;
    return l;
  }
};

class H2FlowProperty : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::signal(SIGPIPE, SIG_IGN);
    store_ = make_store(StoreKind::sharded, StoreOptions{1024, 0}).release();
    std::mt19937 rng(7);
    for (std::size_t size : kSizes) {
      std::string v(size, '\0');
      for (char& c : v) c = static_cast<char>(rng());
      store_->put("v" + std::to_string(size), v, ValueMeta{});
      values_[size] = v;
    }
  }
  static Store* store_;
  static std::map<std::size_t, std::string> values_;
};
Store* H2FlowProperty::store_ = nullptr;
std::map<std::size_t, std::string> H2FlowProperty::values_;

// One random run; returns a description of the first broken property, or "".
std::string run_once(std::uint32_t seed, Store& store, const std::map<std::size_t, std::string>& values) {
  std::mt19937 rng(seed);
  auto pick = [&](auto n) { return static_cast<decltype(n)>(rng() % n); };
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return "socketpair failed";
  struct ClientFd {
    int fd;
    ~ClientFd() {
      if (fd >= 0) ::close(fd);
    }
  } client_fd{fds[1]};
  constexpr int kAdmission[] = {1, 2, 16, 250};
  constexpr std::size_t kHighWater[] = {256, 16384, 1 << 20};
  OneConnectionServer server(store, kAdmission[pick(4u)], kHighWater[pick(3u)], fds[0]);
  Client client(fds[1]);
  constexpr std::uint32_t kWindows[] = {0, 1, 100, 65535, 1 << 20};
  client.settings(kWindows[pick(5u)]);
  const int actions = 20 + pick(200);
  for (int i = 0; i < actions && !server.closed; ++i) {
    const std::vector<std::int32_t> open = client.open_ids();
    switch (pick(8u)) {
      case 0:
      case 1:
        if (open.size() < 90) client.get(kSizes[pick(std::size(kSizes))]);
        break;
      case 2:
        client.open_window(open.empty() || pick(3u) == 0 ? 0 : open[pick(open.size())], 1 + pick(70'000));
        break;
      case 3:
        if (!open.empty() && pick(4u) == 0) client.reset(open[pick(open.size())]);
        break;
      case 4:
        if (pick(8u) == 0) client.settings(kWindows[pick(5u)]);
        break;
      case 5:
        client.read(pick(3u) == 0 ? 0 : 1 + pick(100'000));
        break;
      case 6:
        if (pick(2u) == 0) {  // the same bytes in a new value: the old one goes once unreferenced
          const std::size_t size = kSizes[pick(std::size(kSizes))];
          store.put("v" + std::to_string(size), values.at(size), ValueMeta{});
        }
        break;
      default:
        for (int t = pick(4); t >= 0; --t) server.turn();
    }
    if (!client.write()) return "server closed the connection while the client was working";
  }
  // Now the client keeps every window open and reads everything: each stream must end.
  int idle_turns = 0;
  for (int turn = 0; !client.open_ids().empty(); ++turn) {
    if (server.closed || client.peer_closed()) return "server closed the connection with streams open";
    client.keep_windows_open(4 << 20);
    if (!client.write()) return "write failed";
    server.turn();
    idle_turns = client.read(SIZE_MAX) > 0 ? 0 : idle_turns + 1;
    if (idle_turns > 50) return std::to_string(client.open_ids().size()) + " streams stalled with windows open";
    if (turn > 100'000) return "streams did not end within 100,000 turns";
  }
  for (const auto& [id, s] : client.streams) {
    if (s.reset_by_us) continue;
    if (!s.ended || s.close_code != 0) return "stream " + std::to_string(id) + " reset by the server";
    if (s.status != 200) return "stream " + std::to_string(id) + " status " + std::to_string(s.status);
    if (s.body != values.at(s.size)) {
      return "stream " + std::to_string(id) + ": " + std::to_string(s.body.size()) + " bytes of " +
             std::to_string(s.size) + ", or wrong bytes";
    }
  }
  for (int t = 0; t < 4; ++t) server.turn();  // nghttp2 closes a stream once its last frame is sent
  if (server.gate.in_flight() != 0) return std::to_string(server.gate.in_flight()) + " admission slots kept";
  if (!server.conn->out().empty()) return std::to_string(server.conn->out().pending()) + " bytes of output kept";
  ::close(client_fd.fd);
  client_fd.fd = -1;
  for (int t = 0; t < 4 && !server.closed; ++t) server.turn();
  if (!server.closed) return "the connection did not close after the client did";
  if (server.gate.in_flight() != 0) return "admission slots kept after close";
  return "";
}

TEST_F(H2FlowProperty, EveryStreamEndsAndNothingIsKept) {
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    const std::string broken = run_once(seed, *store_, values_);
    ASSERT_EQ(broken, "") << "seed " << seed;
  }
}

}  // namespace
}  // namespace hkv
