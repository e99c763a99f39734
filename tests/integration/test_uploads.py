# SPDX-License-Identifier: MIT
# Request bodies through every way of sending one (HTTP/1.1 with Content-Length or chunked, HTTP/2
# with or without content-length, the h2c upgrade) at sizes around the point where hkv reads a
# body straight into the value it stores: each value must read back byte for byte with the same
# ETag, and a write that is refused or cut off must store nothing and keep no memory.
import http.client
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from hkv_server import HkvServer, ServerTestCase, assert_clean_exit, freshness_left, metric, require_tools
from rawclients import ACK, DATA, END_STREAM, HEADERS, PREFACE, SETTINGS, WINDOW_UPDATE, RawH2, frame

SIZES = [0, 1, 1023, 1024, 1025, 65536, 1 << 20]


def h2_status(block):
    """:status of the first response header block on a connection, as nghttp2 writes it: an
    indexed static entry, or a literal with the indexed name :status (index 8) and a 3-digit
    value, plain or Huffman-coded (RFC 7541 Appendix B: 0-2 take 5 bits, 3-9 take 6)."""
    statics = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}
    if block[0] in statics:
        return statics[block[0]]
    assert block[0] in (0x08, 0x48), f"unexpected :status encoding {block[:4].hex()}"
    length, value = block[1] & 0x7F, block[2:2 + (block[1] & 0x7F)]
    if not block[1] & 0x80:
        return int(value)
    bits = "".join(f"{b:08b}" for b in value)
    digits, i = "", 0
    while len(digits) < 3:
        if bits[i:i + 5] in ("00000", "00001", "00010"):
            digits += str(int(bits[i:i + 5], 2))
            i += 5
        else:
            digits += str(int(bits[i:i + 6], 2) - 0b011001 + 3)
            i += 6
    assert length == len(value)
    return int(digits)


def h2_post_without_length(srv, path, body):
    """POST over h2c prior knowledge with no content-length field, the body in 16 KiB DATA frames.
    Returns the :status."""
    fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", path.encode()), (b":authority", b"hkv")]
    block = b"".join(b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v for n, v in fields)
    h2 = RawH2(srv)
    try:
        chunks = [body[i:i + 16384] for i in range(0, len(body), 16384)] or [b""]
        frames = [frame(DATA, END_STREAM if i == len(chunks) - 1 else 0, 1, c) for i, c in enumerate(chunks)]
        # The body goes once the server's windows (1 MiB a stream, 16 MiB the connection) are open:
        # its SETTINGS acknowledged, its WINDOW_UPDATE seen.
        h2.send(PREFACE + frame(SETTINGS, 0, 0))
        seen = set()
        while seen != {SETTINGS, WINDOW_UPDATE}:
            ftype, flags, _, _ = h2.read_frame()
            if ftype == SETTINGS and not flags & ACK or ftype == WINDOW_UPDATE:
                seen.add(ftype)
        h2.send(frame(SETTINGS, ACK, 0) + frame(HEADERS, 0x4, 1, block) + b"".join(frames))
        while (f := h2.read_frame()) is not None:
            ftype, _, sid, payload = f
            if ftype == HEADERS and sid == 1:
                return h2_status(payload)
        raise AssertionError("no response on stream 1")
    finally:
        h2.close()


