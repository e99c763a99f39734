# SPDX-License-Identifier: MIT
# Snapshots through the real binary: 100,000 keys survive SIGTERM and a restart byte for byte
# (with content types and remaining TTLs); a truncated file stops the start unless
# --ignore-bad-snapshot; periodic snapshots bound what SIGKILL loses.
import os
import random
import re
import signal
import tempfile
import time
import unittest

from hkv_server import HkvServer, freshness_left, read_response

BATCH = 500


def pipelined(srv, requests):
    """Sends raw HTTP/1.1 requests in pipelined batches; returns the parsed responses in order."""
    responses = []
    with srv.connect(timeout=30) as s:
        f = s.makefile("rb")
        for i in range(0, len(requests), BATCH):
            s.sendall(b"".join(requests[i:i + BATCH]))
            for _ in requests[i:i + BATCH]:
                responses.append(read_response(f))
    return responses


def store_request(key, value, ctype=None, ttl=None):
    target = f"/store/{key}" + (f"?ttl={ttl}" if ttl else "")
    head = f"POST {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(value)}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return head.encode() + b"\r\n" + value


def get_request(key):
    return f"GET /get/{key} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


class SnapshotRestartTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "hkv.snap")

    def tearDown(self):
        self.dir.cleanup()

    def start(self, *args):
        return HkvServer("--snapshot", self.path, *args)

    def test_100k_keys_survive_sigterm_and_restart(self):
        rng = random.Random(7)
        keys = [f"k{i:06d}" for i in range(100_000)]
        values = {k: rng.randbytes(rng.randrange(0, 300)) for k in keys}
        ctypes = {k: "application/json" for k in keys[::10]}
        ttls = {k: 3600 for k in keys[5::10]}
        srv = self.start()
        try:
            rs = pipelined(srv, [store_request(k, values[k], ctypes.get(k), ttls.get(k)) for k in keys])
            self.assertEqual(sum(1 for r in rs if r[0] == 201), len(keys))
        finally:
            code, log = srv.stop(signal.SIGTERM)
        self.assertEqual(code, 0, log)
        self.assertRegex(log, r"shutdown snapshot written to .*: 100000 keys")

        srv = self.start()
        try:
            self.assertRegex(srv.log.decode(), r"loaded snapshot .*: 100000 keys")
            rs = pipelined(srv, [get_request(k) for k in keys])
        finally:
            code, log = srv.stop()
        self.assertEqual(code, 0, log)
        wrong = [k for k, r in zip(keys, rs) if r[0] != 200 or r[2] != values[k]]
        self.assertEqual(wrong, [], f"{len(wrong)} keys missing or changed")
        for k, r in zip(keys, rs):
            self.assertEqual(r[1]["content-type"], ctypes.get(k, "application/octet-stream"), k)
            if k in ttls:
                left = freshness_left(r[1])
                self.assertTrue(3500 <= left <= 3600, (k, r[1]["cache-control"], r[1].get("age")))
            else:
                self.assertEqual(r[1]["cache-control"], "no-cache", k)

    def test_truncated_snapshot_refuses_to_start_unless_ignored(self):
        srv = self.start()
        try:
            rs = pipelined(srv, [store_request(f"t{i}", b"v" * 100) for i in range(1000)])
            self.assertTrue(all(r[0] == 201 for r in rs))
        finally:
            self.assertEqual(srv.stop()[0], 0)
        size = os.path.getsize(self.path)
        with open(self.path, "r+b") as f:
            f.truncate(size // 2)
        with self.assertRaises(RuntimeError) as ctx:
            self.start()
        self.assertIn("truncated", str(ctx.exception))
        self.assertIn("--ignore-bad-snapshot", str(ctx.exception))
        self.assertEqual(os.path.getsize(self.path), size // 2)  # left exactly as it was

        srv = self.start("--ignore-bad-snapshot")
        try:
            self.assertEqual(pipelined(srv, [get_request("t1")])[0][0], 404)
            aside = [n for n in os.listdir(self.dir.name) if n.startswith("hkv.snap.bad-")]
            self.assertEqual(len(aside), 1, os.listdir(self.dir.name))
            self.assertEqual(os.path.getsize(os.path.join(self.dir.name, aside[0])), size // 2)
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_corrupt_byte_refuses_to_start(self):
        srv = self.start()
        try:
            pipelined(srv, [store_request("c", b"precious")])
        finally:
            self.assertEqual(srv.stop()[0], 0)
        with open(self.path, "r+b") as f:
            data = bytearray(f.read())
            data[data.index(b"precious")] ^= 0x01
            f.seek(0)
            f.write(data)
        with self.assertRaises(RuntimeError) as ctx:
            self.start()
        self.assertIn("corrupt", str(ctx.exception))

    def test_periodic_snapshot_bounds_what_sigkill_loses(self):
        srv = self.start("--snapshot-interval", "0.3")
        try:
            self.assertEqual(pipelined(srv, [store_request("before", b"kept")])[0][0], 201)
            written = srv.log.count(b"periodic snapshot written")
            deadline = time.monotonic() + 5
            # Wait for a periodic snapshot that started after the write above.
            while time.monotonic() < deadline and srv.log.count(b"periodic snapshot written") < written + 2:
                chunk = os.read(srv.proc.stdout.fileno(), 65536)
                srv.log += chunk
            self.assertGreaterEqual(srv.log.count(b"periodic snapshot written"), written + 2, srv.log)
        finally:
            code, _ = srv.stop(signal.SIGKILL)
        self.assertEqual(code, -signal.SIGKILL)
        srv = self.start()
        try:
            r = pipelined(srv, [get_request("before")])[0]
            self.assertEqual((r[0], r[2]), (200, b"kept"))
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def wait_for_periodic_snapshots(self, srv, count):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and srv.log.count(b"periodic snapshot written") < count:
            srv.log += os.read(srv.proc.stdout.fileno(), 65536)
        self.assertGreaterEqual(srv.log.count(b"periodic snapshot written"), count, srv.log)

    def test_clean_only_loads_a_clean_stop_and_starts_empty_after_sigkill(self):
        clean_only = ("--snapshot-load", "clean-only", "--snapshot-interval", "0.2")
        srv = self.start(*clean_only)
        try:
            self.assertEqual(pipelined(srv, [store_request("k", b"v1"), store_request("gone", b"x")])[1][0], 201)
        finally:
            code, log = srv.stop(signal.SIGTERM)
        self.assertEqual(code, 0, log)
        self.assertTrue(os.path.exists(self.path + ".clean"))

        srv = self.start(*clean_only)
        try:
            self.assertIn(b"written by a clean stop", srv.log)
            self.assertFalse(os.path.exists(self.path + ".clean"), "the mark must go before serving")
            self.assertEqual(pipelined(srv, [get_request("k")])[0][2], b"v1")
            self.wait_for_periodic_snapshots(srv, 2)  # a periodic file now holds k=v1 and "gone"
            delete = b"DELETE /store/gone HTTP/1.1\r\nHost: t\r\n\r\n"
            rs = pipelined(srv, [store_request("k", b"v2"), delete])
            self.assertEqual([r[0] for r in rs], [200, 204])
        finally:
            code, _ = srv.stop(signal.SIGKILL)
        self.assertEqual(code, -signal.SIGKILL)

        # The periodic file is older than the acknowledged v2 and delete: clean-only does not load it...
        srv = self.start(*clean_only)
        try:
            self.assertIn(b"not written by a clean stop", srv.log)
            self.assertEqual([r[0] for r in pipelined(srv, [get_request("k"), get_request("gone")])], [404, 404])
        finally:
            code, _ = srv.stop(signal.SIGKILL)
        # ...and the default does, which is what a single cache that prefers warm data wants.
        srv = self.start()
        try:
            self.assertIn(b"not from a clean stop", srv.log)
            r = pipelined(srv, [get_request("k")])[0]
            self.assertEqual(r[0], 200)
            self.assertIn(r[2], (b"v1", b"v2"))  # v2 if a periodic snapshot ran before the SIGKILL
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_snapshot_flags_need_a_file(self):
        with self.assertRaises(RuntimeError) as ctx:
            HkvServer("--snapshot-load", "clean-only")
        self.assertIn("need --snapshot", str(ctx.exception))
        with self.assertRaises(RuntimeError) as ctx:
            HkvServer("--snapshot-interval", "5")
        self.assertIn("need --snapshot", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
