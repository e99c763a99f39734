# SPDX-License-Identifier: MIT
# Smoke test: the server starts, answers GET / and stops cleanly on SIGTERM.
import http.client
import unittest

from hkv_server import HkvServer


class SmokeTest(unittest.TestCase):
    def test_hello_and_clean_exit(self):
        srv = HkvServer()
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
        conn.request("GET", "/")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.read(), b"Hello, World!")
        conn.close()
        code, log = srv.stop()
        self.assertEqual(code, 0, log)
        self.assertIn("listening on", log)
        self.assertIn("stopped", log)


if __name__ == "__main__":
    unittest.main()