class UploadWays(ServerTestCase):
    SERVER_ARGS = ("--max-value-size", str(2 << 20))
    TMP_PREFIX = "hkv-uploads-"

    @classmethod
    def setUpClass(cls):
        require_tools("curl")
        super().setUpClass()
        rng = random.Random(15)
        cls.values = {n: rng.randbytes(n) for n in SIZES}

    def curl_post(self, mode, key, body):
        path = os.path.join(self.tmp, key)
        with open(path, "wb") as f:
            f.write(body)
        p = subprocess.run(["curl", "-sS", "--max-time", "30", mode, "-o", "/dev/null", "-w", "%{http_code}",
                            "-X", "POST", "-H", "Content-Type:", "--data-binary", "@" + path,
                            f"{self.srv.url}/store/{key}"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return int(p.stdout)

    def ways(self):
        """(name, function(key, body) -> status) for every way of sending a body."""
        def h1_length(key, body):
            return self.request("POST", f"/store/{key}", body=body)[0]

        def h1_chunked(key, body):
            chunks = (body[i:i + 4000] for i in range(0, len(body), 4000))
            conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
            try:
                conn.request("POST", f"/store/{key}", body=chunks, encode_chunked=True,
                             headers={"Transfer-Encoding": "chunked"})
                resp = conn.getresponse()
                resp.read()
                return resp.status
            finally:
                conn.close()

        return [("h1-length", h1_length), ("h1-chunked", h1_chunked),
                ("h2-length", lambda k, b: self.curl_post("--http2-prior-knowledge", k, b)),
                ("h2-no-length", lambda k, b: h2_post_without_length(self.srv, f"/store/{k}", b)),
                ("h2c-upgrade", lambda k, b: self.curl_post("--http2", k, b))]

    def test_every_way_at_every_size_reads_back_with_one_etag(self):
        for size in SIZES:
            value = self.values[size]
            etags = {}
            for name, post in self.ways():
                key = f"{name}-{size}"
                self.assertIn(post(key, value), (200, 201), f"{name}, {size} bytes")
                status, headers, body = self.request("GET", f"/get/{key}")
                self.assertEqual(status, 200, f"{name}, {size} bytes")
                self.assertTrue(body == value, f"{name}, {size} bytes: read back other bytes")
                etags[name] = headers["etag"]
            self.assertEqual(len(set(etags.values())), 1, f"{size} bytes: ETags differ by way: {etags}")

    def test_replacing_with_a_ttl_keeps_the_ttl(self):
        value = self.values[65536]
        for name, post in self.ways():
            key = f"ttl-{name}"
            self.assertIn(post(key + "?ttl=100", value), (200, 201), name)
            status, headers, body = self.request("GET", f"/get/{key}")
            self.assertEqual(status, 200, name)
            self.assertTrue(body == value, name)
            self.assertTrue(95 <= freshness_left(headers) <= 100, (name, headers["cache-control"], headers.get("age")))


class RefusedUploads(ServerTestCase):
    """Writes refused after their body was announced, and bodies cut off: nothing is stored, and
    the memory /metrics counts comes back to what it was."""
    SERVER_ARGS = ("--max-value-size", str(1 << 20))

    def used(self):
        return metric(self.srv, "hkv_memory_used_bytes")

    def test_refusals_store_nothing(self):
        old = os.urandom(4096)
        self.assertEqual(self.request("POST", "/store/kept", body=old)[0], 201)
        etag = self.request("GET", "/get/kept")[1]["etag"]
        before = self.used()
        big = os.urandom(200000)
        cases = [
            ("stale If-Match", "/store/kept", {"If-Match": '"AAAAAAAAAAA"'}, 412),
            ("bad ttl", "/store/kept?ttl=soon", {}, 400),
            ("Content-Type over 255 bytes", "/store/kept", {"Content-Type": "a/" + "b" * 300}, 400),
            ("over --max-value-size", "/store/huge", {}, 413),
        ]
        for what, path, headers, want in cases:
            body = big if want != 413 else os.urandom((1 << 20) + 1)
            self.assertEqual(self.request("POST", path, body=body, headers=headers)[0], want, what)
            got = self.request("GET", "/get/kept")
            self.assertEqual((got[0], got[1]["etag"]), (200, etag), what)
            self.assertTrue(got[2] == old, what)
        self.assertEqual(self.request("GET", "/get/huge")[0], 404)
        self.assertEqual(self.used(), before)

    def test_body_cut_off_stores_nothing_and_keeps_no_memory(self):
        before = self.used()
        for n in (1024, 70000, 600000):
            with socket.create_connection((self.srv.host, self.srv.port), timeout=10) as s:
                s.sendall(b"POST /store/cut HTTP/1.1\r\nHost: hkv\r\nContent-Length: %d\r\n\r\n" % n)
                s.sendall(os.urandom(n // 2))
                time.sleep(0.05)
            h2 = RawH2(self.srv)
            try:
                fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/store/cut"),
                          (b":authority", b"hkv"), (b"content-length", str(n).encode())]
                block = b"".join(b"\x00" + bytes([len(k)]) + k + bytes([len(v)]) + v for k, v in fields)
                h2.send(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, 0x4, 1, block) +
                        frame(DATA, 0, 1, os.urandom(min(n // 2, 16384))))
                time.sleep(0.05)
            finally:
                h2.close()
        time.sleep(0.2)
        self.assertEqual(self.request("GET", "/get/cut")[0], 404)
        self.assertEqual(self.used(), before)


class UploadsWithAuth(unittest.TestCase):
    """A large write without the token is refused before its body is kept anywhere."""

    def test_unauthorised_large_write_stores_nothing(self):
        tmp = tempfile.mkdtemp(prefix="hkv-uploads-auth-")
        token = os.path.join(tmp, "token")
        with open(token, "w") as f:
            f.write("s3cret\n")
        srv = HkvServer("--auth-token-file", token)
        try:
            body = os.urandom(100000)
            conn_args = (srv.host, srv.port)
            with socket.create_connection(conn_args, timeout=10) as s:
                s.sendall(b"POST /store/k HTTP/1.1\r\nHost: hkv\r\nConnection: close\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
            self.assertTrue(reply.startswith(b"HTTP/1.1 401 "), reply[:100])
            with socket.create_connection(conn_args, timeout=10) as s:
                s.sendall(b"GET /get/k HTTP/1.1\r\nHost: hkv\r\nConnection: close\r\n"
                          b"Authorization: Bearer s3cret\r\n\r\n")
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
            self.assertTrue(reply.startswith(b"HTTP/1.1 404 "), reply[:100])
        finally:
            code, log = srv.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        assert_clean_exit(code, log)


if __name__ == "__main__":
    unittest.main()
