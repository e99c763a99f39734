# SPDX-License-Identifier: MIT
# The README's Usage examples, run as written (only localhost:3000 becomes the test server's
# port) by bash in a fresh directory, then checked by what they printed and what they left.
import http.client
import json
import os
import re
import subprocess
import tempfile
import unittest

from hkv_server import ServerTestCase, require_tools

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def usage_block():
    """The first ```bash block under '## Usage'."""
    text = open(README, encoding="utf-8").read()
    section = text[text.index("\n## Usage"):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


class ReadmeUsage(ServerTestCase):
    def test_usage_examples_work_as_written(self):
        require_tools("curl")
        script = usage_block().replace("localhost:3000", f"localhost:{self.srv.port}")
        with tempfile.TemporaryDirectory() as cwd:
            photo = os.urandom(5000)
            with open(os.path.join(cwd, "photo.jpg"), "wb") as f:
                f.write(photo)
            run = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, capture_output=True, timeout=60)
        out = run.stdout.decode(errors="replace")
        self.assertEqual(run.returncode, 0, run.stderr.decode(errors="replace")[-2000:])
        self.assertNotIn("curl: (", run.stderr.decode(errors="replace"))
        # the three reads of greeting (HTTP/1.1, h2c prior knowledge, Upgrade) and the HEAD
        self.assertEqual(out.count("hello"), 3, out[:500])
        self.assertIn("HTTP/1.1 200 OK", out)
        self.assertIn("content-length: 5", out.lower())
        self.assertIn("HTTP/1.1 304 Not Modified", out)  # If-None-Match with the current ETag
        self.assertIn("hkv_requests_total", out)          # /metrics
        self.assertIn('"items":', out)                     # /stats

        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)

        def get(path):
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.getheader("content-type"), r.read()

        self.assertEqual(get("/get/greeting")[0], 404)                  # deleted
        self.assertEqual(get("/get/photo")[2], photo)                   # uploaded from the file
        self.assertEqual(get("/get/user%201%2Fname")[2], b"Ada")        # the key "user 1/name"
        self.assertEqual(get("/get/other")[2], b"x")
        # If-Match with the ETag read before replaced the value; the same ETag then no longer matched
        status, ctype, body = get("/get/session")
        self.assertEqual((status, ctype, json.loads(body)), (200, "application/json", {"n": 2}))
        conn.close()


if __name__ == "__main__":
    unittest.main()
