// SPDX-License-Identifier: MIT
// Connection I/O: read, hand to the protocol, write back, close — with back-pressure both ways.
#include "net/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cstring>
#include <utility>

namespace hkv::net {

namespace {
constexpr std::size_t kReadBuffer = EventLoop::kReadBufferSize;
constexpr std::int64_t kLingerMs = 2000;
// Times flush() refills a queue it has written whole before it yields to the loop (see flush).
constexpr int kRefillsPerFlush = 4;

std::int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Connection::Connection(EventLoop& loop, int fd, ConnectionOwner& owner, const ConnectionTimeouts* timeouts,
                       TimeoutCounters* fired)
    : loop_(loop), owner_(owner), fd_(fd), timeouts_(timeouts), fired_(fired), out_(&loop.output_buffers()) {
  armed_ = EPOLLIN | EPOLLRDHUP;
  loop_.add(fd_, armed_, this);
}

Connection::~Connection() {
  // The protocol goes first: what it releases on the way may still be queued in out_.
  next_protocol_.reset();
  protocol_.reset();
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
  }
}

void Connection::set_protocol(std::unique_ptr<Protocol> p) {
  if (protocol_) {
    next_protocol_ = std::move(p);  // swapped in by offer_input, outside the old protocol's code
  } else {
    protocol_ = std::move(p);
  }
}

void Connection::on_io(std::uint32_t events) {
  if (closed()) return;
  if (resting) owner_.connection_woke(this);
  if (events & (EPOLLERR | EPOLLHUP)) {
    if (!(events & EPOLLIN)) {
      close_now();
      return;
    }
  }
  if (events & EPOLLOUT) flush();
  if (!closed() && (events & (EPOLLIN | EPOLLRDHUP)) && (!paused_ || lingering_)) handle_readable();
}

void Connection::handle_readable() {
  if (lingering_) {
    char discard[16384];
    ssize_t n = ::read(fd_, discard, sizeof discard);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) close_now();
    return;
  }
  if (in_end_ == kReadBuffer) {
    if (in_begin_ == 0) return;  // buffer full of unconsumed input: wait for the protocol
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  ssize_t n = ::read(fd_, input() + in_end_, kReadBuffer - in_end_);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    close_now();
    return;
  }
  if (n == 0) {
    peer_closed_ = true;
    update_events();
    if (protocol_) {
      protocol_->on_peer_closed();  // the protocol decides when to close
    } else {
      close_now();
    }
    return;
  }
  in_end_ += static_cast<std::size_t>(n);
  ++reads_;
  bytes_read_ += static_cast<std::uint64_t>(n);
  offer_input();
  if (!in_ && in_begin_ != in_end_) keep_unconsumed_input();
  flush();
}

// The protocol may resume reading from inside on_data (HTTP/1.1 does, when the flush it asks for
// drains the output that paused it): that only marks the input for another offer here, since the
// bytes on_data is parsing are not consumed until it returns.
void Connection::offer_input() {
  offering_ = true;
  while (!closed() && !paused_ && protocol_) {
    if (next_protocol_) protocol_ = std::move(next_protocol_);
    if (in_begin_ == in_end_) break;
    std::size_t used = protocol_->on_data(input() + in_begin_, in_end_ - in_begin_);
    in_begin_ += used;
    if (!next_protocol_ && !std::exchange(offer_again_, false)) break;
  }
  offering_ = false;
  offer_again_ = false;
  if (in_begin_ == in_end_ || closed()) in_begin_ = in_end_ = 0;
}

// What the protocol left in the loop's buffer moves to the connection's own before another
// connection reads over it.
void Connection::keep_unconsumed_input() {
  in_ = std::make_unique_for_overwrite<char[]>(kReadBuffer);
  std::memcpy(in_.get(), loop_.read_buffer() + in_begin_, in_end_ - in_begin_);
  in_end_ -= in_begin_;
  in_begin_ = 0;
}

bool Connection::may_rest() const {
  return !closed() && !lingering_ && !close_when_flushed_ && !paused_ && !next_protocol_ && in_begin_ == in_end_ &&
         out_.empty() && protocol_ && protocol_->awaiting() == Awaiting::idle;
}

void Connection::release_idle_memory() {
  in_.reset();
  in_begin_ = in_end_ = 0;
  out_.release_memory();
  if (protocol_) protocol_->release_idle_memory();
}

// The wake-up rule for output: after flush() returns, either the queue is empty and the protocol's
// last on_drained() added nothing (it has nothing it may send until input arrives: a request, a
// WINDOW_UPDATE, a reset), or EPOLLOUT is armed and the loop calls flush() again. A drained queue
// is refilled and written at most kRefillsPerFlush times per call, so one connection with a lot to
// send cannot hold its worker; the level-triggered EPOLLOUT of a writable socket brings it back on
// the next turn of the loop, after the other connections.
void Connection::flush() {
  bool more = false;  // the queue holds bytes, or the protocol may have more to add
  for (int refills = 0; !closed(); ++refills) {
    const std::size_t queued = out_.pending();
    const auto status = out_.write_to(fd_);
    if (status == OutputQueue::WriteStatus::error) {
      close_now();
      return;
    }
    if (out_.pending() != queued) ++writes_;
    bytes_written_ += queued - out_.pending();
    if (status == OutputQueue::WriteStatus::blocked) {
      more = true;
      break;
    }
    if (!protocol_ || refills == kRefillsPerFlush) {
      more = refills == kRefillsPerFlush;
      break;
    }
    protocol_->on_drained();  // may queue more (HTTP/2 pulls frames only below its high-water mark)
    if (out_.empty()) break;
  }
  if (closed()) return;
  if (want_write_ != more) {
    want_write_ = more;
    update_events();
  }
  if (!more && close_when_flushed_ && out_.empty() && !lingering_) {
    if (peer_closed_) {
      close_now();
    } else {
      start_linger();
    }
  }
}

