# SPDX-License-Identifier: MIT
# GET /metrics (parsed with prometheus_client's own text parser) and GET /stats: counters move by
# exactly what a known sequence of HTTP/1.1 and h2c requests should add, the histogram agrees
# with the request counters, connection gauges follow open keep-alive connections, and /stats
# reports the same numbers as JSON.
import http.client
import json
import subprocess
import sys
import time
import unittest
from collections import Counter

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client installs into the system Python's dist-packages; the
    # interpreter CMake picked (pyenv, a venv) may not look there.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from hkv_server import ServerTestCase, require_tools
from pipelined import pipeline, request_bytes

PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FAMILIES = {
    "hkv_requests": "counter",
    "hkv_request_duration_seconds": "histogram",
    "hkv_cache_hits": "counter",
    "hkv_cache_misses": "counter",
    "hkv_evictions": "counter",
    "hkv_expirations": "counter",
    "hkv_items": "gauge",
    "hkv_memory_used_bytes": "gauge",
    "hkv_memory_limit_bytes": "gauge",
    "hkv_connections_open": "gauge",
    "hkv_connections_accepted": "counter",
    "hkv_requests_in_flight": "gauge",
    "hkv_uptime_seconds": "gauge",
}


class Scrape:
    """One /metrics page, parsed."""

    def __init__(self, text):
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for f in self.families.values():
            for s in f.samples:
                self.samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def value(self, name, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def requests(self):
        """Counter of (protocol, method, route, status) -> requests."""
        out = Counter()
        for s in self.families["hkv_requests"].samples:
            out[(s.labels["protocol"], s.labels["method"], s.labels["route"], s.labels["status"])] = s.value
        return out

    def buckets(self):
        """[(le as float, cumulative count)] in the page's order."""
        return [(float(s.labels["le"]), s.value) for s in self.families["hkv_request_duration_seconds"].samples
                if s.name.endswith("_bucket")]


class MetricsTest(ServerTestCase):
    SERVER_ARGS = ("--max-memory", "1MiB")

    @classmethod
    def setUpClass(cls):
        require_tools("curl")
        super().setUpClass()


    def curl_h2(self, *args):
        """curl --http2-prior-knowledge; args end with the path. Returns the status."""
        *opts, path = args
        p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "20", "-o", "/dev/null",
                            "-w", "%{http_code} %{http_version}", *opts, self.srv.url + path],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        status, version = p.stdout.decode().split()
        self.assertEqual(version, "2")
        return int(status)

    def scrape(self, conn=None):
        status, headers, body = self.request("GET", "/metrics", conn=conn)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], PROM_TYPE)
        return Scrape(body.decode())

    def stats(self, conn=None):
        status, headers, body = self.request("GET", "/stats", conn=conn)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        return json.loads(body)

    def wait_for_open_connections(self, n, timeout=3.0):
        """Polls until hkv_connections_open (the scraping connection included) is n; returns the last scrape."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.scrape()
            if m.value("hkv_connections_open") == n or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    def assertHistogramConsistent(self, m):
        buckets = m.buckets()
        self.assertEqual(len(buckets), 13)
        bounds = [le for le, _ in buckets]
        self.assertEqual(bounds, sorted(bounds), "le bounds in increasing order")
        self.assertEqual(bounds[-1], float("inf"))
        counts = [c for _, c in buckets]
        self.assertEqual(counts, sorted(counts), f"buckets must be cumulative: {buckets}")
        count = m.value("hkv_request_duration_seconds_count")
        self.assertEqual(counts[-1], count, "+Inf bucket == _count")
        self.assertEqual(count, sum(m.requests().values()), "every counted request is in the histogram")
        self.assertGreater(m.value("hkv_request_duration_seconds_sum"), 0)

    def test_page_parses_with_every_family(self):
        m = self.scrape()
        for name, kind in FAMILIES.items():
            self.assertIn(name, m.families, name)
            self.assertEqual(m.families[name].type, kind, name)
            self.assertTrue(m.families[name].documentation, f"{name} has no HELP")
        self.assertEqual(m.value("hkv_memory_limit_bytes"), 1 << 20)
        self.assertGreater(m.value("hkv_uptime_seconds"), 0)
        self.assertGreaterEqual(m.value("hkv_requests_in_flight"), 1, "the scrape itself holds a slot")

    def test_counters_follow_a_known_sequence(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        before = self.scrape(conn)
        h1 = [
            ("PUT", "/store/m1", b"one", {}, 201),
            ("PUT", "/store/m1", b"two", {}, 200),
            ("GET", "/get/m1", None, {}, 200),
            ("GET", "/get/m1", None, {}, 200),
            ("HEAD", "/get/m1", None, {}, 200),
            ("GET", "/get/m-missing", None, {}, 404),
            ("DELETE", "/store/m1", None, {}, 204),
            ("DELETE", "/store/m1", None, {}, 404),
            ("GET", "/get/m1", None, {}, 404),
            ("POST", "/store/m2", b"x", {}, 201),
            ("POST", "/nowhere", b"", {}, 404),
            ("PUT", "/get/m2", b"", {}, 405),
            ("GET", "/", None, {}, 200),
            ("POST", "/store/m2", b"y", {"If-Match": '"0000000000000000"'}, 412),
            ("GET", "/get/m2?ttl=x", None, {}, 200),
        ]
        for method, path, body, headers, want in h1:
            self.assertEqual(self.request(method, path, body, headers, conn=conn)[0], want, f"{method} {path}")
        etag = self.request("GET", "/get/m2", conn=conn)[1]["etag"]
        self.assertEqual(self.request("GET", "/get/m2", headers={"If-None-Match": etag}, conn=conn)[0], 304)
        self.assertEqual(self.curl_h2("-H", "Content-Type:", "--data-binary", "h2", "/store/h2k"), 201)
        self.assertEqual(self.curl_h2("/get/h2k"), 200)
        self.assertEqual(self.curl_h2("/get/h2k"), 200)
        self.assertEqual(self.curl_h2("/get/h2-missing"), 404)
        self.assertEqual(self.curl_h2("-X", "DELETE", "/store/h2k"), 204)
        self.assertEqual(self.curl_h2("-X", "POST", "/metrics"), 405)
        after = self.scrape(conn)
        conn.close()

        got = after.requests()
        got.subtract(before.requests())
        got = +got  # drop zero entries
        want = Counter({
            ("h1", "GET", "metrics", "200"): 1,  # the `before` scrape, counted once it was answered
            ("h1", "PUT", "store", "201"): 1,
            ("h1", "PUT", "store", "200"): 1,
            ("h1", "GET", "get", "200"): 4,  # two reads of m1, the ignored ?ttl, the etag read
            ("h1", "HEAD", "get", "200"): 1,
            ("h1", "GET", "get", "404"): 2,
            ("h1", "DELETE", "store", "204"): 1,
            ("h1", "DELETE", "store", "404"): 1,
            ("h1", "POST", "store", "201"): 1,
            ("h1", "POST", "none", "404"): 1,
            ("h1", "PUT", "get", "405"): 1,
            ("h1", "GET", "root", "200"): 1,
            ("h1", "POST", "store", "412"): 1,
            ("h1", "GET", "get", "304"): 1,
            ("h2", "POST", "store", "201"): 1,
            ("h2", "GET", "get", "200"): 2,
            ("h2", "GET", "get", "404"): 1,
            ("h2", "DELETE", "store", "204"): 1,
            ("h2", "POST", "metrics", "405"): 1,
        })
        self.assertEqual(dict(got), dict(want))
        # Hits: every GET/HEAD that found a value (the 304 too); misses: those that found none.
        self.assertEqual(after.value("hkv_cache_hits_total") - before.value("hkv_cache_hits_total"), 4 + 1 + 1 + 2)
        self.assertEqual(after.value("hkv_cache_misses_total") - before.value("hkv_cache_misses_total"), 2 + 1)
        self.assertEqual(after.value("hkv_request_duration_seconds_count")
                         - before.value("hkv_request_duration_seconds_count"), sum(want.values()))
        self.assertHistogramConsistent(after)

    def test_evictions_items_and_memory_gauges(self):
        before = self.scrape()
        puts = 2000  # 2 MiB of values under a 1 MiB cap
        statuses = [r[0] for r in pipeline(self.srv, [request_bytes("PUT", f"/store/ev{i}", b"e" * 1024)
                                                      for i in range(puts)])]
        self.assertEqual(set(statuses), {201})
        after = self.scrape()
        evicted = after.value("hkv_evictions_total") - before.value("hkv_evictions_total")
        self.assertGreater(evicted, 0)
        self.assertEqual(after.value("hkv_items") - before.value("hkv_items"), puts - evicted)
        self.assertLessEqual(after.value("hkv_memory_used_bytes"), 1 << 20)
        self.assertGreater(after.value("hkv_memory_used_bytes"), 0.9 * (1 << 20))
        self.assertEqual(after.requests()[("h1", "PUT", "store", "201")]
                         - before.requests()[("h1", "PUT", "store", "201")], puts)
        self.assertHistogramConsistent(after)

    def test_connections_open_follows_keep_alive_connections(self):
        base = self.wait_for_open_connections(1)  # only the scraping connection
        self.assertEqual(base.value("hkv_connections_open"), 1, "connections of earlier tests still counted")
        conns = []
        for i in range(5):
            c = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
            self.assertEqual(self.request("GET", "/", conn=c)[0], 200)  # accepted and served
            conns.append(c)
        # An h2 connection held open by a raw client counts the same.
        h2 = self.srv.connect()
        h2.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        self.assertTrue(h2.recv(9), "no SETTINGS from the server")
        m = self.wait_for_open_connections(7)
        self.assertEqual(m.value("hkv_connections_open"), 7, "5 keep-alive h1 + 1 h2 + the scraper")
        self.assertGreaterEqual(m.value("hkv_connections_accepted_total") - base.value("hkv_connections_accepted_total"),
                                7)
        for c in conns:
            c.close()
        h2.close()
        m = self.wait_for_open_connections(1)
        self.assertEqual(m.value("hkv_connections_open"), 1, "closed connections still counted")

    def test_stats_json_matches_metrics(self):
        for i in range(3):
            self.request("PUT", f"/store/js{i}?ttl=100", b"j" * 10)
        self.request("GET", "/get/js0")
        self.request("GET", "/get/js-missing")
        # One connection for both pages, once the closes of earlier connections have been seen.
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        deadline = time.monotonic() + 3
        while self.scrape(conn).value("hkv_connections_open") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        s = self.stats(conn)
        m = self.scrape(conn)  # nothing but the /stats request in between
        conn.close()
        pairs = {
            "items": "hkv_items",
            "memory_used_bytes": "hkv_memory_used_bytes",
            "memory_limit_bytes": "hkv_memory_limit_bytes",
            "hits": "hkv_cache_hits_total",
            "misses": "hkv_cache_misses_total",
            "evictions": "hkv_evictions_total",
            "expirations": "hkv_expirations_total",
            "connections_open": "hkv_connections_open",
            "connections_accepted": "hkv_connections_accepted_total",
            "requests_in_flight": "hkv_requests_in_flight",
        }
        for field, name in pairs.items():
            self.assertEqual(s[field], m.value(name), f"/stats {field} vs /metrics {name}")
        # /metrics is the later page, but prints the uptime to the millisecond.
        self.assertLessEqual(s["uptime_seconds"], m.value("hkv_uptime_seconds") + 0.001)
        stats_requests = Counter({(r["protocol"], r["method"], r["route"], r["status"]): r["count"]
                                  for r in s["requests"]})
        self.assertEqual(s["requests_total"], sum(stats_requests.values()))
        stats_requests[("h1", "GET", "stats", "200")] += 1  # the /stats request, counted after it was answered
        self.assertEqual(dict(m.requests()), dict(stats_requests))
        # /stats gives the histogram per bucket, /metrics cumulatively: one request (the /stats
        # one) apart.
        per_bucket = s["latency_seconds"]["buckets"]
        self.assertEqual(sum(per_bucket.values()), s["requests_total"])
        cumulative, json_cumulative = dict(m.buckets()), {}
        running = 0
        for le, n in per_bucket.items():
            running += n
            json_cumulative[float(le)] = running
        self.assertEqual(sorted(json_cumulative), sorted(cumulative))
        for le, n in json_cumulative.items():
            self.assertIn(cumulative[le] - n, (0, 1), f"le={le}")
        self.assertEqual(cumulative[float("inf")] - json_cumulative[float("inf")], 1)
        self.assertLessEqual(s["latency_seconds"]["sum"], m.value("hkv_request_duration_seconds_sum"))

    def test_head_and_wrong_methods(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        for path, ctype in (("/metrics", PROM_TYPE), ("/stats", "application/json")):
            status, headers, body = self.request("HEAD", path, conn=conn)
            self.assertEqual((status, body), (200, b""), path)
            self.assertEqual(headers["content-type"], ctype, path)
            self.assertGreater(int(headers["content-length"]), 0, path)
            for method in ("POST", "PUT", "DELETE"):
                status, headers, body = self.request(method, path, b"" if method != "DELETE" else None, conn=conn)
                self.assertEqual(status, 405, f"{method} {path}")
                self.assertEqual(headers.get("allow"), "GET, HEAD", f"{method} {path}")
                self.assertTrue(body.strip())
        # The connection is still usable after the HEADs (no stray body bytes).
        self.scrape(conn)
        m = self.scrape(conn)
        conn.close()
        self.assertGreaterEqual(m.value("hkv_requests_total", protocol="h1", method="HEAD", route="metrics",
                                        status="200"), 1)
        self.assertGreaterEqual(m.value("hkv_requests_total", protocol="h1", method="POST", route="metrics",
                                        status="405"), 1)


if __name__ == "__main__":
    unittest.main()
