# SPDX-License-Identifier: MIT
# HTTP/1.x on the wire: pipelining, keep-alive, close, HTTP/1.0, chunked, 100-continue, 413/431/414.
import collections
import http.client
import os
import random
import socket
import subprocess
import tempfile
import time
import unittest

from hkv_server import ServerTestCase, require_tools

HELLO = b"Hello, World!"
Resp = collections.namedtuple("Resp", "version status headers body")


class Reader:
    """Reads HTTP/1.x responses byte-exactly from a raw socket (HEAD-aware, no read-ahead loss)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by hkv; unparsed: %r" % self.buf[:200])
        self.buf += chunk

    def read(self, n=None):
        """n bytes, or (n None) one line without its CRLF."""
        while (b"\r\n" not in self.buf) if n is None else (len(self.buf) < n):
            self._more()
        if n is None:
            line, _, self.buf = self.buf.partition(b"\r\n")
            return line
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, head=False, interim=False):
        """The next response; 1xx answers are skipped unless `interim`."""
        while True:
            line = self.read()
            version, status, _ = line.decode("latin-1").split(" ", 2)
            if not version.startswith("HTTP/1."):
                raise AssertionError("not a status line: %r" % line)
            headers = {}
            while h := self.read():
                name, _, value = h.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            status = int(status)
            if status >= 200 or interim:
                break
        no_body = head or status in (204, 304) or status < 200
        body = b"" if no_body else self.read(int(headers.get("content-length", "0")))
        return Resp(version, status, headers, body)

    def closed(self, timeout=5.0):
        """True when hkv closes (FIN or RST) within `timeout`, sending nothing more."""
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        self.buf += chunk
        return not chunk


def http_request(method, path, body=None, headers=(), version="HTTP/1.1", chunks=None):
    """Raw request bytes. `chunks` sends the body chunked, one chunk per item."""
    lines = [f"{method} {path} {version}", "Host: hkv"] + list(headers)
    if chunks is not None:
        lines.append("Transfer-Encoding: chunked")
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    elif body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class WireCase(ServerTestCase):
    """Raw-socket helpers on top of the per-class server."""

    def open(self):
        sock = self.srv.connect(timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(sock.close)
        return sock, Reader(sock)

    def exchange(self, raw, head=False):
        sock, reader = self.open()
        sock.sendall(raw)
        return reader.response(head=head), reader

    def assertError(self, resp, status):
        self.assertEqual(resp.status, status, resp)
        self.assertTrue(resp.headers.get("content-type", "").startswith("text/plain"), resp)
        self.assertTrue(resp.body.strip(), f"error {status} has an empty body")

    def assertClosedWithError(self, raw, status):
        resp, reader = self.exchange(raw)
        self.assertError(resp, status)
        self.assertEqual(resp.headers.get("connection", "").lower(), "close", resp)
        self.assertTrue(reader.closed(), "hkv kept the connection open after %d" % status)
        self.assertServerAnswers()

    def assertServerAnswers(self):
        self.assertTrue(self.srv.alive(), "hkv died")
        resp, _ = self.exchange(http_request("GET", "/"))
        self.assertEqual((resp.status, resp.body), (200, HELLO))


def mixed_requests(n, seed):
    """n (raw request, is_head, expected status, expected body or None) over a few keys."""
    rng, model, out = random.Random(seed), {}, []
    for i in range(n):
        op, key = rng.choice(["POST", "PUT", "CHUNKED", "GET", "GET", "HEAD", "DELETE", "ROOT"]), \
            f"pipe{seed}-{rng.randrange(4)}"
        value = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 300])))
        if op in ("POST", "PUT", "CHUNKED"):
            status = 200 if key in model else 201
            model[key] = value
            raw = (http_request("POST", f"/store/{key}", chunks=[value[:5], value[5:]])
                   if op == "CHUNKED" else http_request(op, f"/store/{key}", value))
            out.append((raw, False, status, None))
        elif op in ("GET", "HEAD"):
            raw = http_request(op, f"/get/{key}")
            out.append((raw, op == "HEAD", 200 if key in model else 404, model.get(key)))
        elif op == "DELETE":
            status = 404 if model.pop(key, None) is None else 204
            out.append((http_request(op, f"/store/{key}"), False, status, None))
        else:
            out.append((http_request("GET", "/?n=%d" % i), False, 200, HELLO))
    return out


class PipeliningTest(WireCase):
    def check_in_order(self, reader, reqs):
        for i, (raw, head, status, body) in enumerate(reqs):
            resp = reader.response(head=head)
            where = f"response {i} to {raw[:40]!r}"
            self.assertEqual(resp.status, status, where)
            if head:
                self.assertEqual(resp.body, b"", where)
                if body is not None:
                    self.assertEqual(int(resp.headers["content-length"]), len(body), where)
            elif status >= 400:
                self.assertTrue(resp.body.strip(), where + ": error without body")
            elif body is not None:
                self.assertEqual(resp.body, body, where)

    def test_fifty_mixed_requests_in_one_send(self):
        reqs = mixed_requests(50, seed=1)
        sock, reader = self.open()
        sock.sendall(b"".join(r[0] for r in reqs))
        self.check_in_order(reader, reqs)
        sock.sendall(http_request("GET", "/"))  # still open for more
        self.assertEqual(reader.response().body, HELLO)

    def test_byte_by_byte(self):
        reqs = mixed_requests(8, seed=2)
        sock, reader = self.open()
        for b in b"".join(r[0] for r in reqs):
            sock.send(bytes([b]))
        self.check_in_order(reader, reqs)

    def test_awkward_split_points(self):
        reqs = mixed_requests(30, seed=3)
        stream = b"".join(r[0] for r in reqs)
        # Cut between CR and LF, inside header names, chunk sizes and bodies, and at random.
        cuts = {i + 1 for i in range(len(stream)) if stream[i:i + 1] == b"\r"}
        cuts |= set(random.Random(3).sample(range(1, len(stream)), 60))
        sock, reader = self.open()
        last = 0
        for cut in sorted(cuts)[::3]:
            sock.sendall(stream[last:cut])
            last = cut
            time.sleep(0.0005)
        sock.sendall(stream[last:])
        self.check_in_order(reader, reqs)

    def test_pipelined_large_values_in_order(self):
        value = os.urandom(300 * 1024)
        resp, _ = self.exchange(http_request("PUT", "/store/bigpipe", value))
        self.assertIn(resp.status, (200, 201))
        sock, reader = self.open()
        reqs = [http_request("GET", "/get/bigpipe"), http_request("GET", "/")] * 8
        sock.sendall(b"".join(reqs))  # ~5 MiB of answers: hkv has to stop and resume
        for i in range(8):
            self.assertEqual(reader.response().body, value, f"value {i}")
            self.assertEqual(reader.response().body, HELLO, f"hello {i}")

    def test_head_answers_have_no_body(self):
        self.exchange(http_request("POST", "/store/headed", b"12345"))
        for path in ("/", "/get/headed", "/get/head-missing", "/get/", "/nope",
                     "/store/headed"):
            with self.subTest(path=path):
                sock, reader = self.open()
                sock.sendall(http_request("HEAD", path) + http_request("GET", "/"))
                head = reader.response(head=True)
                self.assertIn(head.status, (200, 400, 404, 405), path)
                try:
                    follow, error = reader.response(), None  # a body after HEAD lands here
                except AssertionError as e:
                    follow, error = None, e
                self.assertIsNone(error, f"HEAD {path} -> {head.status} was followed by body bytes")
                self.assertEqual((follow.status, follow.body), (200, HELLO))


class KeepAliveTest(WireCase):
    def test_keep_alive_is_default_in_1_1(self):
        sock, reader = self.open()
        for i in range(5):
            sock.sendall(http_request("GET", "/"))
            resp = reader.response()
            self.assertEqual((resp.version, resp.status, resp.body), ("HTTP/1.1", 200, HELLO))
            self.assertNotEqual(resp.headers.get("connection", "").lower(), "close")
        self.assertFalse(reader.closed(timeout=0.3), "hkv closed an idle keep-alive connection")

    def test_errors_from_handler_keep_connection(self):
        # Errors about well-formed requests (an empty key is a 400) keep the connection.
        sock, reader = self.open()
        sock.sendall(http_request("GET", "/nope") + http_request("GET", "/get/")
                     + http_request("DELETE", "/get/x") + http_request("GET", "/"))
        self.assertEqual([reader.response().status for _ in range(4)], [404, 400, 405, 200])

    def test_target_outside_the_uri_grammar_closes_after_400(self):
        sock, reader = self.open()
        sock.sendall(http_request("GET", "/get/%zz") + http_request("GET", "/"))
        resp = reader.response()
        self.assertEqual((resp.status, resp.headers.get("connection")), (400, "close"))
        self.assertTrue(reader.closed(timeout=3), "connection kept after a malformed target")

    def test_connection_close_honoured(self):
        sock, reader = self.open()
        sock.sendall(http_request("GET", "/", headers=["Connection: close"])
                     + http_request("GET", "/get/never"))  # must not be answered
        resp = reader.response()
        self.assertEqual((resp.status, resp.body, resp.headers.get("connection", "").lower()),
                         (200, HELLO, "close"))
        self.assertTrue(reader.closed(), "hkv did not close after Connection: close")
        self.assertEqual(reader.buf, b"", "answered a request after Connection: close")

    def test_http10_answered_and_closed(self):
        for method, path, body, status in [
                ("GET", "/", None, 200), ("POST", "/store/ten", b"1.0", 201),
                ("GET", "/get/ten", None, 200), ("GET", "/get/no", None, 404)]:
            resp, reader = self.exchange(http_request(method, path, body, version="HTTP/1.0"))
            self.assertEqual((resp.version, resp.status), ("HTTP/1.0", status), path)
            self.assertTrue(resp.body, path)
            self.assertTrue(reader.closed(), f"HTTP/1.0 {method} {path}: left open")

    def test_http10_keep_alive(self):
        sock, reader = self.open()
        ka = ["Connection: keep-alive"]
        for _ in range(3):
            sock.sendall(http_request("GET", "/", headers=ka, version="HTTP/1.0"))
            resp = reader.response()
            self.assertEqual((resp.version, resp.status, resp.body), ("HTTP/1.0", 200, HELLO))
            self.assertEqual(resp.headers.get("connection", "").lower(), "keep-alive")
        sock.sendall(http_request("GET", "/", version="HTTP/1.0"))  # no keep-alive: last one
        self.assertEqual(reader.response().status, 200)
        self.assertTrue(reader.closed())


class ChunkedTest(WireCase):
    SERVER_ARGS = ("--max-value-size", "1000")

    def store_chunked(self, key, chunk_bytes):
        return self.exchange(b"POST /store/%s HTTP/1.1\r\nHost: hkv\r\nTransfer-Encoding: "
                             b"chunked\r\n\r\n%s" % (key.encode(), chunk_bytes))

    def get(self, key):
        return self.exchange(http_request("GET", f"/get/{key}"))[0]

    def test_multiple_chunks(self):
        resp, _ = self.store_chunked("ch1", b"5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n")
        self.assertEqual(resp.status, 201)
        self.assertEqual(self.get("ch1").body, b"hello 0123456789")

    def test_binary_chunks_with_crlf_inside(self):
        value = b"\r\n0\r\n\r\n" + bytes(range(256)) * 3
        resp, _ = self.exchange(http_request("PUT", "/store/ch2", chunks=[value[:9], value[9:400],
                                                                         value[400:]]))
        self.assertEqual(resp.status, 201)
        self.assertEqual(self.get("ch2").body, value)

    def test_only_last_chunk_is_empty_value(self):
        resp, _ = self.store_chunked("ch3", b"0\r\n\r\n")
        self.assertEqual(resp.status, 201)
        got = self.get("ch3")
        self.assertEqual((got.status, got.body, got.headers["content-length"]), (200, b"", "0"))

    def test_http_client_chunked(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        conn.request("POST", "/store/ch4", body=iter([b"abc", b"", b"def" * 100]),
                     encode_chunked=True)
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 201)
        conn.close()
        self.assertEqual(self.get("ch4").body, b"abc" + b"def" * 100)

    def test_chunked_pipelined_with_keep_alive(self):
        sock, reader = self.open()
        sock.sendall(http_request("POST", "/store/ch5", chunks=[b"a", b"b"])
                     + http_request("POST", "/store/ch5", chunks=[b"c" * 100])
                     + http_request("GET", "/get/ch5"))
        self.assertEqual([reader.response().status for _ in range(2)], [201, 200])
        self.assertEqual(reader.response().body, b"c" * 100)

    def test_chunked_at_limit_accepted_one_over_413(self):
        resp, _ = self.exchange(http_request("POST", "/store/ch6", chunks=[b"x" * 600, b"y" * 400]))
        self.assertEqual(resp.status, 201)
        self.assertEqual(len(self.get("ch6").body), 1000)
        self.assertClosedWithError(http_request("POST", "/store/ch7",
                                                chunks=[b"x" * 600, b"y" * 401]), 413)
        self.assertEqual(self.get("ch7").status, 404)

    def test_chunked_single_huge_chunk_413(self):
        # One chunk declared far over the limit: 413 once the limit is crossed, without the rest.
        sock, reader = self.open()
        sock.sendall(b"POST /store/ch8 HTTP/1.1\r\nHost: hkv\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"100000\r\n" + b"z" * 2000)
        self.assertError(reader.response(), 413)
        self.assertTrue(reader.closed())


class ExpectContinueTest(WireCase):
    def test_interim_100_then_final(self):
        sock, reader = self.open()
        sock.sendall(b"POST /store/ec HTTP/1.1\r\nHost: hkv\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        self.assertEqual(reader.response(interim=True).status, 100)  # before any body byte
        sock.sendall(b"hello")
        self.assertEqual(reader.response().status, 201)
        sock.sendall(http_request("GET", "/get/ec"))
        self.assertEqual(reader.response().body, b"hello")

    def test_expect_with_too_large_body_gets_413_not_100(self):
        sock, reader = self.open()
        sock.sendall(b"PUT /store/ec2 HTTP/1.1\r\nHost: hkv\r\nContent-Length: 2000000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        self.assertError(reader.response(interim=True), 413)
        self.assertTrue(reader.closed())

    def test_curl_500k_binary_round_trip(self):
        require_tools("curl")
        value = os.urandom(500 * 1024)
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "in"), os.path.join(tmp, "out")
            with open(src, "wb") as f:
                f.write(value)
            base = ["curl", "--http1.1", "-sS", "-v", "--max-time", "30", "-w", "%{http_code}"]
            # curl 7.x only adds the Expect header by itself from 1 MiB on: ask for it.
            post = subprocess.run(base + ["-o", os.devnull, "-H", "Expect: 100-continue",
                                          "--data-binary", "@" + src,
                                          self.srv.url + "/store/curl500k"],
                                  capture_output=True, timeout=60)
            err = post.stderr.decode(errors="replace")
            self.assertEqual((post.returncode, post.stdout), (0, b"201"), err)
            self.assertIn("HTTP/1.1 100 Continue", err)
            get = subprocess.run(base + ["-o", dst, self.srv.url + "/get/curl500k"],
                                 capture_output=True, timeout=60)
            self.assertEqual((get.returncode, get.stdout), (0, b"200"), get.stderr)
            with open(dst, "rb") as f:
                self.assertTrue(f.read() == value, "500 KiB value came back different")


class LimitsTest(WireCase):
    SERVER_ARGS = ("--max-value-size", "1000")

    def test_413_prompt_without_reading_body(self):
        sock, reader = self.open()
        start = time.monotonic()
        sock.sendall(b"POST /store/big HTTP/1.1\r\nHost: hkv\r\nContent-Length: 10000000\r\n\r\n")
        sock.settimeout(3)
        self.assertError(reader.response(), 413)
        self.assertTrue(reader.closed(timeout=3), "connection not closed after 413")
        self.assertLess(time.monotonic() - start, 10.0, "413 waited for the body (the body timeout is 30 s)")
        self.assertServerAnswers()

    def test_value_at_limit_and_one_over(self):
        resp, _ = self.exchange(http_request("POST", "/store/lim", b"v" * 1000))
        self.assertEqual(resp.status, 201)
        self.assertClosedWithError(http_request("POST", "/store/lim", b"w" * 1001), 413)
        self.assertEqual(self.exchange(http_request("GET", "/get/lim"))[0].body, b"v" * 1000)

    def test_other_connections_survive_413(self):
        sock, reader = self.open()
        sock.sendall(http_request("GET", "/"))
        self.assertEqual(reader.response().status, 200)
        self.assertClosedWithError(http_request("PUT", "/store/x", b"x" * 5000), 413)
        sock.sendall(http_request("GET", "/"))
        self.assertEqual(reader.response().body, HELLO)

    def test_header_section_under_16k_ok(self):
        headers = [f"X-Pad-{i}: " + "p" * 900 for i in range(15)]  # ~14 KiB
        resp, _ = self.exchange(http_request("GET", "/", headers=headers))
        self.assertEqual((resp.status, resp.body), (200, HELLO))

    def test_header_section_over_16k_is_431(self):
        self.assertClosedWithError(http_request("GET", "/", headers=["X-Big: " + "b" * 17000]), 431)
        headers = [f"X-Pad-{i}: " + "p" * 900 for i in range(20)]  # ~18 KiB
        self.assertClosedWithError(http_request("GET", "/", headers=headers), 431)

    def test_long_key_414_keeps_connection(self):
        sock, reader = self.open()
        sock.sendall(http_request("GET", "/get/" + "k" * 251) + http_request("GET", "/"))
        self.assertError(reader.response(), 414)
        self.assertEqual(reader.response().body, HELLO)


if __name__ == "__main__":
    unittest.main()
