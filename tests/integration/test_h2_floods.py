# SPDX-License-Identifier: MIT
# HTTP/2 attacks performed for real over raw sockets: each abusive connection must end with GOAWAY
# (or a 431 for oversized header sections), its kind must be counted in /metrics, and the server
# must keep serving a well-behaved client meanwhile.
import socket
import time
import unittest

from hkv_server import HkvServer, assert_clean_exit, metric, rss_kib
from rawclients import (ACK, DATA, END_STREAM, GOAWAY, HEADERS, PING, PREFACE, RST_STREAM, SETTINGS, RawH2,
                        frame, get_request_frame)

CONTINUATION = 0x9
END_HEADERS = 0x4
CANCEL, ENHANCE_YOUR_CALM = 0x8, 0xB


def literal(name, value):
    """HPACK literal field without indexing, new name, no Huffman coding."""
    def string(b):
        if len(b) < 127:
            return bytes([len(b)]) + b
        n, out = len(b) - 127, bytearray([127])
        while n >= 128:
            out.append((n & 127) | 128)
            n >>= 7
        out.append(n)
        return bytes(out) + b
    return b"\x00" + string(name) + string(value)


def request_block(path, method=b"GET", extra=b""):
    return (literal(b":method", method) + literal(b":scheme", b"http") + literal(b":path", path.encode()) +
            literal(b":authority", b"hkv") + extra)


def drain_until_closed(h2, timeout=20.0):
    """Reads every frame until EOF; returns the set of frame types seen (GOAWAY code in h2.goaway)."""
    h2.sock.settimeout(timeout)
    seen = set()
    try:
        while (f := h2.read_frame()) is not None:
            seen.add(f[0])
    except socket.timeout as e:
        raise AssertionError("the server kept the abusive connection open") from e
    return seen


def send_until_closed(h2, data):
    """Sends `data` (the server may close mid-way: that is the defence working), then reads every
    frame until EOF; returns the set of frame types seen."""
    try:
        h2.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return drain_until_closed(h2)


