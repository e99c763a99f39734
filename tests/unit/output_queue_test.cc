// SPDX-License-Identifier: MIT
// Tests hkv::net::OutputQueue: coalescing, external segments, partial writes, compaction, clear().
#include "net/output_queue.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>

#include "socket_pair.h"

namespace hkv::net {
namespace {

using WS = OutputQueue::WriteStatus;
using testing_support::drain;
using testing_support::SocketPair;

// Bytes owned outside the queue. release() counts, records how much of the stream the kernel had
// accepted by then, and scribbles over the bytes so a late reader would send garbage.
struct Ext {
  std::string bytes;
  int releases = 0;
  std::size_t end_offset = 0;       // stream offset just past these bytes
  std::size_t accepted_at_release = 0;
  const OutputQueue* q = nullptr;
  const std::size_t* appended = nullptr;

  static void release(void* p) {
    auto* e = static_cast<Ext*>(p);
    ++e->releases;
    if (e->q) e->accepted_at_release = *e->appended - e->q->pending();
    std::memset(e->bytes.data(), '#', e->bytes.size());
  }
  ExternalBytes view() { return {bytes.data(), bytes.size(), this, &Ext::release}; }
};

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('!' + (i * 31 + seed * 7 + i / 97) % 90);
  return s;
}

// Appends through every entry point and remembers what the peer must receive.
struct Model {
  explicit Model(OutputQueue& queue) : q(queue) {}
  OutputQueue& q;
  std::string expected;
  std::size_t appended = 0;
  std::deque<std::unique_ptr<Ext>> exts;

  void copy(const std::string& s) {
    q.append(s);
    expected += s;
    appended += s.size();
  }
  void prepared(const std::string& s) {
    char* p = q.prepare(s.size() + 17);  // ask for more than is used
    std::memcpy(p, s.data(), s.size());
    q.commit(s.size());
    expected += s;
    appended += s.size();
  }
  void external(const std::string& s) {
    auto e = std::make_unique<Ext>();
    e->bytes = s;
    e->q = &q;
    e->appended = &appended;
    expected += s;
    appended += s.size();
    e->end_offset = appended;
    q.append_external(e->view());
    exts.push_back(std::move(e));
  }
  void check_externals() {
    for (const auto& e : exts) {
      EXPECT_EQ(e->releases, 1) << "end offset " << e->end_offset;
      EXPECT_GE(e->accepted_at_release, e->end_offset) << "released before its bytes were written";
    }
  }
};

TEST(OutputQueue, EmptyQueueWritesNothing) {
  OutputQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pending(), 0u);
  SocketPair sp;
  EXPECT_EQ(q.write_to(sp.w), WS::done);
  EXPECT_EQ(sp.read_some(), "");
}

TEST(OutputQueue, AppendPrepareCommitCoalesceInOrder) {
  OutputQueue q;
  q.append("abc");
  char* p = q.prepare(5);
  std::memcpy(p, "defgh", 5);
  q.commit(3);  // only "def" counts
  q.append("");
  q.prepare(64);
  q.commit(0);
  q.append("xyz");
  EXPECT_EQ(q.pending(), 9u);
  EXPECT_FALSE(q.empty());
  SocketPair sp;
  EXPECT_EQ(drain(q, sp), "abcdefxyz");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pending(), 0u);
  // The queue is reusable after it ran dry.
  q.append("again");
  EXPECT_EQ(drain(q, sp), "again");
}

TEST(OutputQueue, ManyTinyAppendsArriveIntact) {
  OutputQueue q;
  std::string expected;
  for (int i = 0; i < 20000; ++i) {
    char c = static_cast<char>('a' + i % 26);
    q.append(std::string_view(&c, 1));
    expected.push_back(c);
  }
  EXPECT_EQ(q.pending(), expected.size());
  SocketPair sp;
  EXPECT_EQ(drain(q, sp), expected);
}

TEST(OutputQueue, ExternalSegmentReleasedOnceAfterWrite) {
  OutputQueue q;
  Model m(q);
  m.copy("head|");
  m.external(pattern(1000, 1));
  m.prepared("|tail");
  EXPECT_EQ(q.pending(), m.expected.size());
  EXPECT_EQ(m.exts[0]->releases, 0);
  SocketPair sp;
  EXPECT_EQ(drain(q, sp), m.expected);
  m.check_externals();
  EXPECT_EQ(q.write_to(sp.w), WS::done);
  q.clear();
  EXPECT_EQ(m.exts[0]->releases, 1);
}

