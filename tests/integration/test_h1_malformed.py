# SPDX-License-Identifier: MIT
# Malformed HTTP/1.x requests: each gets its error status and a closed connection; hkv stays up.
import re
import socket
import time
import unittest

from hkv_server import ServerTestCase, read_response

H = b"Host: hkv\r\n"
POST = b"POST /store/m HTTP/1.1\r\n" + H
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"

# (name, raw bytes sent on a fresh connection, expected status or tuple of acceptable ones).
# One line per case: each becomes a test_<name> method of MalformedTest.
CASES = [
    ("garbage_line", b"THIS IS NOT HTTP AT ALL\r\n\r\n", 400),
    ("tls_client_hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)), 400),
    ("lowercase_method", b"get / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("missing_version", b"GET /\r\n" + H + b"\r\n", 400),
    ("bad_protocol_name", b"GET / HTTQ/1.1\r\n" + H + b"\r\n", 400),
    ("version_2_0", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 400),
    ("version_0_9", b"GET / HTTP/0.9\r\n" + H + b"\r\n", 400),
    ("version_1_2", b"GET / HTTP/1.2\r\n" + H + b"\r\n", 400),
    ("version_3_0", b"GET / HTTP/3.0\r\n" + H + b"\r\n", 400),
    ("nul_in_target", b"GET /\x00 HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("nul_in_method", b"G\x00T / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("nul_in_version", b"GET / HTTP/1.\x001\r\n" + H + b"\r\n", 400),
    ("del_in_target", b"GET /get/a\x7f HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("header_without_colon", b"GET / HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n", 400),
    ("header_name_space", b"GET / HTTP/1.1\r\n" + H + b"Bad Name: x\r\n\r\n", 400),
    ("header_space_before_colon", b"GET / HTTP/1.1\r\n" + H + b"Name : x\r\n\r\n", 400),
    ("header_name_empty", b"GET / HTTP/1.1\r\n" + H + b": x\r\n\r\n", 400),
    ("header_name_at", b"GET / HTTP/1.1\r\n" + H + b"Bad@Name: x\r\n\r\n", 400),
    ("header_name_parens", b"GET / HTTP/1.1\r\n" + H + b"Bad(Name): x\r\n\r\n", 400),
    ("header_name_quote", b"GET / HTTP/1.1\r\n" + H + b"Bad\"Name: x\r\n\r\n", 400),
    ("header_name_ctl", b"GET / HTTP/1.1\r\n" + H + b"Bad\x01Name: x\r\n\r\n", 400),
    ("header_name_nul", b"GET / HTTP/1.1\r\n" + H + b"\x00Name: x\r\n\r\n", 400),
    ("header_value_nul", b"GET / HTTP/1.1\r\n" + H + b"X-V: a\x00b\r\n\r\n", 400),
    ("content_length_abc", POST + b"Content-Length: abc\r\n\r\n", 400),
    ("content_length_negative", POST + b"Content-Length: -1\r\n\r\n", 400),
    ("content_length_overflow", POST + b"Content-Length: 99999999999999999999\r\n\r\n", (400, 413)),
    ("content_length_and_chunked", POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"3\r\nabc\r\n0\r\n\r\n", 400),
    ("two_content_lengths", POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ("chunk_size_zz", CHUNKED + b"zz\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk_size_negative", CHUNKED + b"-1\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk_size_overflow", CHUNKED + b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n", (400, 413)),
    ("chunk_longer_than_size", CHUNKED + b"3\r\nabcd\r\n0\r\n\r\n", 400),
    ("unknown_transfer_encoding", POST + b"Transfer-Encoding: gzip\r\n\r\nabc", (400, 501)),
    ("chunked_not_last_coding", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n"
     b"0\r\n\r\n", (400, 501)),
    ("expect_unsupported", b"GET / HTTP/1.1\r\n" + H + b"Expect: teapot\r\n\r\n", 417),
    ("target_20kb", b"GET /get/" + b"a" * 20000 + b" HTTP/1.1\r\n" + H + b"\r\n", (414, 431)),
    ("many_small_headers", b"GET / HTTP/1.1\r\n" + H
     + b"".join(b"X-%05d: v\r\n" % i for i in range(10000)) + b"\r\n", 431),
]


def read_until_closed(sock, timeout=5.0):
    """Everything hkv sends, and how the connection ended: 'eof', 'reset' or 'timeout'."""
    data, deadline = b"", time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        except socket.timeout:
            return data, "timeout"
        if not chunk:
            return data, "eof"
        data += chunk


def parse_response(data):
    """(status, headers, body) of the first response in `data`."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status, _ = lines[0].split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise AssertionError("not an HTTP/1.x response: %r" % data[:200])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), headers, rest[:int(headers.get("content-length", "0"))]


class MalformedTest(ServerTestCase):
    SERVER_ARGS = ("--max-value-size", "1000")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Opened before any bad request; must keep working on keep-alive throughout.
        cls.keeper = cls.srv.connect(timeout=5)
        cls.keeper_file = cls.keeper.makefile("rb")

    @classmethod
    def tearDownClass(cls):
        cls.keeper_file.close()
        cls.keeper.close()
        super().tearDownClass()

    def assertServerFine(self):
        self.assertTrue(self.srv.alive(), "hkv died")
        self.keeper.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        self.assertEqual(read_response(self.keeper_file)[::2], (200, b"Hello, World!"),
                         "earlier keep-alive connection broken")
        with self.srv.connect(timeout=5) as fresh:
            fresh.sendall(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
            data, _ = read_until_closed(fresh)
        self.assertEqual(parse_response(data)[::2], (200, b"Hello, World!"))

    def assertRejected(self, raw, expected, sock=None):
        expected = expected if isinstance(expected, tuple) else (expected,)
        sock = sock or self.srv.connect(timeout=5)
        try:
            try:
                sock.sendall(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # hkv may answer and close before reading it all; the answer is what counts
            data, ended = read_until_closed(sock)
        finally:
            sock.close()
        self.assertTrue(data, f"no response at all (connection ended by {ended}); expected "
                              f"{expected}. A reset here means hkv closed with unread input "
                              "and the kernel's RST discarded the answer")
        status, headers, body = parse_response(data)
        self.assertIn(status, expected, data[:300])
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        self.assertTrue(body.strip(), f"{status} without a body saying what was wrong")
        self.assertEqual(headers.get("connection", "").lower(), "close", headers)
        self.assertNotEqual(ended, "timeout", f"hkv answered {status} but kept the connection open")
        self.assertServerFine()
        return status, body

    def test_bad_request_after_good_ones_on_same_connection(self):
        sock = self.srv.connect(timeout=5)
        good = b"PUT /store/ok HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\nok"
        sock.sendall(good + b"GET / HTTP/1.1\r\n" + H + b"\r\n" + b"BROKEN\r\n\r\n"
                     + b"GET / HTTP/1.1\r\n" + H + b"\r\n")  # after the bad one: never answered
        data, ended = read_until_closed(sock)
        sock.close()
        self.assertNotEqual(ended, "timeout")
        statuses = [int(s) for s in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]
        self.assertEqual(statuses[:2], [201, 200], data)
        self.assertEqual(statuses[2:], [400], data)
        self.assertServerFine()

    def test_malformed_split_across_packets(self):
        sock = self.srv.connect(timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in (b"GET / HT", b"TP/1.1\r\nHo", b"st: hkv\r\nBroken", b"\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.02)
        self.assertRejected(b"", 400, sock=sock)


def _make_case(raw, expected):
    def test(self):
        self.assertRejected(raw, expected)
    return test


for _name, _raw, _expected in CASES:
    setattr(MalformedTest, "test_" + _name, _make_case(_raw, _expected))


if __name__ == "__main__":
    unittest.main()