void Connection::start_linger() {
  lingering_ = true;
  linger_until_ms_ = monotonic_ms() + kLingerMs;
  ::shutdown(fd_, SHUT_WR);
  update_events();
}

void Connection::tick(std::int64_t now_ms) {
  if (lingering_) {
    if (now_ms >= linger_until_ms_) close_now();
    return;
  }
  if (timeouts_ != nullptr && !closed()) check_timeouts(now_ms);
}

// Sampled every tick, so a timeout fires up to one tick late.
void Connection::check_timeouts(std::int64_t now_ms) {
  // Once closing, all that is left is the peer reading the last output.
  const Awaiting now_awaiting = close_when_flushed_ ? Awaiting::send
                                : protocol_         ? protocol_->awaiting()
                                                    : Awaiting::header;
  const std::uint64_t begun = protocol_ ? protocol_->requests_begun() : 0;
  if (now_awaiting != awaiting_ || begun != requests_begun_ || awaiting_since_ms_ < 0) {
    awaiting_ = now_awaiting;
    requests_begun_ = begun;
    awaiting_since_ms_ = now_ms;
    read_at_since_ = bytes_read_;
    written_at_since_ = bytes_written_;
  }
  if (reads_ != reads_seen_) {
    reads_seen_ = reads_;
    last_read_ms_ = now_ms;
  }
  const std::uint64_t progress = protocol_ ? protocol_->progress(writes_) : writes_;
  if (progress != progress_seen_) {
    progress_seen_ = progress;
    last_progress_ms_ = now_ms;
  }
  std::int64_t limit = 0, since = awaiting_since_ms_;
  switch (awaiting_) {
    case Awaiting::idle:
      limit = timeouts_->idle_ms;
      break;
    case Awaiting::header:
      limit = timeouts_->header_ms;
      break;
    case Awaiting::body:
      limit = timeouts_->body_ms;
      since = std::max(since, last_read_ms_);
      break;
    case Awaiting::send:
      limit = timeouts_->send_ms;
      since = std::max(since, last_progress_ms_);
      break;
    case Awaiting::server:
      return;
  }
  if (limit <= 0) return;
  if (now_ms - since < limit && !too_slow(now_ms, limit)) return;
  if (fired_ != nullptr) (*fired_)[static_cast<std::size_t>(awaiting_)].add();
  if (close_when_flushed_ || !protocol_ || !protocol_->on_timeout(awaiting_)) close_now();
}

// Whether a body (or a response) has moved slower on average than its minimum rate since it
// began: its deadline is the timeout plus the bytes moved divided by the rate.
bool Connection::too_slow(std::int64_t now_ms, std::int64_t timeout_ms) const {
  std::uint64_t rate = 0, moved = 0;
  if (awaiting_ == Awaiting::body) {
    rate = timeouts_->min_body_rate;
    moved = bytes_read_ - read_at_since_;
  } else if (awaiting_ == Awaiting::send) {
    rate = timeouts_->min_send_rate;
    moved = bytes_written_ - written_at_since_;
  }
  if (rate == 0) return false;
  const auto allowed_ms = static_cast<std::int64_t>(std::min<std::uint64_t>(moved * 1000 / rate, INT64_MAX / 2));
  return now_ms - awaiting_since_ms_ >= timeout_ms + allowed_ms;
}

void Connection::pause_reading() {
  if (paused_) return;
  paused_ = true;
  update_events();
}

void Connection::resume_reading() {
  if (!paused_ || closed()) return;
  paused_ = false;
  if (offering_) {  // called from inside on_data: offer_input goes on once it returns
    offer_again_ = true;
    update_events();
    return;
  }
  offer_input();
  if (closed()) return;
  update_events();
  flush();
}

void Connection::close_after_flush() {
  if (close_when_flushed_) return;
  close_when_flushed_ = true;
  flush();
}

void Connection::close_now() {
  if (closed()) return;
  if (protocol_) protocol_->on_close();
  out_.clear();
  loop_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
  owner_.connection_closed(this);
}

void Connection::update_events() {
  if (closed()) return;
  std::uint32_t ev = 0;
  if (lingering_ || (!paused_ && !peer_closed_ && !close_when_flushed_)) ev |= EPOLLIN | EPOLLRDHUP;
  if (want_write_) ev |= EPOLLOUT;
  if (ev != armed_) {
    armed_ = ev;
    loop_.modify(fd_, ev, this);
  }
}

}  // namespace hkv::net
