# SPDX-License-Identifier: MIT
# hkv behind a real HTTP cache: Varnish from Debian with its default VCL in front of hkv. What
# hkv's headers tell the cache must keep it right: a value with a TTL is served from the cache
# for that TTL (not half of it) and never after; a value without one reaches hkv on every request,
# so a replaced value shows at once; answers that are not stored values are never kept.
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from hkv_server import HkvServer, assert_clean_exit, metric, require_tools


def counted(srv, route, status):
    """hkv's count of HTTP/1.1 GETs (how Varnish fetches) of a route answered with a status."""
    try:
        return metric(srv, f'hkv_requests_total{{protocol="h1",method="GET",route="{route}",status="{status}"}}')
    except AssertionError:  # not answered yet: /metrics leaves out the zeros
        return 0


def get_requests(srv):
    """GETs of /get/ that hkv has answered."""
    return sum(counted(srv, "get", status) for status in ("200", "304", "404"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BehindVarnish(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_tools("varnishd")
        cls.srv = HkvServer(threads=1)
        cls.tmp = tempfile.mkdtemp(prefix="hkv-varnish-")
        cls.port = free_port()
        # Default VCL (-b), a working directory of its own (-n), in the foreground (-F).
        cls.varnish = subprocess.Popen(
            ["varnishd", "-F", "-a", f"127.0.0.1:{cls.port}", "-b", f"{cls.srv.host}:{cls.srv.port}",
             "-n", os.path.join(cls.tmp, "n"), "-s", "malloc,32m"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        cls.tearDownClass()
        raise AssertionError("varnishd did not start")

    @classmethod
    def tearDownClass(cls):
        cls.varnish.terminate()
        try:
            cls.varnish.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.varnish.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        code, log = cls.srv.stop()
        assert_clean_exit(code, log)

    def through_cache(self, path, headers=None):
        """GET through Varnish: (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def store(self, key, value, query=""):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        try:
            conn.request("POST", f"/store/{key}{query}", body=value)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def delete(self, key):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        try:
            conn.request("DELETE", f"/store/{key}")
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def test_a_value_with_a_ttl_is_cached_for_the_ttl_not_half_of_it(self):
        """First fetched 2 s after it was stored: with Age counted twice (max-age = what is left,
        plus Age) Varnish kept it 2 s instead of 4 and asked again at 4 s; it must ask at 6 s."""
        self.assertEqual(self.store("ttl6", b"six seconds", "?ttl=6"), 201)
        stored = time.time()
        time.sleep(2.0)
        fetched_at = []  # (seconds since the store, status) of each fetch hkv saw
        seen = get_requests(self.srv)
        while time.time() - stored < 9:
            status, _, body = self.through_cache("/get/ttl6")
            now_seen = get_requests(self.srv)
            if now_seen != seen:
                fetched_at.append((round(time.time() - stored, 2), status))
                seen = now_seen
            if status == 200:
                self.assertEqual(body, b"six seconds")
                self.assertLess(time.time() - stored, 6.5, "served after its TTL")
            time.sleep(0.2)
        self.assertEqual(fetched_at[0][1], 200, fetched_at)
        self.assertLess(fetched_at[0][0], 3.0, fetched_at)
        refetches = [t for t, _ in fetched_at[1:]]
        self.assertTrue(refetches, f"never fetched again: {fetched_at}")
        self.assertGreater(refetches[0], 5.0, f"fetched again before the TTL was nearly over: {fetched_at}")
        self.assertEqual(self.through_cache("/get/ttl6")[0], 404)

    def test_a_deleted_key_is_not_served_after_its_ttl(self):
        self.assertEqual(self.store("gone", b"cached, then deleted", "?ttl=3"), 201)
        stored = time.time()
        self.assertEqual(self.through_cache("/get/gone")[0], 200)
        self.assertEqual(self.delete("gone"), 204)
        while time.time() - stored < 6:
            status, headers, _ = self.through_cache("/get/gone")
            if time.time() - stored > 3.0:
                self.assertEqual(status, 404, f"served {time.time() - stored:.2f} s after a 3 s TTL: {headers}")
            time.sleep(0.1)

    def test_a_value_without_a_ttl_reaches_hkv_every_time(self):
        self.assertEqual(self.store("live", b"first"), 201)
        before = get_requests(self.srv)
        for _ in range(5):
            status, headers, body = self.through_cache("/get/live")
            self.assertEqual((status, body), (200, b"first"))
            self.assertEqual(headers.get("cache-control"), "no-cache")
        self.assertEqual(get_requests(self.srv) - before, 5)
        self.assertEqual(self.store("live", b"second"), 200)
        self.assertEqual(self.through_cache("/get/live")[2], b"second", "the replaced value shows at once")

    def test_a_client_revalidating_through_the_cache(self):
        """A browser's conditional GET through Varnish: Varnish fetches the value afresh (default
        VCL: a no-cache answer is never kept, and a fetch carries no condition) and answers 304
        itself by hkv's ETag; once the value is replaced, the same condition gets the new one."""
        self.assertEqual(self.store("etagged", b"validate me"), 201)
        status, headers, _ = self.through_cache("/get/etagged")
        self.assertEqual(status, 200)
        fetched = counted(self.srv, "get", "200")
        status, _, body = self.through_cache("/get/etagged", {"If-None-Match": headers["etag"]})
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(counted(self.srv, "get", "200"), fetched + 1, "hkv was asked, not the cache's copy")
        self.assertEqual(self.store("etagged", b"replaced"), 200)
        status, _, body = self.through_cache("/get/etagged", {"If-None-Match": headers["etag"]})
        self.assertEqual((status, body), (200, b"replaced"))

    def test_pages_and_errors_are_never_kept(self):
        for path, route, status in (("/", "root", "200"), ("/get/missing", "get", "404")):
            before = counted(self.srv, route, status)
            for _ in range(3):
                _, headers, _ = self.through_cache(path)
                self.assertEqual(headers.get("cache-control"), "no-store", path)
            self.assertEqual(counted(self.srv, route, status) - before, 3, f"{path}: every request reached hkv")
        for path in ("/metrics", "/stats"):
            self.assertEqual(self.through_cache(path)[1].get("cache-control"), "no-store", path)

if __name__ == "__main__":
    unittest.main()
