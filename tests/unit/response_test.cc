// SPDX-License-Identifier: MIT
// Tests hkv::http::write_h1_response() and http_date() by draining the queue through a socketpair.
#include "http/response.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "socket_pair.h"

namespace hkv::http {
namespace {

using net::OutputQueue;
using testing_support::drain;
using testing_support::SocketPair;

struct Parsed {
  std::string status_line;
  std::multimap<std::string, std::string> headers;
  std::string body;
  bool complete = false;
  std::size_t count(const std::string& name) const { return headers.count(name); }
  std::string get(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string("<missing>") : it->second;
  }
};

Parsed parse(const std::string& raw) {
  Parsed p;
  std::size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return p;
  p.complete = true;
  p.body = raw.substr(end + 4);
  std::size_t pos = raw.find("\r\n");
  p.status_line = raw.substr(0, pos);
  while (pos < end) {
    std::size_t next = raw.find("\r\n", pos + 2);
    std::string line = raw.substr(pos + 2, next - pos - 2);
    std::size_t colon = line.find(": ");
    if (colon == std::string::npos) {
      ADD_FAILURE() << "malformed header line: " << line;
    } else {
      p.headers.emplace(line.substr(0, colon), line.substr(colon + 2));
    }
    pos = next;
  }
  return p;
}

Parsed respond(Response& resp, H1ResponseOptions opts = {}) {
  OutputQueue q;
  write_h1_response(q, resp, opts);
  SocketPair sp;
  return parse(drain(q, sp));
}

// Responds with `opts`; expects `status_line` and exactly one Connection header, `connection`.
Parsed respond_expecting_connection(Response& resp, H1ResponseOptions opts, std::string_view status_line,
                                    std::string_view connection) {
  Parsed p = respond(resp, opts);
  EXPECT_EQ(p.status_line, status_line);
  EXPECT_EQ(p.get("Connection"), connection);
  EXPECT_EQ(p.count("Connection"), 1u);
  return p;
}

// An external body whose release() counts calls and then scribbles over the bytes, so any use of
// them after release would corrupt what the peer receives.
struct Owner {
  std::string bytes;
  int releases = 0;
  const OutputQueue* queue = nullptr;
  std::size_t pending_at_release = SIZE_MAX;

