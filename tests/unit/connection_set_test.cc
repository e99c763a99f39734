// SPDX-License-Identifier: MIT
// ConnectionSet and the connection's idle memory: idle connections rest (their buffers freed) and
// are not visited by the tick until their idle timeout; an event wakes them; input a protocol
// leaves unconsumed survives other connections reading through the loop's shared buffer.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "net/connection_set.h"

namespace hkv::net {
namespace {

// Answers each complete line with "<line>!\n"; leaves a partial line unconsumed. Awaits its first
// line as a request head, then is idle whenever no output is queued.
class LineProtocol final : public Protocol {
 public:
  explicit LineProtocol(Connection& c) : conn_(c) {}
  std::size_t on_data(const char* data, std::size_t size) override {
    std::string_view in(data, size);
    std::size_t used = 0;
    for (std::size_t eol; (eol = in.find('\n', used)) != std::string_view::npos; used = eol + 1) {
      lines.emplace_back(in.substr(used, eol - used));
      conn_.out().append(lines.back() + "!\n");
    }
    return used;
  }
  void on_peer_closed() override { conn_.close_after_flush(); }
  void on_shutdown() override { conn_.close_after_flush(); }
  Awaiting awaiting() const override {
    ++awaiting_calls;
    if (lines.empty()) return Awaiting::header;
    return conn_.out().empty() ? Awaiting::idle : Awaiting::send;
  }
  void release_idle_memory() override { ++releases; }

  std::vector<std::string> lines;
  mutable int awaiting_calls = 0;
  int releases = 0;

 private:
  Connection& conn_;
};

// Reads one line per offer and then pauses, as HTTP/1.1 does when its output is over the
// high-water mark; the flush it asks for drains that output, and on_drained resumes reading from
// inside on_data.
class PausingProtocol final : public Protocol {
 public:
  explicit PausingProtocol(Connection& c) : conn_(c) {}
  std::size_t on_data(const char* data, std::size_t size) override {
    std::string_view in(data, size);
    const std::size_t eol = in.find('\n');
    if (eol == std::string_view::npos) return 0;
    lines.emplace_back(in.substr(0, eol));
    conn_.out().append(lines.back() + "!\n");
    conn_.pause_reading();
    conn_.flush();
    return eol + 1;
  }
  void on_drained() override { conn_.resume_reading(); }
  void on_peer_closed() override { conn_.close_after_flush(); }
  void on_shutdown() override { conn_.close_after_flush(); }

  std::vector<std::string> lines;

 private:
  Connection& conn_;
};

class ConnectionSetTest : public ::testing::Test, public ConnectionOwner {
 protected:
  static constexpr std::int64_t kIdleMs = 1000;

  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  ConnectionSetTest() {
    timeouts.idle_ms = kIdleMs;
    LoopHooks hooks;
    hooks.end_of_turn = [this] { loop.stop(); };
    loop.set_hooks(std::move(hooks));
  }
  ~ConnectionSetTest() override {
    set.wake_all();
    while (Connection* c = set.first_active()) {
      set.remove(c);
      delete c;
    }
    for (Connection* c : closed) delete c;
  }

  void connection_closed(Connection* c) override {
    set.remove(c);
    closed.push_back(c);
  }
  void connection_woke(Connection* c) override { set.wake(c); }

  // A connection whose peer is the returned fd; its protocol, a P, is *protocol.
  template <class P>
  int open(P** protocol) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    auto* c = new Connection(loop, fds[0], *this, &timeouts);
    auto p = std::make_unique<P>(*c);
    *protocol = p.get();
    c->set_protocol(std::move(p));
    set.add(c);
    peers.push_back(fds[1]);
    return fds[1];
  }
  void turn() { loop.run(0); }
  static void send(int fd, std::string_view s) { ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  static std::string receive(int fd) {
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

  ConnectionTimeouts timeouts;
  EventLoop loop;
  ConnectionSet set{kIdleMs};
  std::vector<Connection*> closed;
  std::vector<int> peers;

 public:
  void TearDown() override {
    for (int fd : peers) ::close(fd);
  }
};

TEST_F(ConnectionSetTest, AnIdleConnectionRestsAndTheTickNoLongerVisitsIt) {
  LineProtocol* p = nullptr;
  int peer = open(&p);
  send(peer, "ping\n");
  turn();
  EXPECT_EQ(receive(peer), "ping!\n");
  set.tick(0);
  EXPECT_EQ(set.resting(), 1u);
  EXPECT_EQ(p->releases, 1);
  const int calls = p->awaiting_calls;
  for (std::int64_t t = 100; t < kIdleMs; t += 100) set.tick(t);
  EXPECT_EQ(p->awaiting_calls, calls) << "a resting connection is visited before its idle timeout";
  EXPECT_TRUE(closed.empty());
}

TEST_F(ConnectionSetTest, AnEventWakesARestingConnectionAndItIsServed) {
  LineProtocol* p = nullptr;
  int peer = open(&p);
  set.tick(0);  // a new connection awaits its first request: it does not rest
  EXPECT_EQ(set.resting(), 0u);
  send(peer, "a\n");
  turn();
  set.tick(100);
  ASSERT_EQ(set.resting(), 1u);
  send(peer, "b\n");
  turn();
  EXPECT_EQ(set.resting(), 0u);
  EXPECT_EQ(receive(peer), "a!\nb!\n");
  set.tick(200);
  EXPECT_EQ(set.resting(), 1u);
  EXPECT_EQ(p->releases, 2);
}

TEST_F(ConnectionSetTest, ARestingConnectionClosesWhenItsIdleTimeoutPasses) {
  LineProtocol* first = nullptr;
  LineProtocol* second = nullptr;
  int early = open(&first);
  int late = open(&second);
  send(early, "x\n");
  turn();
  set.tick(0);
  send(late, "y\n");
  turn();
  set.tick(500);
  ASSERT_EQ(set.resting(), 2u);
  set.tick(kIdleMs - 1);
  EXPECT_TRUE(closed.empty());
  set.tick(kIdleMs);
  ASSERT_EQ(closed.size(), 1u) << "the connection that rested first times out first";
  EXPECT_EQ(receive(early), "x!\n");
  EXPECT_EQ(receive(early), "") << "closed: end of file";
  set.tick(500 + kIdleMs);
  EXPECT_EQ(closed.size(), 2u);
  EXPECT_TRUE(set.empty());
}

TEST_F(ConnectionSetTest, UnconsumedInputSurvivesOtherConnectionsReadingThroughTheSharedBuffer) {
  LineProtocol* a = nullptr;
  LineProtocol* b = nullptr;
  int peer_a = open(&a);
  int peer_b = open(&b);
  send(peer_a, "hel");
  turn();
  send(peer_b, "overwrites the loop's buffer\n");
  turn();
  send(peer_a, "lo\n");
  turn();
  ASSERT_EQ(a->lines.size(), 1u);
  EXPECT_EQ(a->lines[0], "hello");
  EXPECT_EQ(receive(peer_b), "overwrites the loop's buffer!\n");
}

TEST_F(ConnectionSetTest, InputResumedFromInsideOnDataIsOfferedOnceInOrder) {
  PausingProtocol* protocol = nullptr;
  int peer = open(&protocol);
  send(peer, "one\ntwo\nthree\n");
  turn();
  EXPECT_EQ(protocol->lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(receive(peer), "one!\ntwo!\nthree!\n");
  EXPECT_TRUE(set.first_active()->idle_input());
}

}  // namespace
}  // namespace hkv::net
