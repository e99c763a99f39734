# SPDX-License-Identifier: MIT
# Every value size against every number of concurrent requests, over every kind of client: h2load,
# nghttp, a raw h2c client with tiny windows opened little by little, a raw client that reads
# slowly, and HTTP/1.1 pipelining. Every response must arrive whole, byte for byte, within a time
# bound that grows with the bytes asked for (an h2c connection once hung for good past 2 MiB).
import random
import re
import socket
import subprocess
import time
import unittest

from hkv_server import HkvServer, ServerTestCase, require_tools
from rawclients import MAX_WINDOW, H2Streams

KIB, MIB = 1 << 10, 1 << 20
MAX_VALUE = 2 * MIB  # the server's --max-value-size, a size of its own in the matrix
SIZES = [0, 1, 16383, 16384, 16385, 65535, 65536, 128 * KIB, 256 * KIB, MIB, MAX_VALUE]
STREAMS = [1, 2, 3, 8, 10, 100]


def bound(total_bytes):
    """Seconds a combination may take: a fixed start plus 20 MB/s, slow enough for ASan and Python."""
    return 10.0 + total_bytes / 20e6


def key(size):
    return f"v{size}"


class SizesMatrix(ServerTestCase):
    # One worker: every stream of a connection and every connection share one loop, as in the report.
    SERVER_ARGS = ("--max-value-size", str(MAX_VALUE))

    @classmethod
    def setUpClass(cls):
        require_tools("h2load", "nghttp")
        cls.srv = HkvServer(*cls.SERVER_ARGS, threads=1)
        rng = random.Random(18)
        cls.values = {size: rng.randbytes(size) for size in SIZES}
        for size, value in cls.values.items():
            status, _, _ = cls.request(cls, "PUT", "/store/" + key(size), body=value)
            assert status in (200, 201), status

    def combinations(self):
        for size in SIZES:
            for streams in STREAMS:
                yield size, streams

    def url(self, size, i=None):
        return f"{self.srv.url}/get/{key(size)}" + ("" if i is None else f"?i={i}")

    def test_h2load(self):
        for size, streams in self.combinations():
            n = 2 * streams  # a second wave reuses the connection once the first streams end
            with self.subTest(size=size, streams=streams):
                limit = bound(n * size)
                start = time.monotonic()
                out = subprocess.run(["h2load", "-c", "1", "-m", str(streams), "-n", str(n), "-T", str(int(limit)),
                                      self.url(size)], capture_output=True, text=True, timeout=limit + 5).stdout
                self.assertIn(f"{n} succeeded, 0 failed, 0 errored, 0 timeout", out)
                self.assertIn(f"status codes: {n} 2xx", out)
                data = re.search(r"\((\d+)\) data", out)
                self.assertEqual(int(data.group(1)), n * size, out)
                self.assertLess(time.monotonic() - start, limit)

    def test_nghttp(self):
        frame_re = re.compile(r"recv (DATA|HEADERS) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>")
        for size, streams in self.combinations():
            with self.subTest(size=size, streams=streams):
                limit = bound(streams * size)
                start = time.monotonic()
                urls = [self.url(size, i) for i in range(streams)]
                proc = subprocess.run(["nghttp", "-nv", "-t", str(int(limit)), *urls], capture_output=True,
                                      text=True, timeout=limit + 5)
                self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
                got, ended = {}, set()
                for kind, length, flags, sid in frame_re.findall(proc.stdout):
                    if kind == "DATA":
                        got[sid] = got.get(sid, 0) + int(length)
                    if int(flags, 16) & 0x1:
                        ended.add(sid)
                self.assertEqual(len(ended), streams)
                self.assertEqual(proc.stdout.count(":status: 200"), streams)
                self.assertEqual(sum(got.values()), streams * size)
                self.assertTrue(all(v == size for v in got.values()), got)
                self.assertLess(time.monotonic() - start, limit)

    def raw_matrix(self, **client):
        for size, streams in self.combinations():
            with self.subTest(size=size, streams=streams, **client):
                limit = bound(streams * size)
                c = H2Streams(self.srv, **client)
                try:
                    answers = c.get_all([f"/get/{key(size)}?i={i}" for i in range(streams)], limit)
                finally:
                    c.close()
                for status, body in answers.values():
                    self.assertEqual(status, 200)
                    self.assertEqual(len(body), size)
                    self.assertTrue(body == self.values[size], "body bytes differ from the stored value")

    def test_small_windows_opened_little_by_little(self):
        for window in (1, 100, 65535):
            self.raw_matrix(window=window)

    def test_slow_reader(self):
        # A small receive buffer and 4 KiB reads with pauses: the server's writes block and it must
        # resume on EPOLLOUT. The windows are wide open, so only the socket holds it back.
        self.raw_matrix(window=MAX_WINDOW, rcvbuf=16 * KIB, slow_bytes=256 * KIB)

    def test_h1_pipelining(self):
        for size, streams in self.combinations():
            with self.subTest(size=size, pipelined=streams):
                limit = bound(streams * size)
                deadline = time.monotonic() + limit
                with socket.create_connection((self.srv.host, self.srv.port), timeout=limit) as s:
                    s.sendall(f"GET /get/{key(size)} HTTP/1.1\r\nHost: hkv\r\n\r\n".encode() * streams)
                    f = s.makefile("rb")
                    for _ in range(streams):
                        s.settimeout(max(0.1, deadline - time.monotonic()))
                        status_line = f.readline()
                        self.assertTrue(status_line.startswith(b"HTTP/1.1 200 "), status_line)
                        length = None
                        while (line := f.readline()) not in (b"\r\n", b""):
                            name, _, value = line.partition(b":")
                            if name.lower() == b"content-length":
                                length = int(value)
                        self.assertEqual(length, size)
                        self.assertTrue(f.read(length) == self.values[size], "body bytes differ")
                self.assertLess(time.monotonic() - deadline, 0)


if __name__ == "__main__":
    unittest.main()