class FloodTest(unittest.TestCase):
    SERVER_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.srv = HkvServer(*cls.SERVER_ARGS)
        status = cls.srv_store("k", b"v" * 100)
        assert status in (200, 201), status

    @classmethod
    def srv_store(cls, key, value):
        sock = socket.create_connection((cls.srv.host, cls.srv.port), timeout=10)
        sock.sendall(b"POST /store/%s HTTP/1.1\r\nHost: hkv\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                     % (key.encode(), len(value)) + value)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        return int(reply.split(b" ", 2)[1])

    @classmethod
    def tearDownClass(cls):
        assert_clean_exit(*cls.srv.stop())

    def assert_still_serving(self):
        h2 = RawH2(self.srv)
        try:
            status, body = h2.get("/get/k")
        finally:
            h2.close()
        self.assertEqual((status, body), (200, b"v" * 100))

    def flood_kind(self, kind):
        return metric(self.srv, f'hkv_h2_flood_goaways_total{{kind="{kind}"}}')

    def open_abusive(self, rcvbuf=None):
        h2 = RawH2(self.srv, rcvbuf=rcvbuf)
        h2.send(PREFACE + frame(SETTINGS, 0, 0))
        return h2


class DefaultLimitsTest(FloodTest):
    """The attacks against the default limits."""

    def test_rapid_reset_gets_goaway(self):
        # CVE-2023-44487: open a stream and cancel it at once, thousands of times.
        before = self.flood_kind("reset_flood")
        h2 = self.open_abusive()
        burst = b"".join(get_request_frame("/get/k", sid) + frame(RST_STREAM, 0, sid, CANCEL.to_bytes(4, "big"))
                         for sid in range(1, 2 * 3000, 2))
        seen = send_until_closed(h2, burst)
        self.assertIn(GOAWAY, seen)
        self.assertEqual(h2.goaway, ENHANCE_YOUR_CALM)
        self.assertEqual(self.flood_kind("reset_flood"), before + 1)
        self.assert_still_serving()

    def test_continuation_flood_gets_goaway(self):
        # CVE-2024-28182: a header block spread over endless CONTINUATION frames.
        before = self.flood_kind("continuation_flood")
        h2 = self.open_abusive()
        block = request_block("/get/k") + literal(b"x-pad", b"p" * 64) * 40
        pieces = [block[i:i + 8] for i in range(0, len(block), 8)]
        data = frame(HEADERS, END_STREAM, 1, pieces[0])
        data += b"".join(frame(CONTINUATION, 0, 1, p) for p in pieces[1:])
        send_until_closed(h2, data)
        self.assertEqual(self.flood_kind("continuation_flood"), before + 1)
        self.assert_still_serving()

    def test_empty_data_frames_get_goaway(self):
        # CVE-2019-9518: a POST whose body never comes, only empty DATA frames.
        before = self.flood_kind("bad_frames")
        h2 = self.open_abusive()
        data = frame(HEADERS, END_HEADERS, 1, request_block("/store/e", b"POST"))
        data += frame(DATA, 0, 1) * 500
        send_until_closed(h2, data)
        self.assertEqual(h2.goaway, ENHANCE_YOUR_CALM)
        self.assertEqual(self.flood_kind("bad_frames"), before + 1)
        self.assertEqual(self.srv_store("after-empty-frames", b"x"), 201)
        self.assert_still_serving()

    def test_too_many_settings_entries_get_goaway(self):
        before = self.flood_kind("settings_flood")
        h2 = RawH2(self.srv)
        entry = (0x3).to_bytes(2, "big") + (100).to_bytes(4, "big")
        h2.send(PREFACE + frame(SETTINGS, 0, 0, entry * 100))
        drain_until_closed(h2)
        self.assertEqual(self.flood_kind("settings_flood"), before + 1)
        self.assert_still_serving()

    def test_ping_flood_from_a_client_that_never_reads(self):
        # CVE-2019-9512: PINGs whose ACKs the client never reads pile up on the server.
        before = self.flood_kind("ack_flood")
        rss_before = rss_kib(self.srv.proc.pid)
        h2 = self.open_abusive(rcvbuf=4096)
        ping = frame(PING, 0, 0, b"12345678")
        h2.sock.settimeout(20)
        sent = 0
        try:
            for _ in range(100):
                h2.send(ping * 5000)
                sent += 5000
        except (BrokenPipeError, ConnectionResetError):
            pass
        except socket.timeout:
            self.fail(f"the server stopped reading after {sent} PINGs instead of closing")
        h2.close()
        deadline = time.time() + 10
        while self.flood_kind("ack_flood") != before + 1 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.flood_kind("ack_flood"), before + 1)
        self.assertLess(rss_kib(self.srv.proc.pid) - rss_before, 64 * 1024, "RSS grew by more than 64 MiB")
        self.assert_still_serving()

    def test_hpack_bomb_gets_431(self):
        # A 4 KiB field put in the HPACK table once, then referenced 1,000 times: 4 MB decoded
        # from 5 KB sent. The request is answered 431 and the connection goes on.
        h2 = self.open_abusive()
        bomb = b"\x40" + bytes([6]) + b"x-bomb" + b"\x7f" + bytes([(4000 - 127) & 127 | 128, (4000 - 127) >> 7]) + b"b" * 4000
        block = request_block("/get/k") + bomb + b"\xbe" * 1000  # 0xbe: indexed field 62, the newest entry
        h2.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block) + get_request_frame("/get/k", 3))
        statuses = {}
        h2.sock.settimeout(10)
        while len(statuses) < 2:
            f = h2.read_frame()
            self.assertIsNotNone(f, f"connection closed (GOAWAY {h2.goaway})")
            ftype, flags, sid, payload = f
            if ftype == SETTINGS and not flags & ACK:
                h2.send(frame(SETTINGS, ACK, 0))
            elif ftype == HEADERS:
                statuses[sid] = payload
        h2.close()
        # :status 431 is not in the HPACK static table: a literal with the static name index 8.
        self.assertIn(b"431", statuses[1])
        self.assertEqual(statuses[3][:1], b"\x88")  # :status 200, static index 8
        self.assert_still_serving()

    def test_zero_length_header_fields_get_goaway(self):
        # CVE-2019-9516: header fields with an empty name and value, on stream after stream. Each
        # such request is malformed (the server resets it), so the connection soon gets GOAWAY.
        h2 = self.open_abusive()
        block = request_block("/get/k") + b"\x00\x00\x00" * 100
        burst = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, sid, block) for sid in range(1, 2 * 500, 2))
        seen = send_until_closed(h2, burst)
        self.assertIn(GOAWAY, seen)
        self.assertEqual(h2.goaway, ENHANCE_YOUR_CALM)
        self.assert_still_serving()

    def test_data_dribble_keeps_memory_flat(self):
        # CVE-2019-9511: 100 streams ask for a 1 MB value each with a 1-byte window, then open it
        # a byte at a time. hkv lends the stored value to every stream instead of copying it, so
        # memory stays flat, and other clients are served meanwhile.
        self.assertIn(self.srv_store("dribble", b"d" * 1_000_000), (200, 201))
        rss_before = rss_kib(self.srv.proc.pid)
        h2 = RawH2(self.srv)
        window_1 = (0x4).to_bytes(2, "big") + (1).to_bytes(4, "big")  # SETTINGS_INITIAL_WINDOW_SIZE = 1
        h2.send(PREFACE + frame(SETTINGS, 0, 0, window_1) +
                b"".join(get_request_frame("/get/dribble", sid) for sid in range(1, 200, 2)))
        for _ in range(20):
            h2.send(b"".join(frame(0x8, 0, sid, (1).to_bytes(4, "big")) for sid in [0, *range(1, 200, 2)]))
            time.sleep(0.02)
        grown_mib = (rss_kib(self.srv.proc.pid) - rss_before) / 1024
        self.assertLess(grown_mib, 32, f"RSS grew by {grown_mib:.0f} MiB")
        t0 = time.monotonic()
        self.assert_still_serving()
        self.assertLess(time.monotonic() - t0, 5.0, "others must not wait on the dribbling connection")
        h2.close()

    def test_too_many_header_fields_get_431(self):
        h2 = self.open_abusive()
        block = request_block("/get/k", extra=b"".join(literal(b"x-f%d" % i, b"1") for i in range(150)))
        h2.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        h2.sock.settimeout(10)
        while True:
            f = h2.read_frame()
            self.assertIsNotNone(f)
            if f[0] == HEADERS and f[2] == 1:
                self.assertIn(b"431", f[3])
                break
        h2.close()


