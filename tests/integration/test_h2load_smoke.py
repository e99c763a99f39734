# SPDX-License-Identifier: MIT
# h2load smoke load: h2c and HTTP/1.1 (plain and pipelined) each serve >= 10,000 requests, none failing.
import http.client
import os
import re
import subprocess
import sys
import tempfile
import unittest

from hkv_server import ServerTestCase, require_tools

REQUESTS_RE = re.compile(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                         r"(\d+) failed, (\d+) errored", re.M)
STATUS_RE = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.M)
FINISHED_RE = re.compile(r"^finished in .*$", re.M)


def parse_h2load(out):
    m = REQUESTS_RE.search(out)
    s = STATUS_RE.search(out)
    if m is None or s is None:
        raise AssertionError("unexpected h2load output:\n" + out)
    names = ("total", "started", "done", "succeeded", "failed", "errored")
    result = dict(zip(names, map(int, m.groups())))
    result.update(zip(("2xx", "3xx", "4xx", "5xx"), map(int, s.groups())))
    f = FINISHED_RE.search(out)
    result["finished"] = f.group(0) if f else ""
    return result


class H2loadSmokeBase(ServerTestCase):
    value = os.urandom(100)

    @classmethod
    def setUpClass(cls):
        require_tools("h2load")
        super().setUpClass()
        conn = http.client.HTTPConnection(cls.srv.host, cls.srv.port, timeout=10)
        conn.request("POST", "/store/key", body=cls.value)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 201, resp.status

    def h2load(self, *args, expect_total, path="/get/key"):
        """Runs h2load against path; asserts all of its requests succeeded with 2xx."""
        cmd = ["h2load", *args, self.srv.url + path]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        r = parse_h2load(p.stdout)
        sys.stderr.write(f"\n  [{' '.join(args)}{' ' + ' '.join(self.SERVER_ARGS) if self.SERVER_ARGS else ''}]"
                         f" {r['finished']}\n")
        self.assertEqual(r["total"], expect_total, p.stdout)
        self.assertGreaterEqual(r["succeeded"], 10000, p.stdout)
        self.assertEqual(r["succeeded"], r["total"], p.stdout)
        self.assertEqual(r["failed"], 0, p.stdout)
        self.assertEqual(r["errored"], 0, p.stdout)
        self.assertEqual(r["2xx"], r["total"], p.stdout)
        self.assertTrue(self.srv.alive())
        return r


class CommonLoads:
    """The loads every store must carry; mixed into H2loadSmokeBase subclasses."""

    def test_h2c_multiplexed(self):
        self.h2load("-n", "20000", "-c", "8", "-m", "10", expect_total=20000)

    def test_h2c_100_streams_per_connection(self):
        # Clients open up to 100 streams before they see the server's SETTINGS; the default
        # --max-streams is 100, so none may be refused.
        self.h2load("-n", "20000", "-c", "4", "-m", "100", expect_total=20000)

    def test_h1_pipelined(self):
        self.h2load("--h1", "-n", "20000", "-c", "8", "-m", "10", expect_total=20000)

    def test_h1_one_at_a_time(self):
        self.h2load("--h1", "-n", "10000", "-c", "8", expect_total=10000)


class H2loadLockfreeTest(CommonLoads, H2loadSmokeBase):
    def test_h2c_and_h1_uploads(self):
        with tempfile.NamedTemporaryFile(prefix="hkv-h2load-") as f:
            f.write(os.urandom(2000))
            f.flush()
            self.h2load("-n", "10000", "-c", "4", "-m", "10", "-d", f.name, expect_total=10000, path="/store/up")
            self.h2load("--h1", "-n", "10000", "-c", "4", "-m", "10", "-d", f.name, expect_total=10000,
                        path="/store/up")

    def test_value_still_correct_after_load(self):
        self.h2load("-n", "10000", "-c", "2", "-m", "10", expect_total=10000)
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        conn.request("GET", "/get/key")
        resp = conn.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, self.value))
        conn.close()


class H2loadShardedTest(CommonLoads, H2loadSmokeBase):
    SERVER_ARGS = ("--store", "sharded")


class H2loadLowConcurrencyLimitTest(H2loadSmokeBase):
    # Far more requests in flight than admission slots: they wait, none is refused.
    SERVER_ARGS = ("--concurrency-limit", "1")

    def test_h2c_multiplexed(self):
        self.h2load("-n", "10000", "-c", "8", "-m", "10", expect_total=10000)

    def test_h1_pipelined(self):
        self.h2load("--h1", "-n", "10000", "-c", "8", "-m", "10", expect_total=10000)


if __name__ == "__main__":
    unittest.main()
