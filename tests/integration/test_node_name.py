# SPDX-License-Identifier: MIT
# --node-name and --node-header: which node answered, in /stats, in hkv_build_info and, when asked
# for, in an X-Hkv-Node header on every answer over HTTP/1.1 and HTTP/2.
import json
import socket
import subprocess
import unittest

from hkv_server import BINARY, HkvServer, require_tools


def fetch(srv, method, path, body=None):
    import http.client
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


class NodeName(unittest.TestCase):
    def test_default_is_the_hostname_and_no_header(self):
        host = socket.gethostname().split(".")[0]
        with HkvServer() as srv:
            _, headers, body = fetch(srv, "GET", "/stats")
            self.assertEqual(json.loads(body)["node"], host)
            self.assertNotIn("x-hkv-node", headers)
            _, _, metrics = fetch(srv, "GET", "/metrics")
            self.assertIn(f'hkv_build_info{{node="{host}",version="', metrics.decode())

    def test_node_header_on_every_answer_over_h1_and_h2(self):
        require_tools("curl")
        with HkvServer("--node-name", "cache-2.rack:7", "--node-header") as srv:
            self.assertEqual(json.loads(fetch(srv, "GET", "/stats")[2])["node"], "cache-2.rack:7")
            for method, path, body, status in (("POST", "/store/k", b"v", 201), ("GET", "/get/k", None, 200),
                                               ("GET", "/get/missing", None, 404), ("PATCH", "/get/k", None, 405),
                                               ("HEAD", "/", None, 200)):
                got, headers, _ = fetch(srv, method, path, body)
                self.assertEqual((got, headers.get("x-hkv-node")), (status, "cache-2.rack:7"), (method, path))
            out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "--http2-prior-knowledge",
                                  f"{srv.url}/get/k"], capture_output=True, text=True, timeout=20).stdout
            self.assertIn("HTTP/2 200", out)
            self.assertIn("x-hkv-node: cache-2.rack:7", out.lower())

    def test_invalid_node_name_stops_the_start(self):
        for bad in ("two words", "", "x" * 65, "quote\"d"):
            p = subprocess.run([BINARY, "--port", "0", "--node-name", bad], capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("--node-name", p.stderr + p.stdout)


if __name__ == "__main__":
    unittest.main()