TEST(OutputQueue, EmptyExternalIsReleasedAtOnce) {
  Ext e;
  {
    OutputQueue q;
    q.append_external(e.view());
    EXPECT_EQ(e.releases, 1);
    EXPECT_TRUE(q.empty());
  }
  EXPECT_EQ(e.releases, 1);
}

// The bytes of a large HTTP/2 body are queued in frames without an owner; the owner is released
// once the last of them has been written, never before.
TEST(OutputQueue, ReleaseAfterQueuedWaitsForTheBytesBeforeIt) {
  OutputQueue q;
  Ext owner;
  owner.bytes = pattern(300000, 3);  // more than an AF_UNIX socket takes at once
  const std::size_t half = owner.bytes.size() / 2;
  q.append("frame1|");
  q.append_external({owner.bytes.data(), half, nullptr, nullptr});
  q.append("frame2|");
  q.append_external({owner.bytes.data() + half, owner.bytes.size() - half, nullptr, nullptr});
  const std::string expected = "frame1|" + owner.bytes.substr(0, half) + "frame2|" + owner.bytes.substr(half);
  q.release_after_queued(&owner, &Ext::release);
  std::size_t appended = expected.size();
  owner.q = &q;
  owner.appended = &appended;
  SocketPair sp;
  EXPECT_EQ(q.write_to(sp.w), WS::blocked);
  EXPECT_EQ(owner.releases, 0);
  std::string got = sp.read_some();
  got += drain(q, sp);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(owner.releases, 1);
  EXPECT_EQ(owner.accepted_at_release, expected.size());
  EXPECT_TRUE(q.empty());
}

TEST(OutputQueue, ReleaseAfterQueuedWithNothingQueuedIsImmediate) {
  OutputQueue q;
  Ext owner;
  q.release_after_queued(&owner, &Ext::release);
  EXPECT_EQ(owner.releases, 1);
  EXPECT_TRUE(q.empty());
}

TEST(OutputQueue, ClearRunsReleasesStillQueued) {
  Ext owner;
  owner.bytes = "borrowed";
  {
    OutputQueue q;
    q.append_external({owner.bytes.data(), owner.bytes.size(), nullptr, nullptr});
    q.release_after_queued(&owner, &Ext::release);
    EXPECT_EQ(owner.releases, 0);
  }
  EXPECT_EQ(owner.releases, 1);
}

TEST(OutputQueue, ExternalWithoutReleaseFunction) {
  OutputQueue q;
  std::string body = "borrowed";
  q.append_external({body.data(), body.size(), nullptr, nullptr});
  SocketPair sp;
  EXPECT_EQ(drain(q, sp), "borrowed");
}

TEST(OutputQueue, DestructorReleasesPendingExternals) {
  Ext a, b;
  a.bytes = "aaaa";
  b.bytes = "bbbb";
  {
    OutputQueue q;
    q.append_external(a.view());
    q.append("x");
    q.append_external(b.view());
  }
  EXPECT_EQ(a.releases, 1);
  EXPECT_EQ(b.releases, 1);
}

// Runs a stream through a socket with a tiny send buffer: write_to() keeps hitting EAGAIN, the
// reader takes a little at a time, and more segments are appended while older ones are half sent.
void run_partial_stream(int initial_segments, int later_segments, std::size_t copied_size,
                        std::size_t external_size) {
  OutputQueue q;
  Model m(q);
  std::mt19937 rng(42);
  unsigned seed = 0;
  auto add_one = [&] {
    switch (rng() % 3) {
      case 0: m.copy(pattern(1 + rng() % copied_size, ++seed)); break;
      case 1: m.prepared(pattern(1 + rng() % copied_size, ++seed)); break;
      default: m.external(pattern(1 + rng() % external_size, ++seed)); break;
    }
  };
  for (int i = 0; i < initial_segments; ++i) {
    add_one();
    m.copy(pattern(1 + rng() % copied_size, ++seed));  // copied and external alternate often
  }
  SocketPair sp(4096);
  std::string got;
  int blocked = 0;
  int added = 0;
  for (int iter = 0; iter < 1000000; ++iter) {
    if (added < later_segments && rng() % 2 == 0) {
      add_one();
      ++added;
    }
    WS st = q.write_to(sp.w);
    ASSERT_NE(st, WS::error) << std::strerror(errno);
    if (st == WS::blocked) {
      ++blocked;
      EXPECT_GT(q.pending(), 0u);
      EXPECT_LE(got.size() + q.pending(), m.appended);  // nothing counted twice
    }
    got += sp.read_some(1 + rng() % 6000);
    if (st == WS::done && added >= later_segments) break;
  }
  got += sp.read_some();
  EXPECT_GT(blocked, 10) << "the socket never filled up; the test does not exercise partial writes";
  EXPECT_TRUE(q.empty());
  ASSERT_EQ(got.size(), m.expected.size());
  EXPECT_TRUE(got == m.expected) << "first difference at byte "
                                 << std::mismatch(got.begin(), got.end(), m.expected.begin()).first - got.begin();
  m.check_externals();
}

