# SPDX-License-Identifier: MIT
# Caching semantics end to end: TTLs (?ttl=, Cache-Control: max-age, --default-ttl), Age and
# max-age on reads, Content-Type round trips, ETags, If-None-Match (304) and If-Match (412) on
# HTTP/1.1 (http.client, curl) and h2c (curl --http2-prior-knowledge), and background expiry.
import http.client
import json
import math
import os
import re
import subprocess
import time
import unittest

from hkv_server import ServerTestCase, freshness_left, require_tools
from pipelined import pipeline, request_bytes

OCTET = "application/octet-stream"
ETAG_RE = re.compile(r'^"[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]"$')  # 64 bits in base64url


def wait_until(predicate, timeout, interval=0.05):
    """Polls until predicate() is true; returns the seconds it took, or None on timeout."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)



class CacheCase(ServerTestCase):
    """http.client and curl helpers on top of the per-class server."""
    TMP_PREFIX = "hkv-cache-"

    @classmethod
    def setUpClass(cls):
        require_tools("curl")
        super().setUpClass()


    def curl(self, *args, h2=True):
        """One curl transfer (h2c by prior knowledge unless h2=False); args end with the path.
        Returns (status, headers, body) and checks the protocol version."""
        hdr, out = os.path.join(self.tmp, "h"), os.path.join(self.tmp, "b")
        for p in (hdr, out):
            if os.path.exists(p):
                os.remove(p)
        mode = "--http2-prior-knowledge" if h2 else "--http1.1"
        *opts, path = args
        p = subprocess.run(["curl", "-sS", "--max-time", "20", mode, "-D", hdr, "-o", out,
                            "-w", "%{http_code} %{http_version}", *opts, self.srv.url + path],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        status, version = p.stdout.decode().split()
        self.assertEqual(version, "2" if h2 else "1.1")
        headers = {}
        with open(hdr, "rb") as f:
            for line in f.read().decode("latin-1").splitlines()[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
        body = b""
        if os.path.exists(out):
            with open(out, "rb") as f:
                body = f.read()
        return int(status), headers, body

    def store(self, key, value=b"v", headers=None, method="PUT", query=""):
        status, headers, body = self.request(method, f"/store/{key}{query}", value, headers)
        self.assertIn(status, (200, 201), body)
        return headers["etag"]

    def assertError(self, result, status, msg=None):
        got_status, headers, body = result
        self.assertEqual(got_status, status, msg or body)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), (msg, headers))
        self.assertTrue(body.strip(), f"{msg}: error {status} has an empty body")

    def stats(self):
        return json.loads(self.request("GET", "/stats")[2])


class CacheTest(CacheCase):
    """TTLs, Content-Type and ETags on one server (each test uses its own keys)."""

    # ---- TTL, Age, max-age

    def test_ttl_query_and_cache_control_expire(self):
        expirations_before = self.stats()["expirations"]
        t0 = time.monotonic()
        self.store("q1", b"by query", query="?ttl=1")
        self.store("cc1", b"by header", headers={"Cache-Control": "max-age=1"})
        self.store("cc-list", b"among directives", headers={"Cache-Control": "no-transform, max-age=1, public"})
        self.assertEqual(self.curl("-H", "Content-Type:", "-H", "Cache-Control: max-age=1",
                                   "--data-binary", "over h2", "/store/cc-h2")[0], 201)
        # ?ttl= wins over the header, both ways.
        self.store("q-wins", b"short", headers={"Cache-Control": "max-age=100"}, query="?ttl=1")
        self.store("q-wins-long", b"long", headers={"Cache-Control": "max-age=1"}, query="?ttl=100")
        self.store("no-ttl", b"forever")
        short = ["q1", "cc1", "cc-list", "cc-h2", "q-wins"]
        for key in short + ["q-wins-long", "no-ttl"]:
            self.assertEqual(self.request("GET", f"/get/{key}")[0], 200, f"{key} readable before its expiry")
        self.assertEqual(self.curl("/get/q1")[:3:2], (200, b"by query"))

        def all_gone():
            return all(self.request("GET", f"/get/{k}")[0] == 404 for k in short)

        took = wait_until(all_gone, timeout=3.0)
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(took, "keys stored with a 1 s TTL still readable after 3 s")
        self.assertGreaterEqual(elapsed, 0.9, "expired before its TTL")
        for key in short:
            self.assertError(self.request("GET", f"/get/{key}"), 404, key)
            self.assertEqual(self.curl(f"/get/{key}")[0], 404, key)
        self.assertEqual(self.request("GET", "/get/q-wins-long")[2], b"long")
        self.assertEqual(self.request("GET", "/get/no-ttl")[2], b"forever")
        # Each expired key is counted once, whether a read or the background sweep removed it.
        counted = wait_until(lambda: self.stats()["expirations"] - expirations_before == len(short), timeout=1.0)
        self.assertIsNotNone(counted, f"expirations: {self.stats()['expirations'] - expirations_before}, "
                                      f"want {len(short)}")
        # An expired key can be stored again.
        self.assertEqual(self.request("PUT", "/store/q1", b"again")[0], 201)

    def assertAgeAndMaxAge(self, headers, stored, read, ttl, what):
        """Age and max-age as whole seconds: stored = (before, after) the write, read = (before,
        after) the read, from time.time(). The freshness a cache computes from them (RFC 9111
        4.2.3), max-age - Age, must be what hkv has left, within a second. None for ttl: the value
        must be revalidated each time (no-cache), with no Age."""
        lo = max(0.0, read[0] - stored[1] - 0.02)  # least and most time the value can have aged
        hi = read[1] - stored[0] + 0.02
        if ttl is None:
            self.assertEqual(headers.get("cache-control"), "no-cache", f"{what}: a key without TTL")
            self.assertNotIn("age", headers, f"{what}: a key without TTL has no Age")
            return
        age = int(headers["age"])
        self.assertTrue(math.floor(lo) <= age <= math.ceil(hi), f"{what}: age {age}, aged {lo:.3f}..{hi:.3f} s")
        fresh = freshness_left(headers)
        self.assertTrue(ttl - math.ceil(hi) <= fresh <= ttl - math.floor(lo),
                        f"{what}: a cache would keep it {fresh} s more of {ttl}, aged {lo:.3f}..{hi:.3f} s")

    def test_remaining_max_age_and_age(self):
        t0 = time.time()
        self.store("aged", b"a", query="?ttl=100")
        self.store("aged-forever", b"f")
        stored = (t0, time.time())
        for key, ttl in (("aged", 100), ("aged-forever", None)):
            r0 = time.time()
            status, headers, _ = self.request("GET", f"/get/{key}")
            self.assertEqual(status, 200)
            self.assertAgeAndMaxAge(headers, stored, (r0, time.time()), ttl, key)
        time.sleep(1.05)
        for h2 in (False, True):
            for key, ttl in (("aged", 100), ("aged-forever", None)):
                r0 = time.time()
                status, headers, _ = self.curl(f"/get/{key}", h2=h2)
                self.assertEqual(status, 200)
                if ttl is not None:
                    self.assertGreaterEqual(int(headers["age"]), 1, f"{key} h2={h2}: aged over a second")
                self.assertAgeAndMaxAge(headers, stored, (r0, time.time()), ttl, f"{key} h2={h2}")
                # HEAD and a 304 tell a cache the same as the GET.
                r0 = time.time()
                status, head, _ = self.curl("-I", f"/get/{key}", h2=h2)
                self.assertEqual(status, 200)
                self.assertAgeAndMaxAge(head, stored, (r0, time.time()), ttl, f"HEAD {key} h2={h2}")
                r0 = time.time()
                status, not_modified, _ = self.curl("-H", f"If-None-Match: {headers['etag']}", f"/get/{key}", h2=h2)
                self.assertEqual(status, 304)
                self.assertAgeAndMaxAge(not_modified, stored, (r0, time.time()), ttl, f"304 {key} h2={h2}")
        # A replace restarts both.
        t0 = time.time()
        self.store("aged", b"b", query="?ttl=50")
        stored = (t0, time.time())
        r0 = time.time()
        headers = self.request("GET", "/get/aged")[1]
        self.assertAgeAndMaxAge(headers, stored, (r0, time.time()), 50, "replaced")

    def test_ttl_zero_and_maximum(self):
        self.store("zero", b"z", query="?ttl=0")
        self.assertEqual(self.request("GET", "/get/zero")[1]["cache-control"], "no-cache")
        self.store("max", b"m", query="?ttl=315360000")
        self.assertIn(freshness_left(self.request("GET", "/get/max")[1]), (315360000, 315359999))

    def test_bad_ttls_are_400(self):
        for q in ("-1", "abc", "1.5", "", "10s", "315360001", "99999999999999999999"):
            result = self.request("POST", f"/store/badq?ttl={q}", b"v")
            self.assertError(result, 400, f"ttl={q!r}")
            self.assertIn(b"ttl", result[2], f"ttl={q!r}: message should name the parameter")
        for cc in ("max-age", "max-age=", "max-age=-1", "max-age=abc", "max-age=315360001", "public, max-age=1.5"):
            result = self.request("PUT", "/store/badcc", b"v", {"Cache-Control": cc})
            self.assertError(result, 400, cc)
            self.assertIn(b"max-age", result[2], cc)
        status, headers, body = self.curl("-H", "Cache-Control: max-age=x", "--data-binary", "v", "/store/badh2")
        self.assertEqual(status, 400)
        self.assertTrue(body.strip())
        for key in ("badq", "badcc", "badh2"):
            self.assertEqual(self.request("GET", f"/get/{key}")[0], 404, f"{key} stored despite the 400")

    # ---- Content-Type

    def test_round_trip_h1_and_h2(self):
        self.store("json", b'{"a":1}', {"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(self.request("GET", "/get/json")[1]["content-type"], "application/json; charset=utf-8")
        status, headers, body = self.curl("/get/json")
        self.assertEqual((status, headers["content-type"], body), (200, "application/json; charset=utf-8", b'{"a":1}'))
        self.assertEqual(self.request("HEAD", "/get/json")[1]["content-type"], "application/json; charset=utf-8")
        # Stored over h2, read over both.
        self.assertEqual(self.curl("-H", "Content-Type: text/csv", "--data-binary", "a,b", "/store/csv")[0], 201)
        self.assertEqual(self.request("GET", "/get/csv")[1]["content-type"], "text/csv")
        self.assertEqual(self.curl("/get/csv")[1]["content-type"], "text/csv")
        # curl's own default for --data-binary is kept like any other type.
        self.assertEqual(self.curl("--data-binary", "x=1", "/store/form", h2=False)[0], 201)
        self.assertEqual(self.curl("/get/form")[1]["content-type"], "application/x-www-form-urlencoded")
        # A replace takes the new type.
        self.store("json", b"<x/>", {"Content-Type": "text/xml"})
        self.assertEqual(self.curl("/get/json", h2=False)[1]["content-type"], "text/xml")

    def test_default_type(self):
        self.store("untyped", b"raw")
        self.assertEqual(self.request("GET", "/get/untyped")[1]["content-type"], OCTET)
        self.assertEqual(self.curl("-H", "Content-Type:", "--data-binary", "raw", "/store/untyped-h2")[0], 201)
        self.assertEqual(self.curl("/get/untyped-h2")[1]["content-type"], OCTET)
        self.store("explicit", b"raw", {"Content-Type": OCTET})
        self.assertEqual(self.curl("/get/explicit")[1]["content-type"], OCTET)
        self.assertEqual(self.request("GET", "/get/explicit")[1]["etag"],
                         self.request("GET", "/get/untyped")[1]["etag"],
                         "an explicit application/octet-stream is the default type")

    def test_repeated_or_overlong_type_is_400(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        conn.putrequest("PUT", "/store/twotypes")
        conn.putheader("Content-Type", "text/plain")
        conn.putheader("Content-Type", "text/html")
        conn.putheader("Content-Length", "1")
        conn.endheaders(b"x")
        resp = conn.getresponse()
        result = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        conn.close()
        self.assertError(result, 400, "two Content-Type fields")
        self.assertEqual(self.request("GET", "/get/twotypes")[0], 404)
        ok = "text/" + "p" * 250
        self.assertEqual(len(ok), 255)
        self.store("type255", b"x", {"Content-Type": ok})
        self.assertEqual(self.request("GET", "/get/type255")[1]["content-type"], ok)
        self.assertError(self.request("PUT", "/store/type256", b"x", {"Content-Type": ok + "p"}), 400, "256-byte type")
        self.assertEqual(self.request("GET", "/get/type256")[0], 404)

    # ---- ETag, If-None-Match, If-Match

    def test_etag_present_and_stable(self):
        status, headers, _ = self.request("PUT", "/store/e1", b"same bytes", {"Content-Type": "text/plain"})
        self.assertEqual(status, 201)
        etag = headers["etag"]
        self.assertRegex(etag, ETAG_RE)
        self.assertEqual(self.request("GET", "/get/e1")[1]["etag"], etag)
        self.assertEqual(self.request("HEAD", "/get/e1")[1]["etag"], etag)
        self.assertEqual(self.curl("/get/e1")[1]["etag"], etag)
        self.assertEqual(self.request("GET", "/get/e1")[1]["etag"], etag, "reading does not change it")
        # Same content under another key (and over h2): same tag; other bytes or type: another.
        status, headers, _ = self.curl("-H", "Content-Type: text/plain", "--data-binary", "same bytes", "/store/e2")
        self.assertEqual((status, headers["etag"]), (201, etag))
        other_bytes = self.store("e3", b"other bytes", {"Content-Type": "text/plain"})
        other_type = self.store("e4", b"same bytes", {"Content-Type": "text/html"})
        self.assertEqual(len({etag, other_bytes, other_type}), 3)
        # A replace answers 200 with the new tag; storing the old content again brings it back.
        status, headers, _ = self.request("PUT", "/store/e1", b"changed", {"Content-Type": "text/plain"})
        self.assertEqual(status, 200)
        self.assertNotEqual(headers["etag"], etag)
        self.assertEqual(self.request("GET", "/get/e1")[1]["etag"], headers["etag"])
        self.assertEqual(self.store("e1", b"same bytes", {"Content-Type": "text/plain"}), etag)

    def test_if_none_match_304_h1(self):
        etag = self.store("inm", b"cached body", {"Content-Type": "text/plain"})
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        for inm in (etag, "W/" + etag, "*", f'"0000000000000000", {etag}', f"W/\"feedfacefeedface\", W/{etag}",
                    f'"a,b", {etag}'):
            status, headers, body = self.request("GET", "/get/inm", headers={"If-None-Match": inm}, conn=conn)
            self.assertEqual((status, body), (304, b""), inm)
            self.assertEqual(headers["etag"], etag, inm)
        # The connection is still in sync: a 304 carried no body bytes.
        status, headers, body = self.request("GET", "/get/inm", headers={"If-None-Match": '"0123456789abcdef"'},
                                             conn=conn)
        self.assertEqual((status, body, headers["etag"]), (200, b"cached body", etag))
        status, _, body = self.request("GET", "/get/inm", conn=conn)
        self.assertEqual((status, body), (200, b"cached body"))
        conn.close()
        # Raw bytes: the 304 head ends the message; nothing follows it.
        sock = self.srv.connect()
        sock.sendall(f"GET /get/inm HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
        sock.close()
        head, _, rest = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 304 "), raw)
        self.assertEqual(rest, b"", "bytes after a 304 head")
        # Changed value: the old tag no longer matches.
        self.store("inm", b"new body", {"Content-Type": "text/plain"})
        status, _, body = self.request("GET", "/get/inm", headers={"If-None-Match": etag})
        self.assertEqual((status, body), (200, b"new body"))
        # Missing key: If-None-Match does not turn the 404 into anything else.
        self.assertEqual(self.request("GET", "/get/inm-missing", headers={"If-None-Match": "*"})[0], 404)
        self.assertError(self.request("GET", "/get/inm", headers={"If-None-Match": "unquoted"}), 400)

    def test_if_none_match_304_h2(self):
        etag = self.store("inm2", b"h2 body")
        status, headers, body = self.curl("-H", f"If-None-Match: {etag}", "/get/inm2")
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(headers["etag"], etag)
        self.assertEqual(self.curl("-H", f"If-None-Match: W/{etag}", "/get/inm2")[:3:2], (304, b""))
        self.assertEqual(self.curl("-H", 'If-None-Match: "1111111111111111"', "/get/inm2")[:3:2], (200, b"h2 body"))

    def test_if_match_put(self):
        e1 = self.store("cas", b"v1")
        status, headers, body = self.request("PUT", "/store/cas", b"v2", {"If-Match": e1})
        self.assertEqual(status, 200, body)
        e2 = headers["etag"]
        self.assertNotEqual(e2, e1)
        # e1 is stale: 412, and the value is untouched.
        self.assertError(self.request("PUT", "/store/cas", b"lost", {"If-Match": e1}), 412)
        status, headers, body = self.request("GET", "/get/cas")
        self.assertEqual((status, body, headers["etag"]), (200, b"v2", e2))
        # Over h2 with a list that includes the current tag.
        status, headers, _ = self.curl("-X", "PUT", "-H", "Content-Type:", "-H", f'If-Match: "0000000000000000", {e2}',
                                       "--data-binary", "v3", "/store/cas")
        self.assertEqual(status, 200)
        e3 = headers["etag"]
        self.assertEqual(self.curl("-X", "PUT", "-H", f"If-Match: {e2}", "--data-binary", "lost", "/store/cas")[0], 412)
        self.assertEqual(self.request("GET", "/get/cas")[2], b"v3")
        # Weak or foreign tags never match a strong comparison: 412; a malformed list: 400.
        for im in ("W/" + e3, '"not-an-hkv-tag"'):
            self.assertError(self.request("PUT", "/store/cas", b"lost", {"If-Match": im}), 412, im)
        self.assertError(self.request("PUT", "/store/cas", b"lost", {"If-Match": "no-quotes"}), 400)
        self.assertEqual(self.request("GET", "/get/cas")[2], b"v3")
        # * needs an existing value.
        self.assertEqual(self.request("PUT", "/store/cas", b"v4", {"If-Match": "*"})[0], 200)
        self.assertError(self.request("PUT", "/store/cas-new", b"x", {"If-Match": "*"}), 412)
        self.assertError(self.request("POST", "/store/cas-new", b"x", {"If-Match": e1}), 412)
        self.assertEqual(self.request("GET", "/get/cas-new")[0], 404, "a failed If-Match created the key")

    def test_if_match_delete(self):
        e1 = self.store("casdel", b"keep me")
        self.assertError(self.request("DELETE", "/store/casdel", headers={"If-Match": '"0123456789abcdef"'}), 412)
        self.assertEqual(self.request("GET", "/get/casdel")[2], b"keep me")
        self.assertEqual(self.curl("-X", "DELETE", "-H", "If-Match: W/" + e1, "/store/casdel")[0], 412)
        self.assertEqual(self.request("GET", "/get/casdel")[2], b"keep me")
        status, _, body = self.request("DELETE", "/store/casdel", headers={"If-Match": e1})
        self.assertEqual((status, body), (204, b""))
        self.assertEqual(self.request("GET", "/get/casdel")[0], 404)
        self.assertError(self.request("DELETE", "/store/casdel", headers={"If-Match": "*"}), 412)
        e2 = self.store("casdel", b"again")
        self.assertEqual(self.curl("-X", "DELETE", "-H", f"If-Match: {e2}", "/store/casdel")[0], 204)
        self.assertEqual(self.request("GET", "/get/casdel")[0], 404)


class DefaultTtlTest(CacheCase):
    SERVER_ARGS = ("--default-ttl", "1")

    def test_default_ttl_applies_when_no_ttl_given(self):
        self.store("dflt", b"default")
        self.store("never", b"kept", query="?ttl=0")  # 0 = never, even with a default
        self.store("longer", b"kept", headers={"Cache-Control": "max-age=100"})
        self.assertEqual(freshness_left(self.request("GET", "/get/dflt")[1]), 1)
        self.assertEqual(self.request("GET", "/get/never")[1]["cache-control"], "no-cache")
        took = wait_until(lambda: self.request("GET", "/get/dflt")[0] == 404, timeout=3.0)
        self.assertIsNotNone(took, "--default-ttl 1 key still readable after 3 s")
        self.assertEqual(self.request("GET", "/get/never")[:3:2], (200, b"kept"))
        self.assertEqual(self.request("GET", "/get/longer")[:3:2], (200, b"kept"))


def metric(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


class BackgroundExpiryTest(CacheCase):
    KEYS = 2000

    def test_unread_keys_expire_in_the_background(self):
        responses = pipeline(self.srv, [request_bytes("PUT", f"/store/bg{i}?ttl=1", b"x" * 100)
                                        for i in range(self.KEYS)])
        stored = time.monotonic()
        self.assertEqual({r[0] for r in responses}, {201})
        text = self.request("GET", "/metrics")[2].decode()
        self.assertEqual(metric(text, "hkv_items"), self.KEYS)
        self.assertGreater(metric(text, "hkv_memory_used_bytes"), self.KEYS * 100)
        self.assertEqual(metric(text, "hkv_expirations_total"), 0)
        last = {}

        def swept():
            text = self.request("GET", "/metrics")[2].decode()
            last.update(items=metric(text, "hkv_items"), expirations=metric(text, "hkv_expirations_total"),
                        used=metric(text, "hkv_memory_used_bytes"))
            return last["items"] == 0

        took = wait_until(swept, timeout=5.0, interval=0.1)
        self.assertIsNotNone(took, f"5 s after storing {self.KEYS} keys with ttl=1: {last}")
        self.assertGreaterEqual(time.monotonic() - stored, 0.9, "swept before the TTL ran out")
        self.assertEqual(last["expirations"], self.KEYS, "every key expired exactly once")
        self.assertEqual(last["used"], 0)


if __name__ == "__main__":
    unittest.main()
