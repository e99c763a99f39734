# SPDX-License-Identifier: MIT
# Interoperability matrix: every real client from Debian (interop_clients.py) × every operation ×
# every value size × three kinds of key, against one real hkv. Each cell must give the right status,
# the exact bytes and the right headers within a bound. Cells a client cannot do are shown as
# such and not counted. The matrix is printed with clients as rows and sizes as columns.
import http.client
import os
import random
import shutil
import tempfile
import time
import unittest
import urllib.parse

from hkv_server import HkvServer, assert_clean_exit, require_tools
from interop_clients import ALL_OPS, Req, all_clients

MAX_VALUE = 1 << 20
SIZES = [0, 1, 16383, 16384, 16385, 65535, 65536, 65537, 262144, MAX_VALUE]
KEYS = ("plain", "encoded", "long")
OPS = ("GET", "HEAD", "POST", "PUT", "DELETE", "INM", "IFMATCH")


def key_of(client_index, op, size, kind):
    """(decoded key, path segment) of one cell: unique, so that cells never share a key."""
    base = f"c{client_index}-{op}-{size}-"
    if kind == "plain":
        key = base + "k"
    elif kind == "encoded":
        key = base + "a b/c%é"
    else:
        key = (base + "x" * 250)[:250]
    return key, urllib.parse.quote(key, safe="")


class Reference:
    """The test's own HTTP/1.1 connection, to set cells up and to check what they left."""

    def __init__(self, srv):
        self.srv = srv
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in (1, 2):  # the server closes a connection left idle while a slow client ran
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=20)
            try:
                self.conn.request(method, path, body=body, headers={"Content-Type": "application/octet-stream"})
                resp = self.conn.getresponse()
                return resp.status, resp.getheader("etag"), resp.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Cell:
    def __init__(self, client, op, size, kind, value, segment):
        self.client, self.op, self.size, self.kind = client, op, size, kind
        self.value, self.segment = value, segment
        self.etag = None
        self.failure = None

    def request(self):
        path = ("/store/" if self.op in ("POST", "PUT", "DELETE", "IFMATCH") else "/get/") + self.segment
        if self.op == "GET":
            return Req("GET", path)
        if self.op == "HEAD":
            return Req("HEAD", path)
        if self.op == "INM":
            return Req("GET", path, headers={"If-None-Match": self.etag})
        if self.op == "IFMATCH":
            return Req("PUT", path, self.value, {"If-Match": self.etag})
        if self.op == "DELETE":
            return Req("DELETE", path)
        return Req(self.op, path, self.value)


def expected_status(op):
    return {"GET": 200, "HEAD": 200, "POST": 201, "PUT": 201, "DELETE": 204, "INM": 304, "IFMATCH": 200}[op]


def check(cell, a, ref):
    """Returns what is wrong with the answer `a` to `cell`, or None."""
    if a.error:
        return a.error[:80]
    want = expected_status(cell.op)
    if a.status is None:
        if a.status_class != want // 100:
            return f"status {a.status_class}xx, expected {want}"
    elif a.status != want:
        return f"status {a.status}, expected {want}"
    h = a.headers
    if cell.op == "GET":
        if a.body is not None and a.body != cell.value:
            return f"body of {len(a.body)} bytes differs from the {cell.size} stored"
        if a.body is None and a.body_len is not None and a.body_len != cell.size:
            return f"{a.body_len} body bytes, expected {cell.size}"
        if h is not None and (h.get("content-type") != "application/octet-stream" or not h.get("etag")):
            return f"headers {h}"
    if cell.op == "HEAD":
        if a.body:
            return f"HEAD answered with {len(a.body)} body bytes"
        if h is not None and h.get("content-length") != str(cell.size):
            return f"content-length {h.get('content-length')}, expected {cell.size}"
    if cell.op == "INM":
        if a.body or (a.body_len or 0) > 0:
            return "304 with a body"
        if h is not None and h.get("etag") != cell.etag:
            return f"etag {h.get('etag')}, expected {cell.etag}"
    if cell.op in ("POST", "PUT", "IFMATCH"):
        if h is not None and not h.get("etag"):
            return "no etag on a write"
        status, _, stored = ref.call("GET", "/get/" + cell.segment)
        if (status, stored) != (200, cell.value):
            return f"stored {len(stored)} bytes (GET {status}), expected the {cell.size} sent"
    if cell.op == "DELETE" and ref.call("GET", "/get/" + cell.segment)[0] != 404:
        return "still there after DELETE"
    return None


class InteropMatrix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_tools("curl", "wget", "nghttp", "h2load", "node")
        cls.srv = HkvServer("--max-value-size", str(MAX_VALUE))
        cls.tmp = tempfile.mkdtemp(prefix="hkv-interop-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert_clean_exit(*cls.srv.stop())

    def cells_for(self, index, client, rng):
        cells = []
        for op in OPS:
            for size in SIZES:
                if not client.can(op, size):
                    continue
                for kind in KEYS:
                    _, segment = key_of(index, op, size, kind)
                    cells.append(Cell(client, op, size, kind, rng.randbytes(size), segment))
        return cells

    def set_up(self, cells, ref):
        for c in cells:
            if c.op in ("GET", "HEAD", "DELETE", "INM", "IFMATCH"):
                # what a cell finds: the value itself, or another value an If-Match write replaces
                stored = c.value if c.op != "IFMATCH" else b"old" + c.value[:10]
                status, c.etag, _ = ref.call("PUT", "/store/" + c.segment, stored)
                self.assertIn(status, (200, 201))

    def test_every_client_every_size(self):
        rng = random.Random(20)
        ref = Reference(self.srv)
        table, failures = [], []
        for index, client in enumerate(all_clients(self.srv.url, self.tmp)):
            if not client.available():
                require_tools(*client.tools) if client.tools else None
                self.fail(f"{client.name} is not installed")
            cells = self.cells_for(index, client, rng)
            self.set_up(cells, ref)
            started = time.monotonic()
            answers = client.run([c.request() for c in cells])
            took = time.monotonic() - started
            for c, a in zip(cells, answers):
                c.failure = check(c, a, ref)
                if c.failure:
                    failures.append(f"{client.name} {c.op} {c.size} B {c.kind} key: {c.failure}")
            # a bound that catches a hang: 2 s a cell plus 1 MB/s, far beyond any real client here
            bound = len(cells) * 2 + sum(c.size for c in cells) / 1e6
            if took > bound:
                failures.append(f"{client.name}: {len(cells)} cells took {took:.0f} s (bound {bound:.0f} s)")
            table.append((client, cells, took))
        print("\n" + render(table))
        self.assertEqual(failures, [], "\n".join(failures[:40]))


def render(table):
    """Rows are clients, columns sizes; a cell is ✓ when every operation and key passed."""
    head = "| client | " + " | ".join(str(s) for s in SIZES) + " | cells | s | what it cannot do |"
    lines = [head, "|---|" + "---:|" * len(SIZES) + "---:|---:|---|"]
    for client, cells, took in table:
        row = []
        for size in SIZES:
            bad = [c for c in cells if c.size == size and c.failure]
            row.append("✓" if not bad else f"✗ {bad[0].op} {bad[0].kind}: {bad[0].failure[:40]}")
        missing = ", ".join(op for op in OPS if op not in client.ops)
        lines.append(f"| {client.name} | " + " | ".join(row) +
                     f" | {len(cells)} | {took:.1f} | {client.note or '-'}{' (n/a: ' + missing + ')' if missing else ''} |")
    return "\n".join(lines)


if __name__ == "__main__":
    unittest.main()
