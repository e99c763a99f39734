# SPDX-License-Identifier: MIT
# Malformed requests over raw sockets, HTTP/1.x and HTTP/2, one case per line of
# malformed_cases.txt (its header documents the columns and the byte notation). Each case runs on
# a fresh connection; after each, hkv must be alive and serve a keep-alive and a fresh connection.
import os
import re
import socket
import time
import unittest

from hkv_server import ServerTestCase
from rawclients import PREFACE, frame

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "malformed_cases.txt")
GET = b"GET / HTTP/1.1\r\nHost: hkv\r\n\r\n"
HELLO = b"Hello, World!"

FRAME_TYPES = {"DATA": 0, "HEADERS": 1, "PRIORITY": 2, "RST_STREAM": 3, "SETTINGS": 4, "PUSH_PROMISE": 5,
               "PING": 6, "GOAWAY": 7, "WINDOW_UPDATE": 8, "CONTINUATION": 9}
FLAGS = {"ES": 0x1, "ACK": 0x1, "EH": 0x4, "PAD": 0x8, "PRI": 0x20}
ERROR_CODES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
               "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
               "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
# HPACK static table entries for :status (RFC 7541 Appendix A).
STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}
# HPACK Huffman codes of the digits (RFC 7541 Appendix B), enough to read a literal :status.
HUFFMAN_DIGITS = {"00000": "0", "00001": "1", "00010": "2", "011001": "3", "011010": "4",
                  "011011": "5", "011100": "6", "011101": "7", "011110": "8", "011111": "9"}
ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "s": b" ", "\\": b"\\", "{": b"{", "}": b"}",
           "*": b"*"}
PAUSE, EOF = "pause", "eof"


# --- the byte notation -------------------------------------------------------------------------