TEST(OutputQueue, PartialWritesDeliverExactConcatenation) {
  run_partial_stream(/*initial_segments=*/20, /*later_segments=*/40, /*copied_size=*/3000,
                     /*external_size=*/9000);
}

TEST(OutputQueue, CompactionKeepsByteOrderAcrossManySegmentsAndBytes) {
  // ~2 x 300 segments pending at once and well over 256 KiB of copied bytes.
  run_partial_stream(/*initial_segments=*/300, /*later_segments=*/300, /*copied_size=*/2500,
                     /*external_size=*/2000);
}

TEST(OutputQueue, ClearReleasesPendingExternalsOnly) {
  OutputQueue q;
  Model m(q);
  m.external(pattern(100, 1));     // fully written below
  m.copy(pattern(10, 2));
  m.external(pattern(500000, 3));  // far more than the socket takes: stays pending
  m.external(pattern(100, 4));
  SocketPair sp(4096);
  EXPECT_EQ(q.write_to(sp.w), WS::blocked);
  EXPECT_EQ(m.exts[0]->releases, 1);
  EXPECT_EQ(m.exts[1]->releases, 0);
  EXPECT_EQ(m.exts[2]->releases, 0);
  std::string got = sp.read_some();
  ASSERT_GT(got.size(), 110u);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pending(), 0u);
  for (const auto& e : m.exts) EXPECT_EQ(e->releases, 1);
  // Reusable after clear(); nothing of the dropped stream follows.
  q.append("next");
  got += drain(q, sp);
  EXPECT_TRUE(got.ends_with("next"));
  EXPECT_EQ(got.substr(0, got.size() - 4), m.expected.substr(0, got.size() - 4));
  for (const auto& e : m.exts) EXPECT_EQ(e->releases, 1);
}

TEST(OutputQueue, APooledBufferGoesBackWhenTheQueueEmptiesAndIsTakenAgain) {
  BufferPool pool(1);
  OutputQueue a(&pool), b(&pool);
  SocketPair sp;
  char* first = a.prepare(10);
  std::memcpy(first, "0123456789", 10);
  a.commit(10);
  EXPECT_EQ(b.prepare(10), b.prepare(10)) << "b took its own buffer";
  EXPECT_NE(b.prepare(10), first);
  ASSERT_EQ(a.write_to(sp.w), WS::done);
  EXPECT_EQ(sp.read_some(), "0123456789");
  OutputQueue c(&pool);
  EXPECT_EQ(c.prepare(10), first) << "the emptied queue's buffer is the next one handed out";
}

TEST(OutputQueue, ReleaseMemoryFreesOnlyAnEmptyQueue) {
  OutputQueue q;
  SocketPair sp;
  q.append("kept until written");
  q.release_memory();
  ASSERT_EQ(q.pending(), 18u);
  ASSERT_EQ(q.write_to(sp.w), WS::done);
  EXPECT_EQ(sp.read_some(), "kept until written");
  q.release_memory();
  q.append("again");
  ASSERT_EQ(q.write_to(sp.w), WS::done);
  EXPECT_EQ(sp.read_some(), "again");
}

TEST(OutputQueue, WriteToClosedPeerIsAnError) {
  struct sigaction ignore{}, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  Ext e;
  e.bytes = pattern(100, 9);
  {
    OutputQueue q;
    q.append("data");
    q.append_external(e.view());
    SocketPair sp;
    ::close(sp.r);
    sp.r = -1;
    EXPECT_EQ(q.write_to(sp.w), WS::error);
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(e.releases, 0);
  }
  EXPECT_EQ(e.releases, 1);
  ::sigaction(SIGPIPE, &old, nullptr);
}

}  // namespace
}  // namespace hkv::net
