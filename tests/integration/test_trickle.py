# SPDX-License-Identifier: MIT
# Trickles (R.U.D.Y.): bodies, header blocks and flow-control windows sent a few bytes at a time
# so that a connection is never quite stalled. Each is cut by its minimum rate or header timeout
# within a bound; a slow but steady upload and download still succeed.
import http.client
import socket
import time
import unittest

from hkv_server import HkvServer, assert_clean_exit, metric
from rawclients import (DATA, HEADERS, PREFACE, SETTINGS, SETTINGS_INITIAL_WINDOW_SIZE, frame, get_request_frame,
                        window_update)

TIMEOUT_S = 1.0      # --body-timeout, --send-timeout and --header-timeout
MIN_RATE = 2000      # --min-body-rate and --min-send-rate, bytes/s
CUT_BOUND_S = 4.0    # a trickler must be cut within this (timeout + 100 ms ticks + margin)


def literal(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def post_headers(path, sid, end_headers=True):
    block = b"".join(literal(n, v) for n, v in ((b":method", b"POST"), (b":scheme", b"http"),
                                                  (b":path", path.encode()), (b":authority", b"hkv")))
    return frame(HEADERS, 0x4 if end_headers else 0, sid, block)


def h2_answered(sock, sid):
    """Reads frames until the response HEADERS of stream `sid` arrive."""
    buf = b""
    while True:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            length, ftype, fsid = int.from_bytes(buf[:3], "big"), buf[3], int.from_bytes(buf[5:9], "big")
            payload, buf = buf[9:9 + length], buf[9 + length:]
            if ftype == HEADERS and fsid == sid:
                return
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("closed before the answer")
        buf += chunk


def closed(sock):
    """Whether the server has closed `sock` (reads and drops what is pending)."""
    sock.setblocking(False)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        sock.setblocking(True)


class Trickle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = HkvServer("--body-timeout", str(TIMEOUT_S), "--send-timeout", str(TIMEOUT_S),
                            "--header-timeout", str(TIMEOUT_S), "--min-body-rate", str(MIN_RATE),
                            "--min-send-rate", str(MIN_RATE), threads=1)
        with cls.srv.connect() as s:
            value = b"v" * (256 * 1024)
            s.sendall(b"PUT /store/big HTTP/1.1\r\nHost: hkv\r\nContent-Length: %d\r\n\r\n" % len(value) + value)
            assert b" 201 " in s.recv(4096)

    @classmethod
    def tearDownClass(cls):
        assert_clean_exit(*cls.srv.stop())

    def trickle_until_cut(self, sock, piece, every_s=0.2):
        """Sends `piece` every `every_s` (never stalling for a whole timeout) until the server
        closes; returns the seconds that took, failing past CUT_BOUND_S."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < CUT_BOUND_S:
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0
            time.sleep(every_s)
            if closed(sock):
                return time.monotonic() - t0
        self.fail(f"a trickle of {len(piece)} bytes every {every_s} s was not cut in {CUT_BOUND_S} s")

    def test_h1_body_trickled_is_cut_with_408(self):
        fired = metric(self.srv, 'hkv_timeouts_total{kind="body"}')
        with self.srv.connect() as s:
            s.sendall(b"POST /store/t HTTP/1.1\r\nHost: hkv\r\nContent-Length: 100000\r\n\r\n")
            t0 = time.monotonic()
            reply = b""
            while time.monotonic() - t0 < CUT_BOUND_S and b"\r\n\r\n" not in reply:
                s.sendall(b"x")
                s.settimeout(0.2)
                try:
                    reply += s.recv(4096)
                except socket.timeout:
                    pass
            self.assertTrue(reply.startswith(b"HTTP/1.1 408 "), reply)
        self.assertEqual(metric(self.srv, 'hkv_timeouts_total{kind="body"}'), fired + 1)

    def test_h2_data_trickled_is_cut(self):
        with self.srv.connect() as s:
            s.sendall(PREFACE + frame(SETTINGS, 0, 0) + post_headers("/store/t2", 1))
            self.trickle_until_cut(s, frame(DATA, 0, 1, b"x"))

    def test_h2_window_trickled_for_a_response_is_cut(self):
        with self.srv.connect() as s:
            settings = SETTINGS_INITIAL_WINDOW_SIZE.to_bytes(2, "big") + (1).to_bytes(4, "big")
            s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings) + get_request_frame("/get/big", 1))
            self.trickle_until_cut(s, window_update(1, 1))

    def test_h2_header_block_that_never_ends_is_cut_at_the_header_timeout(self):
        # Its own server, whose body timeout is far longer: the header timeout must be what cuts.
        with HkvServer("--header-timeout", str(TIMEOUT_S), "--body-timeout", "60", threads=1) as srv:
            with srv.connect() as s:
                s.sendall(PREFACE + frame(SETTINGS, 0, 0) + post_headers("/store/t3", 1, end_headers=False))
                t0 = time.monotonic()
                while not closed(s):
                    self.assertLess(time.monotonic() - t0, CUT_BOUND_S, "header block kept open")
                    time.sleep(0.1)
            self.assertEqual(metric(srv, 'hkv_timeouts_total{kind="header"}'), 1)

    def test_slow_but_steady_h1_upload_succeeds(self):
        # 16 KiB at about 8 KB/s: longer than the body timeout, faster than the minimum rate.
        body = b"s" * 16384
        with self.srv.connect() as s:
            s.sendall(b"PUT /store/steady HTTP/1.1\r\nHost: hkv\r\nContent-Length: %d\r\n\r\n" % len(body))
            t0 = time.monotonic()
            for i in range(0, len(body), 400):
                s.sendall(body[i:i + 400])
                time.sleep(0.05)
            self.assertGreater(time.monotonic() - t0, TIMEOUT_S)
            s.settimeout(5)
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 201 "))

    def test_slow_but_steady_h2_upload_succeeds(self):
        body = b"s" * 16384
        with self.srv.connect() as s:
            s.sendall(PREFACE + frame(SETTINGS, 0, 0) + post_headers("/store/steady2", 1))
            t0 = time.monotonic()
            for i in range(0, len(body), 400):
                last = i + 400 >= len(body)
                s.sendall(frame(DATA, 0x1 if last else 0, 1, body[i:i + 400]))
                time.sleep(0.05)
            self.assertGreater(time.monotonic() - t0, TIMEOUT_S)
            s.settimeout(5)
            h2_answered(s, 1)
        c = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=5)
        c.request("GET", "/get/steady2")
        self.assertEqual(c.getresponse().read(), body)
        c.close()


if __name__ == "__main__":
    unittest.main()