class IsolatedLimitsTest(FloodTest):
    """One limit at a time, with the others out of the way, to show each is counted for itself."""
    SERVER_ARGS = ("--h2-reset-burst", "50", "--h2-reset-rate", "10", "--h2-max-bad-frames", "1000000")

    def test_made_you_reset_counts_the_resets_the_server_sends(self):
        # CVE-2025-8671: the client never sends RST_STREAM; it sends malformed requests (an
        # upper-case field name) that make the server reset each stream itself.
        before = self.flood_kind("reset_flood")
        h2 = self.open_abusive()
        block = request_block("/get/k", extra=literal(b"X-Upper", b"1"))
        burst = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, sid, block) for sid in range(1, 2 * 200, 2))
        seen = send_until_closed(h2, burst)
        self.assertIn(RST_STREAM, seen, "the server should have reset streams")
        self.assertEqual(h2.goaway, ENHANCE_YOUR_CALM)
        self.assertEqual(self.flood_kind("reset_flood"), before + 1)
        self.assert_still_serving()

    def test_resets_within_the_rate_are_allowed(self):
        # 40 cancelled streams, under the burst of 50: the connection stays usable.
        h2 = self.open_abusive()
        h2.send(b"".join(get_request_frame("/get/k", sid) + frame(RST_STREAM, 0, sid, CANCEL.to_bytes(4, "big"))
                         for sid in range(1, 80, 2)))
        h2.send(get_request_frame("/get/k", 101))
        h2.sock.settimeout(10)
        while True:
            f = h2.read_frame()
            self.assertIsNotNone(f, f"closed (GOAWAY {h2.goaway})")
            if f[0] == SETTINGS and not f[1] & ACK:
                h2.send(frame(SETTINGS, ACK, 0))
            if f[0] == DATA and f[2] == 101:
                self.assertEqual(f[3], b"v" * 100)
                break
        h2.close()
        self.assertIsNone(h2.goaway)


class GuardThenProtocolErrorTest(FloodTest):
    SERVER_ARGS = ("--h2-max-bad-frames", "2")

    def test_a_frame_error_after_the_guard_tripped_does_not_crash(self):
        # Found by fuzz_h2: empty DATA frames past the limit, then a zero-length PRIORITY (a
        # FRAME_SIZE_ERROR). When the guard asked nghttp2 to terminate from inside a callback,
        # nghttp2 parsed on and aborted on an assertion, taking the server down.
        h2 = self.open_abusive()
        data = frame(HEADERS, END_HEADERS, 1, request_block("/store/e", b"POST"))
        data += frame(DATA, 0, 1) * 3 + frame(0x2, 0, 1)
        h2.send(data)
        drain_until_closed(h2)
        self.assertEqual(h2.goaway, ENHANCE_YOUR_CALM)
        self.assertIsNone(self.srv.proc.poll(), "the server died")
        self.assert_still_serving()


if __name__ == "__main__":
    unittest.main()
