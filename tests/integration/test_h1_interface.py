# SPDX-License-Identifier: MIT
# HTTP/1.1 interface table: routes, statuses, headers, keys and values, via http.client and curl.
import http.client
import os
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from hkv_server import ServerTestCase, require_tools

OCTET = "application/octet-stream"


class ServerCase(ServerTestCase):
    """Request and error-check helpers on top of the per-class server."""


    def assertError(self, result, status, msg=None):
        """An error response: the status, and a non-empty text/plain body saying what was wrong."""
        got_status, headers, body = result
        self.assertEqual(got_status, status, msg or body)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), (msg, headers))
        self.assertTrue(body.strip(), f"{msg}: error {status} has an empty body")
        self.assertEqual(int(headers["content-length"]), len(body), msg)


class InterfaceTest(ServerCase):
    def test_root_hello(self):
        status, headers, body = self.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"Hello, World!")
        self.assertEqual(headers["content-length"], "13")

    def test_root_head_has_headers_but_no_body(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        status, headers, body = self.request("HEAD", "/", conn=conn)
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["content-length"], "13")
        # Byte-exact framing of HEAD answers is checked on raw sockets in test_h1_wire.
        self.assertEqual(self.request("GET", "/", conn=conn)[2], b"Hello, World!")
        conn.close()

    def test_store_created_then_replaced(self):
        self.assertEqual(self.request("POST", "/store/cr", b"one")[0], 201)
        self.assertEqual(self.request("POST", "/store/cr", b"two")[0], 200)
        self.assertEqual(self.request("GET", "/get/cr")[2], b"two")
        self.assertEqual(self.request("PUT", "/store/cr", b"three")[0], 200)
        self.assertEqual(self.request("GET", "/get/cr")[2], b"three")

    def test_put_creates_too(self):
        self.assertEqual(self.request("PUT", "/store/put-new", b"p")[0], 201)
        self.assertEqual(self.request("PUT", "/store/put-new", b"q")[0], 200)
        self.assertEqual(self.request("GET", "/get/put-new")[2], b"q")

    def test_get_returns_exact_bytes_and_headers(self):
        self.request("POST", "/store/exact", b"some value\r\n\r\n")
        status, headers, body = self.request("GET", "/get/exact")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"some value\r\n\r\n")
        self.assertEqual(headers["content-type"], OCTET)
        self.assertEqual(headers["content-length"], str(len(body)))

    def test_binary_value_all_byte_values(self):
        value = bytes(range(256)) * 8 + b"\x00\x00"
        self.assertEqual(self.request("POST", "/store/binary", value)[0], 201)
        status, headers, body = self.request("GET", "/get/binary")
        self.assertEqual(status, 200)
        self.assertEqual(body, value)
        self.assertEqual(headers["content-length"], str(len(value)))

    def test_nul_only_value(self):
        self.request("PUT", "/store/nul", b"\x00")
        self.assertEqual(self.request("GET", "/get/nul")[2], b"\x00")

    def test_empty_value(self):
        self.assertEqual(self.request("POST", "/store/empty", b"")[0], 201)
        status, headers, body = self.request("GET", "/get/empty")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["content-length"], "0")
        self.assertEqual(headers["content-type"], OCTET)

    def test_get_missing_is_404(self):
        self.assertError(self.request("GET", "/get/never-stored"), 404)

    def test_head_value_matches_get_without_body(self):
        self.request("POST", "/store/headme", b"0123456789")
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        get_status, get_headers, _ = self.request("GET", "/get/headme", conn=conn)
        status, headers, body = self.request("HEAD", "/get/headme", conn=conn)
        self.assertEqual((status, body), (get_status, b""))
        for name in ("content-type", "content-length"):
            self.assertEqual(headers[name], get_headers[name], name)
        status, headers, body = self.request("HEAD", "/get/head-missing", conn=conn)
        self.assertEqual((status, body), (404, b""))
        self.assertEqual(self.request("GET", "/get/headme", conn=conn)[2], b"0123456789")
        conn.close()

    def test_delete(self):
        self.request("POST", "/store/del", b"x")
        status, headers, body = self.request("DELETE", "/store/del")
        self.assertEqual((status, body), (204, b""))
        self.assertIn(headers.get("content-length", "0"), ("0",))
        self.assertError(self.request("GET", "/get/del"), 404)
        self.assertError(self.request("DELETE", "/store/del"), 404)

    def test_percent_decoded_keys_are_the_same_key(self):
        self.assertEqual(self.request("POST", "/store/a%20b", b"spaced")[0], 201)
        for path in ("/get/a%20b", "/get/%61%20b", "/get/%61%20%62"):
            self.assertEqual(self.request("GET", path)[:3:2], (200, b"spaced"), path)
        self.assertEqual(self.request("PUT", "/store/%61%20b", b"again")[0], 200)
        self.assertError(self.request("GET", "/get/a+b"), 404)  # '+' is not a space in a path

    def test_percent_hex_case_and_encoded_slash(self):
        self.assertEqual(self.request("POST", "/store/x%2fy", b"slash")[0], 201)
        self.assertEqual(self.request("GET", "/get/x%2Fy")[2], b"slash")
        self.assertEqual(self.request("DELETE", "/store/%78%2F%79")[0], 204)

    def test_utf8_key(self):
        self.assertEqual(self.request("POST", "/store/%C3%A9t%C3%A9", b"summer")[0], 201)
        self.assertEqual(self.request("GET", "/get/%c3%a9t%c3%a9")[2], b"summer")

    def test_invalid_percent_encoding_is_400(self):
        for key in ("%zz", "%4", "%", "a%", "%g0", "%0g", "ab%2"):
            self.assertError(self.request("GET", "/get/" + key), 400, key)
            self.assertError(self.request("POST", "/store/" + key, b"v"), 400, key)
            self.assertError(self.request("DELETE", "/store/" + key), 400, key)

    def test_empty_key_is_400(self):
        self.assertError(self.request("GET", "/get/"), 400)
        self.assertError(self.request("GET", "/get/?k=1"), 400)
        self.assertError(self.request("POST", "/store/", b"v"), 400)
        self.assertError(self.request("DELETE", "/store/"), 400)

    def test_key_length_limit(self):
        ok, long = "k" * 250, "k" * 251
        self.assertEqual(self.request("POST", "/store/" + ok, b"250")[0], 201)
        self.assertEqual(self.request("GET", "/get/" + ok)[2], b"250")
        self.assertError(self.request("POST", "/store/" + long, b"251"), 414)
        self.assertError(self.request("GET", "/get/" + long), 414)
        self.assertError(self.request("DELETE", "/store/" + long), 414)

    def test_key_length_counts_decoded_bytes(self):
        ok = "%41" * 250  # 750 characters in the path, 250 bytes of key
        self.assertEqual(self.request("POST", "/store/" + ok, b"enc")[0], 201)
        self.assertEqual(self.request("GET", "/get/" + "A" * 250)[2], b"enc")
        self.assertError(self.request("POST", "/store/" + ok + "%41", b"x"), 414)
        utf8 = "%C3%A9" * 125  # 250 bytes
        self.assertEqual(self.request("POST", "/store/" + utf8, b"e")[0], 201)
        self.assertError(self.request("POST", "/store/" + utf8 + "z", b"x"), 414)

    def test_query_string_ignored(self):
        self.assertEqual(self.request("POST", "/store/q?x=1", b"query")[0], 201)
        self.assertEqual(self.request("GET", "/get/q")[2], b"query")
        self.assertEqual(self.request("GET", "/get/q?y=2&z")[2], b"query")
        self.assertEqual(self.request("GET", "/?a=b")[2], b"Hello, World!")
        self.assertEqual(self.request("DELETE", "/store/q?")[0], 204)

    def test_unknown_paths_are_404(self):
        for path in ("/nope", "/get", "/store", "/get/a/b", "/store/a/b", "/GET/x", "/getx/a",
                     "/index.html", "//", "/get//a"):
            for method in ("GET", "POST"):
                self.assertError(self.request(method, path, b"" if method == "POST" else None),
                                 404, f"{method} {path}")

    def test_wrong_method_is_405_with_allow(self):
        table = [
            ("POST", "/", "GET, HEAD"), ("PUT", "/", "GET, HEAD"), ("DELETE", "/", "GET, HEAD"),
            ("POST", "/get/k", "GET, HEAD"), ("PUT", "/get/k", "GET, HEAD"),
            ("DELETE", "/get/k", "GET, HEAD"), ("OPTIONS", "/get/k", "GET, HEAD"),
            ("GET", "/store/k", "POST, PUT, DELETE"), ("PATCH", "/store/k", "POST, PUT, DELETE"),
            ("OPTIONS", "/store/k", "POST, PUT, DELETE"),
        ]
        for method, path, allow in table:
            result = self.request(method, path, b"" if method in ("POST", "PUT", "PATCH") else None)
            self.assertError(result, 405, f"{method} {path}")
            self.assertEqual(result[1].get("allow"), allow, f"{method} {path}")

    def test_keep_alive_connection_reused(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        self.request("GET", "/", conn=conn)
        sock = conn.sock
        for i in range(30):
            self.assertEqual(self.request("PUT", f"/store/ka{i}", b"v%d" % i, conn=conn)[0], 201)
            self.assertEqual(self.request("GET", f"/get/ka{i}", conn=conn)[2], b"v%d" % i)
        self.assertIs(conn.sock, sock, "http.client had to reconnect")
        conn.close()


class KeyListTest(ServerTestCase):
    """GET /keys lists live keys percent-encoded, one per line; each line works after /get/."""

    def test_every_live_key_once_and_usable_as_a_path(self):
        keys = ["plain", "with space", "slash/inside", "pct%41", "ünï", "a+b", "line\nbreak"]
        for k in keys:
            path = "/store/" + urllib.parse.quote(k, safe="")
            self.assertIn(self.request("POST", path, b"v:" + k.encode())[0], (200, 201), k)
        self.assertEqual(self.request("POST", "/store/short-lived?ttl=1", b"x")[0], 201)
        self.assertEqual(self.request("POST", "/store/deleted", b"x")[0], 201)
        self.assertEqual(self.request("DELETE", "/store/deleted")[0], 204)
        time.sleep(1.1)
        status, headers, body = self.request("GET", "/keys")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        lines = body.decode("ascii").splitlines()
        self.assertEqual(sorted(urllib.parse.unquote(l) for l in lines), sorted(keys))
        for line in lines:
            self.assertRegex(line, r"^[A-Za-z0-9._~%-]+$")
            got = self.request("GET", "/get/" + line)
            self.assertEqual((got[0], got[2]), (200, b"v:" + urllib.parse.unquote(line).encode()), line)
        self.assertEqual(self.request("HEAD", "/keys")[0], 200)
        self.assertEqual(self.request("POST", "/keys", b"")[0], 405)


class CurlTest(ServerCase):
    def setUp(self):
        require_tools("curl")

    """Round trips with curl --http1.1 (default --max-value-size: 1 MiB)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def file_with(self, data):
        path = os.path.join(self.tmp.name, f"f{len(os.listdir(self.tmp.name))}")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def curl(self, *args):
        """Runs curl; returns (status, body bytes, verbose stderr)."""
        out = os.path.join(self.tmp.name, "out")
        proc = subprocess.run(["curl", "--http1.1", "-sS", "-v", "--max-time", "30", "-o", out,
                               "-w", "%{http_code}", *args], capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        with open(out, "rb") as f:
            body = f.read()
        return int(proc.stdout), body, proc.stderr.decode(errors="replace")

    def test_small_round_trip(self):
        path = self.file_with(b"hello from curl")
        self.assertEqual(self.curl("--data-binary", "@" + path, self.srv.url + "/store/c1")[0], 201)
        status, body, _ = self.curl(self.srv.url + "/get/c1")
        self.assertEqual((status, body), (200, b"hello from curl"))
        self.assertEqual(self.curl("-X", "PUT", "--data-binary", "@" + path,
                                   self.srv.url + "/store/c1")[0], 200)
        self.assertEqual(self.curl("-X", "DELETE", self.srv.url + "/store/c1")[:2], (204, b""))
        self.assertEqual(self.curl(self.srv.url + "/get/c1")[0], 404)

    def test_head_with_curl(self):
        self.assertEqual(self.curl("-H", "Content-Type:", "--data-binary", "x" * 7, self.srv.url + "/store/c2")[0], 201)
        status, body, err = self.curl("-I", self.srv.url + "/get/c2")
        self.assertEqual(status, 200)
        self.assertIn("content-length: 7", body.decode().lower())
        self.assertIn("content-type: application/octet-stream", body.decode().lower())

    def test_one_mib_accepted(self):
        value = os.urandom(1 << 20)
        path = self.file_with(value)
        status, body, err = self.curl("--data-binary", "@" + path, self.srv.url + "/store/mib")
        self.assertEqual(status, 201, err)
        status, body, _ = self.curl(self.srv.url + "/get/mib")
        self.assertEqual(status, 200)
        self.assertTrue(body == value, "1 MiB value came back different")

    def test_one_mib_plus_one_is_413(self):
        path = self.file_with(os.urandom((1 << 20) + 1))
        status, body, err = self.curl("--data-binary", "@" + path, self.srv.url + "/store/mib1")
        self.assertEqual(status, 413, err)
        self.assertTrue(body.strip(), "413 without a body")
        self.assertEqual(self.curl(self.srv.url + "/get/mib1")[0], 404)
        self.assertTrue(self.srv.alive())


if __name__ == "__main__":
    unittest.main()