class Notation:
    """Expands one request column into a list of pieces: bytes, PAUSE or EOF. Tracks the client
    stream ids that `n` allocates, so a keep-alive check can open the next one."""

    def __init__(self):
        self.last_sid = 0

    def expand(self, text):
        pieces, i = [], 0
        while i < len(text):
            c = text[i]
            if c == "\\":
                if text[i + 1] == "x":
                    pieces.append(bytes([int(text[i + 2:i + 4], 16)]))
                    i += 4
                    continue
                pieces.append(ESCAPES[text[i + 1]])
                i += 2
            elif c == "{":
                end = matching_brace(text, i)
                pieces.extend(self.call(text[i + 1:end]))
                i = end + 1
            else:
                pieces.append(c.encode("latin-1"))
                i += 1
        return merge(pieces)

    def expand_bytes(self, text):
        pieces = self.expand(text)
        if any(not isinstance(p, bytes) for p in pieces):
            raise ValueError("{pause} and {eof} cannot be repeated or framed: " + text)
        return b"".join(pieces)

    def call(self, inner):
        m = re.fullmatch(r"(.*)\*(\d+)", inner, re.S)
        if m:
            return [self.expand_bytes(m.group(1)) for _ in range(int(m.group(2)))]
        word, _, rest = inner.partition(" ")
        if word in (PAUSE, EOF):
            return [word]
        if word == "magic":
            return [PREFACE]
        if word == "preface":
            return [PREFACE + frame(4, 0, 0)]
        if word in ("u8", "u16", "u24", "u32"):
            return [int(rest, 0).to_bytes(int(word[1:]) // 8, "big")]
        if word == "hdr":
            name, _, value = rest.partition(" ")
            return [literal(self.expand_bytes(name), self.expand_bytes(value))]
        if word == "req":
            method, _, path = rest.partition(" ")
            return [b"".join(literal(n, self.expand_bytes(v)) for n, v in
                             ((b":method", method), (b":scheme", "http"), (b":path", path),
                              (b":authority", "hkv")))]
        if word in FRAME_TYPES or word.isdigit():
            flags, sid, payload = (rest.split(" ", 2) + [""])[:3]
            ftype = FRAME_TYPES[word] if word in FRAME_TYPES else int(word)
            return [frame(ftype, self.flags(flags), self.sid(sid), self.expand_bytes(payload))]
        raise ValueError("unknown {%s}" % inner)

    @staticmethod
    def flags(text):
        return sum(FLAGS[f] if f in FLAGS else int(f, 0) for f in text.split("+"))

    def sid(self, text):
        if text == "n":
            self.last_sid += 2 if self.last_sid else 1
            return self.last_sid
        if text == "c":
            return self.last_sid
        return int(text)


def matching_brace(text, start):
    depth, i = 0, start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
        i += 1
    raise ValueError("unbalanced { in " + text)


def merge(pieces):
    out = []
    for p in pieces:
        if isinstance(p, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += p
        else:
            out.append(p)
    return out


def hpack_int(n, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([first | n])
    out, n = bytearray([first | limit]), n - limit
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    return bytes(out + bytes([n]))


def literal(name, value):
    """HPACK literal header field without indexing, new name, no Huffman coding."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


# --- the table ---------------------------------------------------------------------------------

class Case:
    def __init__(self, line, lineno):
        fields = line.split(None, 4)
        if len(fields) != 5:
            raise ValueError(f"{TABLE}:{lineno}: five columns expected: {line!r}")
        self.name, expect, self.conn, self.status, self.request = fields
        self.lineno = lineno
        self.expect = [] if expect == "-" else [set(e.split("/")) for e in expect.split(",")]
        if self.conn not in ("close", "keep", "any"):
            raise ValueError(f"{TABLE}:{lineno}: conn must be close, keep or any: {self.conn}")
        if self.status != "ok" and not self.status.startswith("xfail:"):
            raise ValueError(f"{TABLE}:{lineno}: status must be ok or xfail:<reason>: {self.status}")
        self.notation = Notation()
        self.pieces = self.notation.expand(self.request)


def load_cases():
    cases = []
    with open(TABLE, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                cases.append(Case(line, lineno))
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError("duplicate case names: %s" % sorted(dupes))
    return cases


# --- reading what hkv answers --------------------------------------------------------------------

class Reply:
    """What came back on one connection, parsed as it arrives: HTTP/1.x responses until a 101,
    HTTP/2 frames after it (or from the start when the first bytes are not HTTP/1.x). `events` are
    what the table's expect column names: '400', 'goaway:CODE', 'rst:SID:CODE'."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.h2 = False
        self.events = []
        self.h1_responses = []  # (status, headers, body)
        self.h2_status = {}     # stream id -> :status
        self.ended = None       # 'eof', 'reset' or None while open

    def read(self, until, timeout):
        """Reads until until(self) holds or the connection ends; returns False on timeout."""
        deadline = time.monotonic() + timeout
        while not until(self):
            if self.ended:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                self.ended = "reset"
                continue
            if not chunk:
                self.ended = "eof"
                continue
            self.buf += chunk
            self.parse()
        return True

    def parse(self):
        while self.buf:
            if not self.h2 and not self.h1_responses and not b"HTTP/1.".startswith(self.buf[:7]):
                self.h2 = True  # prior knowledge: frames from the first byte
            if not (self.parse_frame() if self.h2 else self.parse_h1()):
                return

    def parse_h1(self):
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        lines = head.decode("latin-1").split("\r\n")
        version, status, _ = (lines[0] + "  ").split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise AssertionError("not an HTTP/1.x response: %r" % self.buf[:200])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status)
        length = 0 if status < 200 or status in (204, 304) else int(headers.get("content-length", "0"))
        if len(rest) < length:
            return False
        self.buf = rest[length:]
        self.h1_responses.append((status, headers, rest[:length]))
        self.events.append(str(status))
        self.h2 = status == 101
        return True

    def parse_frame(self):
        if len(self.buf) < 9:
            return False
        length = int.from_bytes(self.buf[:3], "big")
        if len(self.buf) < 9 + length:
            return False
        ftype, sid, payload = self.buf[3], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF, self.buf[9:9 + length]
        flags = self.buf[4]
        self.buf = self.buf[9 + length:]
        if ftype == 7:
            self.events.append("goaway:" + error_name(int.from_bytes(payload[4:8], "big")))
        elif ftype == 3:
            self.events.append("rst:%d:%s" % (sid, error_name(int.from_bytes(payload[:4], "big"))))
        elif ftype == 1 and sid not in self.h2_status:
            if flags & 0x8:  # PADDED
                payload = payload[1:len(payload) - payload[0]]
            if flags & 0x20:  # PRIORITY
                payload = payload[5:]
            self.h2_status[sid] = response_status(payload)
            self.events.append(self.h2_status[sid])
        return True


def error_name(code):
    return ERROR_CODES[code] if code < len(ERROR_CODES) else "0x%x" % code


def response_status(block):
    """The :status of a response header block that starts with it, as hkv's nghttp2 writes it:
    indexed from the static table, or a literal with an indexed name (Huffman-coded or not)."""
    if block[0] & 0x80:
        return str(STATIC_STATUS.get(block[0] & 0x7F, "?"))
    huffman, n = block[1] & 0x80, block[1] & 0x7F
    value = block[2:2 + n]
    if not huffman:
        return value.decode("latin-1")
    bits, out, code = "".join(f"{b:08b}" for b in value), "", ""
    for bit in bits:
        code += bit
        if code in HUFFMAN_DIGITS:
            out, code = out + HUFFMAN_DIGITS[code], ""
    return out


def matches(expected, events, ordered):
    """`expected` (sets of alternatives) against the events: in order for HTTP/1.x, as a multiset
    for HTTP/2. A '*' entry lets any other events come too (floods answered by many resets)."""
    if {"*"} in expected:
        expected = [e for e in expected if e != {"*"}]
        return all(any(e in alts for e in events) for alts in expected)
    if len(expected) != len(events):
        return False
    if ordered:
        return all(e in alts for alts, e in zip(expected, events))
    left = list(events)
    for alts in expected:
        hit = next((e for e in left if e in alts), None)
        if hit is None:
            return False
        left.remove(hit)
    return True


# --- the test ----------------------------------------------------------------------------------

class MalformedTest(ServerTestCase):
    SERVER_ARGS = ("--max-value-size", "1000")
    TIMEOUT = 3.0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Opened before any bad request; must keep working on keep-alive throughout.
        cls.keeper = cls.srv.connect(timeout=5)

    @classmethod
    def tearDownClass(cls):
        cls.keeper.close()
        super().tearDownClass()

    def assertServerFine(self):
        self.assertTrue(self.srv.alive(), "hkv died")
        self.keeper.sendall(GET)
        reply = Reply(self.keeper)
        reply.read(lambda r: r.h1_responses, self.TIMEOUT)
        self.assertEqual([(s, b) for s, _, b in reply.h1_responses], [(200, HELLO)],
                         "earlier keep-alive connection broken")
        with self.srv.connect(timeout=5) as fresh:
            fresh.sendall(GET)
            reply = Reply(fresh)
            reply.read(lambda r: r.h1_responses, self.TIMEOUT)
        self.assertEqual([(s, b) for s, _, b in reply.h1_responses], [(200, HELLO)],
                         "fresh connection not served")

    def run_case(self, case):
        sock = self.srv.connect(timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            reply = Reply(sock)
            self.send(sock, case.pieces)
            self.check(case, reply)
        finally:
            sock.close()
            self.assertServerFine()

    @staticmethod
    def send(sock, pieces):
        for p in pieces:
            try:
                if p == PAUSE:
                    time.sleep(0.1)
                elif p == EOF:
                    sock.shutdown(socket.SHUT_WR)
                else:
                    sock.sendall(p)
            except (BrokenPipeError, ConnectionResetError):
                return  # hkv may answer and close before reading it all; the answer is what counts

    def check(self, case, reply):
        where = f"{case.name} ({os.path.basename(TABLE)}:{case.lineno})"
        if case.conn == "keep":
            reply.read(lambda r: len(r.events) >= len(case.expect), self.TIMEOUT)
        elif case.conn == "any":
            reply.read(lambda r: len(r.events) >= len(case.expect) and r.events, self.TIMEOUT)
        else:
            closed = reply.read(lambda r: False, self.TIMEOUT)
            self.assertTrue(closed or reply.ended, f"{where}: connection left open; got {reply.events}")
        got = reply.events
        self.assertTrue(matches(case.expect, got, ordered=not reply.h2),
                        f"{where}: expected {self.expect_text(case)}, got {got} "
                        f"(connection {reply.ended or 'open'}); first bytes {reply.buf[:120]!r}")
        for status, headers, body in reply.h1_responses:
            if status >= 400:  # hkv's error answers say what was wrong, in text
                self.assertTrue(headers.get("content-type", "").startswith("text/plain"), (where, headers))
                self.assertTrue(body.strip(), f"{where}: {status} without a body saying what was wrong")
                if case.conn == "close":
                    self.assertEqual(headers.get("connection", "").lower(), "close", (where, headers))
        if case.conn == "keep":
            self.assertIsNone(reply.ended, f"{where}: connection closed, expected it kept open")
            self.check_still_usable(where, case, reply)

    @staticmethod
    def expect_text(case):
        return ",".join("/".join(sorted(alts)) for alts in case.expect) or "-"

    def check_still_usable(self, where, case, reply):
        """A keep-alive connection must answer one more request after the case's answers."""
        before = len(reply.events)
        if reply.h2:
            sid = max(case.notation.last_sid + 2, 101)
            reply.sock.sendall(frame(1, 0x5, sid, b"".join(literal(n, v) for n, v in (
                (b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"hkv")))))
            reply.read(lambda r: sid in r.h2_status, self.TIMEOUT)
            self.assertEqual(reply.h2_status.get(sid), "200", f"{where}: follow-up stream not served: "
                                                               f"{reply.events[before:]}")
        else:
            reply.sock.sendall(GET)
            reply.read(lambda r: len(r.events) > before, self.TIMEOUT)
            self.assertEqual(reply.events[before:], ["200"], f"{where}: follow-up GET not served")


def _make_test(case):
    def test(self):
        self.run_case(case)
    test.__doc__ = f"{case.name}: {MalformedTest.expect_text(case)} {case.conn}"
    return unittest.expectedFailure(test) if case.status.startswith("xfail:") else test


CASES = load_cases()
for _case in CASES:
    setattr(MalformedTest, "test_" + _case.name, _make_test(_case))


if __name__ == "__main__":
    unittest.main()
