// SPDX-License-Identifier: MIT
// Connection: one accepted TCP socket. It reads into its loop's shared buffer, hands the bytes to the
// current Protocol (HTTP/1.1 or HTTP/2), and writes the Protocol's output with one writev per batch.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/counter.h"
#include "net/event_loop.h"
#include "net/output_queue.h"

namespace hkv::net {

class Connection;

// What a connection waits for from its peer, which decides the timeout that applies.
enum class Awaiting : std::uint8_t {
  idle,    // nothing in progress: between requests (--idle-timeout)
  header,  // the rest of a request head, timed from its first byte (--header-timeout)
  body,    // more of a request body: time without a byte arriving (--body-timeout)
  send,    // the peer, to read output or open its flow-control window: time without output
           // leaving (--send-timeout)
  server,  // nothing from the peer: the server is working (no timeout)
};
inline constexpr std::size_t kAwaitingKinds = 4;  // the ones with a timeout

// Timeouts in milliseconds (0 = none), and the counters of the ones that fired, by Awaiting.
// A body or a response must also move at a minimum average rate (bytes/s, 0 = none): its
// deadline is its timeout plus the bytes moved so far divided by the rate (mod_reqtimeout's MinRate).
struct ConnectionTimeouts {
  std::int64_t header_ms = 10'000;
  std::int64_t body_ms = 30'000;
  std::int64_t idle_ms = 60'000;
  std::int64_t send_ms = 60'000;
  std::uint64_t min_body_rate = 500;
  std::uint64_t min_send_rate = 500;
};
using TimeoutCounters = std::array<Counter, kAwaitingKinds>;

// What speaks on a connection. Implementations live in the http layer.
class Protocol {
 public:
  virtual ~Protocol() = default;
  // Parses what has arrived; returns how many bytes were consumed. Unconsumed bytes stay
  // buffered and are offered again after resume_reading().
  virtual std::size_t on_data(const char* data, std::size_t size) = 0;
  // The peer closed its sending side; nothing more will arrive. The protocol answers what it
  // already has, then closes (close_after_flush).
  virtual void on_peer_closed() = 0;
  // Every queued byte reached the kernel.
  virtual void on_drained() {}
  // The server is stopping: finish in-flight requests, then close.
  virtual void on_shutdown() = 0;
  // The connection is going away (called once, before the protocol is destroyed).
  virtual void on_close() {}
  // What the protocol waits for; polled by the connection's timer.
  virtual Awaiting awaiting() const { return Awaiting::server; }
  // Changes whenever a request begins, so that every request is timed afresh.
  virtual std::uint64_t requests_begun() const { return 0; }
  // Changes whenever the peer takes output, which is what the send timeout waits for. `writes`
  // counts the connection's writes that moved bytes; a protocol whose writes can include
  // answers the peer asks for without reading anything (HTTP/2 PING ACKs) counts otherwise.
  virtual std::uint64_t progress(std::uint64_t writes) { return writes; }
  // A timeout fired. The protocol may say why (HTTP/1.1 408, HTTP/2 GOAWAY) and close after
  // the flush, returning true; on false the connection closes at once.
  virtual bool on_timeout(Awaiting) { return false; }
  // The connection is idle (awaiting() said so, nothing is buffered either way): free what the
  // next request can allocate again.
  virtual void release_idle_memory() {}
};

// Told when a connection has closed, so its owner can free it outside the callback.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  virtual void connection_closed(Connection* c) = 0;
  // An event arrived for a connection the owner had marked `resting`.
  virtual void connection_woke(Connection*) {}
};

class Connection final : public Watcher {
 public:
  // Without `timeouts` the connection never times out (tests); `fired` counts timeouts.
  Connection(EventLoop& loop, int fd, ConnectionOwner& owner, const ConnectionTimeouts* timeouts = nullptr,
             TimeoutCounters* fired = nullptr);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Installs the first protocol, or queues a switch: the new protocol replaces the current one
  // when the old one's code has returned (on_data, or resume_reading), and then gets the rest of
  // the buffered input. The old protocol must not touch itself after resume_reading().
  void set_protocol(std::unique_ptr<Protocol> p);

  OutputQueue& out() { return out_; }
  // Writes queued output now; arms EPOLLOUT if the socket is full.
  void flush();
  // Stops reading from the socket (back-pressure); resume re-offers buffered input first.
  void pause_reading();
  void resume_reading();
  bool reading_paused() const { return paused_; }
  // Closes once queued output is written. If the peer may still be sending, the close lingers:
  // our side is shut down and input is read and discarded until the peer closes or tick() sees
  // the linger time pass, so unread input cannot make the kernel reset the final response.
  void close_after_flush();
  void close_now();
  bool closed() const { return fd_ < 0; }
  bool idle_input() const { return in_begin_ == in_end_; }
  // Between requests with nothing buffered either way, nothing to time but --idle-timeout.
  bool may_rest() const;
  // Frees the input buffer, the output queue's memory and the protocol's (see may_rest).
  void release_idle_memory();
  bool peer_closed() const { return peer_closed_; }

  void shutdown() {
    if (protocol_) protocol_->on_shutdown();
  }
  void on_io(std::uint32_t events) override;
  // Called periodically by the owner with a monotonic time in ms: ends an expired linger and
  // enforces the timeouts.
  void tick(std::int64_t now_ms);

  // The owner's bookkeeping: intrusive list hooks, and whether (since when) it rests, which
  // on_io reports to the owner with connection_woke.
  Connection* prev = nullptr;
  Connection* next = nullptr;
  bool resting = false;
  std::int64_t rested_at_ms = 0;

 private:
  void handle_readable();
  char* input() { return in_ ? in_.get() : loop_.read_buffer(); }
  void offer_input();
  void keep_unconsumed_input();
  void update_events();
  void start_linger();
  void check_timeouts(std::int64_t now_ms);
  bool too_slow(std::int64_t now_ms, std::int64_t timeout_ms) const;

  EventLoop& loop_;
  ConnectionOwner& owner_;
  int fd_;
  std::unique_ptr<Protocol> protocol_;
  std::unique_ptr<Protocol> next_protocol_;
  bool paused_ = false;
  bool offering_ = false;     // offer_input is running
  bool offer_again_ = false;  // resume_reading was called meanwhile
  bool peer_closed_ = false;
  bool close_when_flushed_ = false;
  bool want_write_ = false;
  bool lingering_ = false;
  std::int64_t linger_until_ms_ = 0;
  std::uint32_t armed_ = 0;
  const ConnectionTimeouts* timeouts_;
  TimeoutCounters* fired_;
  // Timer state, sampled by tick(): what is awaited since when, and when bytes last moved.
  Awaiting awaiting_ = Awaiting::header;
  std::uint64_t requests_begun_ = 0;
  std::int64_t awaiting_since_ms_ = -1;
  std::uint64_t reads_ = 0, reads_seen_ = 0;
  std::uint64_t writes_ = 0, progress_seen_ = 0;
  std::uint64_t bytes_read_ = 0, bytes_written_ = 0;
  std::uint64_t read_at_since_ = 0, written_at_since_ = 0;  // the counts when awaiting_ began
  std::int64_t last_read_ms_ = 0, last_progress_ms_ = 0;
  // Input the protocol has not consumed yet, kept from the loop's buffer (see EventLoop::read_buffer);
  // null when there is none. in_begin_ and in_end_ index input().
  std::unique_ptr<char[]> in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  OutputQueue out_;
};

}  // namespace hkv::net