  static void release(void* p) {
    auto* o = static_cast<Owner*>(p);
    ++o->releases;
    if (o->queue) o->pending_at_release = o->queue->pending();
    std::memset(o->bytes.data(), '#', o->bytes.size());
  }
  net::ExternalBytes body() { return net::ExternalBytes{bytes.data(), bytes.size(), this, &Owner::release}; }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return s;
}

TEST(H1Response, PlainTextResponse) {
  Response resp;
  resp.text = "hello";
  Parsed p = respond(resp);
  ASSERT_TRUE(p.complete);
  EXPECT_EQ(p.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(p.get("Server"), "hkv");
  EXPECT_EQ(p.get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(p.get("Content-Length"), "5");
  EXPECT_EQ(p.get("Date").size(), 29u);
  EXPECT_EQ(p.count("Connection"), 0u);
  EXPECT_EQ(p.count("Allow"), 0u);
  EXPECT_EQ(p.body, "hello");
  for (const char* h : {"Server", "Date", "Content-Type", "Content-Length"}) EXPECT_EQ(p.count(h), 1u) << h;
}

TEST(H1Response, EmptyBodyHasZeroLength) {
  Response resp;  // default: status 200, no text, no shared body
  resp.status = 201;
  Parsed p = respond(resp);
  ASSERT_TRUE(p.complete);
  EXPECT_EQ(p.status_line, "HTTP/1.1 201 Created");
  EXPECT_EQ(p.get("Content-Length"), "0");
  EXPECT_EQ(p.body, "");
}

TEST(H1Response, StatusReasonsAndContentType) {
  struct Case {
    std::uint16_t status;
    const char* line;
  } cases[] = {{201, "HTTP/1.1 201 Created"},         {400, "HTTP/1.1 400 Bad Request"},
               {404, "HTTP/1.1 404 Not Found"},       {413, "HTTP/1.1 413 Content Too Large"},
               {503, "HTTP/1.1 503 Service Unavailable"}, {299, "HTTP/1.1 299 Unknown"}};
  for (const Case& c : cases) {
    Response resp;
    resp.status = c.status;
    resp.content_type = "application/octet-stream";
    resp.text = "xyz";
    Parsed p = respond(resp);
    EXPECT_EQ(p.status_line, c.line);
    EXPECT_EQ(p.get("Content-Type"), "application/octet-stream");
    EXPECT_EQ(p.get("Content-Length"), "3");
    EXPECT_EQ(p.body, "xyz");
  }
}

TEST(H1Response, MethodNotAllowedCarriesAllow) {
  Response resp;
  resp.set_error(405, "method not allowed\n");
  resp.allow = "POST, PUT, DELETE";
  Parsed p = respond(resp);
  EXPECT_EQ(p.status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(p.get("Allow"), "POST, PUT, DELETE");
  EXPECT_EQ(p.get("Content-Length"), std::to_string(std::strlen("method not allowed\n")));
  EXPECT_EQ(p.body, "method not allowed\n");
}

TEST(H1Response, ConnectionCloseWhenNotKeepAlive) {
  Response resp;
  resp.text = "bye";
  Parsed p =
      respond_expecting_connection(resp, {.keep_alive = false, .http10 = false}, "HTTP/1.1 200 OK", "close");
  EXPECT_EQ(p.body, "bye");
}

TEST(H1Response, Http10KeepAlive) {
  Response resp;
  resp.text = "old";
  Parsed p =
      respond_expecting_connection(resp, {.keep_alive = true, .http10 = true}, "HTTP/1.0 200 OK", "keep-alive");
  EXPECT_EQ(p.body, "old");

  Response resp2;
  respond_expecting_connection(resp2, {.keep_alive = false, .http10 = true}, "HTTP/1.0 200 OK", "close");
}

TEST(H1Response, HeadOmitsBodyButKeepsLength) {
  Response resp;
  resp.text = "twelve bytes";
  resp.omit_body = true;
  Parsed p = respond(resp);
  EXPECT_EQ(p.get("Content-Length"), "12");
  EXPECT_EQ(p.body, "");
}

TEST(H1Response, NoContentHasNoLengthNorBody) {
  Response resp;
  resp.status = 204;
  resp.text = "should not be sent";
  Parsed p = respond(resp);
  EXPECT_EQ(p.status_line, "HTTP/1.1 204 No Content");
  EXPECT_EQ(p.count("Content-Length"), 0u);
  EXPECT_EQ(p.count("Content-Type"), 0u);
  EXPECT_EQ(p.body, "");
}

TEST(H1Response, PipelinedResponsesStayInOrder) {
  OutputQueue q;
  Response a;
  a.text = "first";
  Response b;
  b.status = 404;
  b.text = "second";
  write_h1_response(q, a, {});
  write_h1_response(q, b, {});
  SocketPair sp;
  std::string raw = drain(q, sp);
  std::size_t split = raw.find("HTTP/1.1 404");
  ASSERT_NE(split, std::string::npos);
  Parsed pa = parse(raw.substr(0, split));
  Parsed pb = parse(raw.substr(split));
  EXPECT_EQ(pa.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(pa.body, "first");
  EXPECT_EQ(pb.body, "second");
}

TEST(H1Response, SmallBorrowedBodyIsCopiedAndReleasedOnce) {
  Owner owner{pattern(4095)};
  const std::string expected = owner.bytes;
  Response resp;
  resp.borrowed = owner.body();
  OutputQueue q;
  write_h1_response(q, resp, {});
  EXPECT_EQ(owner.releases, 1);  // copied next to the headers, so the owner is let go at once
  EXPECT_EQ(resp.borrowed.owner, nullptr);
  SocketPair sp;
  Parsed p = parse(drain(q, sp));
  EXPECT_EQ(p.get("Content-Length"), "4095");
  EXPECT_EQ(p.body, expected);  // not the '#' written over the original on release
  EXPECT_EQ(owner.releases, 1);
}

TEST(H1Response, LargeBorrowedBodyIsReleasedOnceAfterItWasWritten) {
  Owner owner{pattern(200 * 1024)};
  const std::string expected = owner.bytes;
  Response resp;
  resp.content_type = "application/octet-stream";
  resp.borrowed = owner.body();
  OutputQueue q;
  owner.queue = &q;
  write_h1_response(q, resp, {});
  EXPECT_EQ(resp.borrowed.owner, nullptr);
  EXPECT_EQ(owner.releases, 0);

  SocketPair sp(4096);
  EXPECT_EQ(q.write_to(sp.w), OutputQueue::WriteStatus::blocked);
  EXPECT_EQ(owner.releases, 0) << "released while bytes were still queued";
  Parsed p = parse(drain(q, sp));  // includes what the first write_to() put in the socket
  EXPECT_EQ(p.get("Content-Type"), "application/octet-stream");
  EXPECT_EQ(p.get("Content-Length"), std::to_string(expected.size()));
  EXPECT_EQ(p.body, expected);
  EXPECT_EQ(owner.releases, 1);
  EXPECT_EQ(owner.pending_at_release, 0u);
  q.clear();
  EXPECT_EQ(owner.releases, 1);
}

TEST(H1Response, LargeBorrowedBodyContentMatches) {
  Owner owner{pattern(4096)};
  const std::string expected = owner.bytes;
  Response resp;
  resp.borrowed = owner.body();
  OutputQueue q;
  write_h1_response(q, resp, {.keep_alive = false, .http10 = false});
  EXPECT_EQ(owner.releases, 0);  // 4096 bytes: referenced, not copied
  SocketPair sp(4096);
  Parsed p = parse(drain(q, sp));
  EXPECT_EQ(p.get("Content-Length"), "4096");
  EXPECT_EQ(p.get("Connection"), "close");
  EXPECT_EQ(p.body, expected);
  EXPECT_EQ(owner.releases, 1);
}

TEST(H1Response, LargeBorrowedBodyReleasedOnClear) {
  Owner owner{pattern(64 * 1024)};
  {
    Response resp;
    resp.borrowed = owner.body();
    OutputQueue q;
    write_h1_response(q, resp, {});
    EXPECT_EQ(owner.releases, 0);
    q.clear();
    EXPECT_EQ(owner.releases, 1);
    EXPECT_TRUE(q.empty());
  }  // the destructor must not release it again
  EXPECT_EQ(owner.releases, 1);

  Owner dropped{pattern(64 * 1024)};
  {
    Response resp;
    resp.borrowed = dropped.body();
    OutputQueue q;
    write_h1_response(q, resp, {});
  }  // queue destroyed with the body still pending
  EXPECT_EQ(dropped.releases, 1);
}

TEST(H1Response, HeadAndNoContentReleaseBorrowedBodyWithoutSendingIt) {
  for (std::uint16_t status : {200, 204}) {
    Owner owner{pattern(10000)};
    Response resp;
    resp.status = status;
    resp.borrowed = owner.body();
    resp.omit_body = status == 200;
    OutputQueue q;
    write_h1_response(q, resp, {});
    EXPECT_EQ(owner.releases, 1) << status;
    SocketPair sp;
    Parsed p = parse(drain(q, sp));
    EXPECT_EQ(p.body, "") << status;
    if (status == 200) {
      EXPECT_EQ(p.get("Content-Length"), "10000");
    } else {
      EXPECT_EQ(p.count("Content-Length"), 0u);
    }
    EXPECT_EQ(owner.releases, 1) << status;
  }
}

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate), checked character class by class.
bool is_imf_fixdate(std::string_view d) {
  constexpr std::string_view kShape = "aaa, 99 bbb 9999 99:99:99 GMT";  // 9 = digit, a/b = name
  if (d.size() != kShape.size()) return false;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (kShape[i] == '9') {
      if (d[i] < '0' || d[i] > '9') return false;
    } else if (kShape[i] != 'a' && kShape[i] != 'b' && d[i] != kShape[i]) {
      return false;
    }
  }
  constexpr std::string_view kDays = "Mon Tue Wed Thu Fri Sat Sun ";
  constexpr std::string_view kMonths = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec ";
  std::size_t day = kDays.find(d.substr(0, 3));
  std::size_t month = kMonths.find(d.substr(8, 3));
  return day != std::string_view::npos && day % 4 == 0 && month != std::string_view::npos &&
         month % 4 == 0;
}

TEST(HttpDate, FormatAndValue) {
  // The checker itself: one known-good date and near misses.
  EXPECT_TRUE(is_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"));
  EXPECT_FALSE(is_imf_fixdate("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(is_imf_fixdate("Sun,  6 Nov 1994 08:49:37 GMT"));
  EXPECT_FALSE(is_imf_fixdate("Sud, 06 Nov 1994 08:49:37 GMT"));
  EXPECT_FALSE(is_imf_fixdate("Sun, 06 Nox 1994 08:49:37 GMT"));

  std::time_t before = std::time(nullptr);
  std::string d(http_date());
  std::time_t after = std::time(nullptr);
  ASSERT_EQ(d.size(), 29u);
  EXPECT_TRUE(d.ends_with(" GMT"));
  EXPECT_TRUE(is_imf_fixdate(d)) << d;
  std::tm tm{};
  ASSERT_NE(strptime(d.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm), nullptr) << d;
  std::time_t parsed = timegm(&tm);
  EXPECT_GE(parsed, before);
  EXPECT_LE(parsed, after);
}

TEST(HttpDate, ResponseCarriesCurrentDate) {
  Response resp;
  std::time_t before = std::time(nullptr);
  Parsed p = respond(resp);
  std::time_t after = std::time(nullptr);
  std::tm tm{};
  ASSERT_NE(strptime(p.get("Date").c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm), nullptr);
  std::time_t parsed = timegm(&tm);
  EXPECT_GE(parsed, before);
  EXPECT_LE(parsed, after);
}

}  // namespace
}  // namespace hkv::http
