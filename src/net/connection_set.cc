// SPDX-License-Identifier: MIT
// Connection set: two intrusive lists (active, resting) and the tick that moves connections
// between them.
#include "net/connection_set.h"

namespace hkv::net {

void ConnectionSet::List::push_back(Connection* c) {
  c->prev = tail;
  c->next = nullptr;
  if (tail != nullptr) {
    tail->next = c;
  } else {
    head = c;
  }
  tail = c;
  ++size;
}

void ConnectionSet::List::unlink(Connection* c) {
  if (c->prev != nullptr) {
    c->prev->next = c->next;
  } else {
    head = c->next;
  }
  if (c->next != nullptr) {
    c->next->prev = c->prev;
  } else {
    tail = c->prev;
  }
  c->prev = c->next = nullptr;
  --size;
}

void ConnectionSet::remove(Connection* c) {
  (c->resting ? resting_ : active_).unlink(c);
  c->resting = false;
}

void ConnectionSet::wake(Connection* c) {
  if (!c->resting) return;
  resting_.unlink(c);
  c->resting = false;
  active_.push_back(c);
}

void ConnectionSet::rest(Connection* c, std::int64_t now_ms) {
  active_.unlink(c);
  c->resting = true;
  c->rested_at_ms = now_ms;
  resting_.push_back(c);
  c->release_idle_memory();
}

// A connection comes to rest in the tick that first sees it idle, which is also when its idle
// time starts (Connection::tick), so resting_ is ordered by idle deadline.
void ConnectionSet::tick(std::int64_t now_ms) {
  for (Connection* c = active_.head; c != nullptr;) {
    Connection* next = c->next;  // tick may close (unlink) c; rest moves it
    c->tick(now_ms);
    if (!c->closed() && c->may_rest()) rest(c, now_ms);
    c = next;
  }
  while (idle_ms_ > 0 && resting_.head != nullptr && now_ms - resting_.head->rested_at_ms >= idle_ms_) {
    Connection* c = resting_.head;
    wake(c);
    c->tick(now_ms);  // fires --idle-timeout: closes it, or says goodbye and stays active until sent
  }
}

void ConnectionSet::wake_all() {
  while (resting_.head != nullptr) wake(resting_.head);
}

}  // namespace hkv::net
