# SPDX-License-Identifier: MIT
# --max-memory end to end: far more data than the cap is written (pipelined HTTP/1.1), the items
# stay under it, SIEVE keeps keys that are read, a value larger than the cap is refused (413), and
# the memory the store counts matches the process's RSS growth.
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from hkv_server import BINARY, HkvServer, ServerTestCase, sanitized_binary
from pipelined import pipeline, request_bytes

KIB = 1024
MIB = 1 << 20
CAP = 4 * MIB


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KIB
    raise AssertionError("no VmRSS in /proc/%d/status" % pid)


class StoreStatsCase(ServerTestCase):
    def stats(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        conn.request("GET", "/stats")
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        self.assertEqual(resp.status, 200)
        return json.loads(body)

    def put_all(self, keys, value):
        """PUTs value under every key (pipelined); returns the statuses."""
        return [r[0] for r in pipeline(self.srv, [request_bytes("PUT", f"/store/{k}", value) for k in keys])]

    def alive(self, keys):
        """How many of `keys` can still be read (pipelined GETs)."""
        return sum(r[0] == 200 for r in pipeline(self.srv, [request_bytes("GET", f"/get/{k}") for k in keys]))


class CappedTest(StoreStatsCase):
    SERVER_ARGS = ("--max-memory", "4MiB", "--max-value-size", "8MiB")

    def test_fill_far_beyond_the_cap(self):
        before = self.stats()
        self.assertEqual(before["memory_limit_bytes"], CAP)
        puts = 20000  # ~20 MiB of values, five times the cap
        statuses = self.put_all([f"fill{i}" for i in range(puts)], os.urandom(KIB))
        self.assertEqual(len(statuses), puts)
        self.assertEqual(set(statuses), {201}, "every write must succeed; the cap evicts, it does not refuse")
        after = self.stats()
        used, items = after["memory_used_bytes"], after["items"]
        evicted = after["evictions"] - before["evictions"]
        self.assertLessEqual(used, CAP)
        self.assertGreaterEqual(used, CAP * 0.9, "the cap should be used, not a fraction of it")
        self.assertGreater(evicted, 0)
        self.assertEqual(items - before["items"], puts - evicted, "items == puts - evictions")
        # Each item costs its 1 KiB value plus a little bookkeeping: about CAP / 1 KiB items fit.
        per_item = used / items
        self.assertGreater(per_item, KIB, f"{used} B for {items} items")
        self.assertLess(per_item, KIB + 256, f"{used} B for {items} items")
        self.assertEqual(self.alive([f"fill{i}" for i in range(puts)]), items - before["items"])

    def test_hot_keys_survive_better_than_cold_ones(self):
        hot = [f"hot{i}" for i in range(100)]
        cold = [f"cold{i}" for i in range(20000)]
        value = b"h" * KIB
        # One connection, so the server sees exactly this interleaving: the hot set first, then
        # 200 cold writes, a read of every hot key, 200 cold writes, and so on.
        reqs = [request_bytes("PUT", f"/store/{k}", value) for k in hot]
        kinds = ["put"] * len(hot)
        for start in range(0, len(cold), 200):
            batch = cold[start:start + 200]
            reqs += [request_bytes("PUT", f"/store/{k}", value) for k in batch]
            reqs += [request_bytes("GET", f"/get/{k}") for k in hot]
            kinds += ["put"] * len(batch) + ["get"] * len(hot)
        responses = pipeline(self.srv, reqs)
        self.assertEqual({r[0] for r, kind in zip(responses, kinds) if kind == "put"}, {201})
        hot_misses = sum(1 for r, kind in zip(responses, kinds) if kind == "get" and r[0] != 200)
        hot_alive = self.alive(hot)
        cold_alive = self.alive(cold)
        hot_rate, cold_rate = hot_alive / len(hot), cold_alive / len(cold)
        detail = f"hot {hot_alive}/{len(hot)}, cold {cold_alive}/{len(cold)}, hot misses during the run {hot_misses}"
        self.assertGreater(self.stats()["evictions"], 0)
        self.assertGreaterEqual(hot_rate, 0.95, detail)
        self.assertLessEqual(cold_rate, 0.3, detail)

    def test_value_larger_than_the_cap_is_413(self):
        big = os.urandom(5 * MIB)  # under --max-value-size (8 MiB), over --max-memory (4 MiB)
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=30)
        conn.request("PUT", "/store/too-big", big)
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual(resp.status, 413, body)
        self.assertIn(b"max-memory", body)
        conn.request("GET", "/get/too-big")
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 404)
        if shutil.which("curl"):
            with tempfile.NamedTemporaryFile() as f:
                f.write(big)
                f.flush()
                p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "30", "-o", "/dev/null",
                                    "-w", "%{http_code} %{http_version}", "--data-binary", "@" + f.name,
                                    f"{self.srv.url}/store/too-big-h2"], capture_output=True, timeout=60)
            self.assertEqual(p.stdout.decode(), "413 2", p.stderr)
        # A value that fits alone is stored, evicting whatever it must, and stays readable.
        fits = os.urandom(3 * MIB)
        conn.request("PUT", "/store/fits", fits)
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 201)
        conn.request("GET", "/get/fits")
        resp = conn.getresponse()
        self.assertTrue(resp.read() == fits, "3 MiB value came back different")
        conn.close()
        stats = self.stats()
        self.assertLessEqual(stats["memory_used_bytes"], CAP)
        self.assertTrue(self.srv.alive())


class AccountingTest(StoreStatsCase):
    """No cap: what the store counts against the RSS the process actually gained."""

    def test_memory_used_matches_rss_growth(self):
        if sanitized_binary():
            self.skipTest("sanitizer build: its allocator's RSS is not comparable")
        pid = self.srv.proc.pid
        self.assertEqual(self.stats()["memory_limit_bytes"], 0)
        self.put_all([f"warm{i}" for i in range(1000)], b"w" * KIB)  # buffers, arenas, first table growth
        rss0, used0 = vm_rss(pid), self.stats()["memory_used_bytes"]
        statuses = self.put_all([f"key{i}" for i in range(50000)], os.urandom(KIB))
        self.assertEqual(set(statuses), {201})
        rss1, used1 = vm_rss(pid), self.stats()["memory_used_bytes"]
        rss_growth, counted = rss1 - rss0, used1 - used0
        msg = (f"memory_used_bytes grew by {counted} B ({counted / MIB:.1f} MiB), "
               f"VmRSS by {rss_growth} B ({rss_growth / MIB:.1f} MiB)")
        self.assertGreater(rss_growth, 0, msg)
        self.assertLessEqual(abs(counted - rss_growth), 0.25 * rss_growth, msg)


class StartupWarningTest(unittest.TestCase):
    """An unbounded store is allowed but said out loud at start; a capped one is not warned about."""

    def test_warning_only_without_a_cap(self):
        for args, warned in (((), True), (("--max-memory", "64MiB"), False)):
            srv = HkvServer(*args)
            code, log = srv.stop()
            self.assertEqual(code, 0, log)
            self.assertEqual("no --max-memory" in log, warned, log)
            self.assertIn("max-memory=" + ("0" if warned else str(64 * MIB)), log)


if __name__ == "__main__":
    unittest.main()
