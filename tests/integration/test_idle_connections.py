# SPDX-License-Identifier: MIT
# Thousands of idle keep-alive connections (issue 17, scaled down for CI): 5,000 connections from
# four client processes on four loopback source addresses, each served one request and left open.
# Every one must be served, and each must then cost hkv at most 1 KiB of resident memory. An idle
# HTTP/2 connection also holds its nghttp2 session: nghttp2 1.52 allocates 26 KB for one (its
# 2.9 KB struct, a 4 KiB stream map, two 1 KiB HPACK tables, a 16 KiB frame buffer) and touches about
# 13 KiB of it, so HTTP/2 gets 1 KiB plus 15 KiB (it was 24 KiB before hkv freed its own buffers).
# Against a sanitizer build (ASan's redzones and quarantine, TSan's shadow memory) the bytes are not
# hkv's: everything else is checked, the budget only in the release build.
import http.client
import os
import subprocess
import sys
import time
import unittest

from hkv_server import HkvServer, assert_clean_exit, metric, rss_kib, sanitized_binary

CLIENT = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "lib", "idle_conns.py")
CONNECTIONS = 5000
BUDGET = 1024  # bytes of hkv's own memory per idle connection
NGHTTP2_SESSION = 15 * 1024  # what nghttp2 1.52 keeps resident for an idle session, at most


class IdleConnections:
    """Opens `count` connections with bench/lib/idle_conns.py and keeps them open until close()."""

    def __init__(self, srv, count, proto, first_source=2):
        self.proc = subprocess.Popen(
            [sys.executable, CLIENT, str(srv.port), str(count), "--proto", proto, "--procs", "4",
             "--first-source", str(first_source), "--hold", "120", "--connect-timeout", "30"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) < 4:
            self.close()
            raise AssertionError(f"idle_conns.py ended early: {line}")
        self.served, self.failed = int(line[1]), int(line[3])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


class IdleConnectionsTest(unittest.TestCase):
    def measure(self, proto):
        with HkvServer("--max-connections", str(CONNECTIONS + 500), "--idle-timeout", "120") as srv:
            IdleConnections(srv, 300, proto, first_source=10).close()  # warm-up: pools, the store, the allocator
            time.sleep(0.3)
            rss_before = rss_kib(srv.proc.pid) * 1024
            h2_before = metric(srv, "hkv_h2_session_bytes")
            clients = IdleConnections(srv, CONNECTIONS, proto)
            try:
                self.assertEqual((clients.served, clients.failed), (CONNECTIONS, 0))
                deadline = time.monotonic() + 5
                while metric(srv, "hkv_connections_idle") < CONNECTIONS and time.monotonic() < deadline:
                    time.sleep(0.1)
                self.assertEqual(metric(srv, "hkv_connections_idle"), CONNECTIONS,
                                 "every served keep-alive connection rests within a tick or two")
                self.assertGreaterEqual(metric(srv, "hkv_connections_open"), CONNECTIONS)
                grown = rss_kib(srv.proc.pid) * 1024 - rss_before
                nghttp2 = metric(srv, "hkv_h2_session_bytes") - h2_before
                fresh = http.client.HTTPConnection(srv.host, srv.port, timeout=10)  # still served
                fresh.request("GET", "/get/k")
                self.assertEqual(fresh.getresponse().status, 404)
                fresh.close()
            finally:
                clients.close()
            code, log = srv.stop()
            assert_clean_exit(code, log)
        return grown / CONNECTIONS, nghttp2 / CONNECTIONS

    def test_http1_idle_connection_costs_at_most_1_kib(self):
        per_connection, nghttp2 = self.measure("h1")
        print(f"\nHTTP/1.1: {per_connection:.0f} B per idle connection", file=sys.stderr)
        self.assertEqual(nghttp2, 0)
        if not sanitized_binary():
            self.assertLessEqual(per_connection, BUDGET)

    def test_http2_idle_connection_costs_at_most_1_kib_besides_the_nghttp2_session(self):
        per_connection, nghttp2 = self.measure("h2")
        print(f"\nHTTP/2: {per_connection:.0f} B per idle connection, nghttp2 holds {nghttp2:.0f} B of it",
              file=sys.stderr)
        self.assertGreater(nghttp2, 20000, "hkv_h2_session_bytes counts nghttp2's sessions")
        if not sanitized_binary():
            self.assertLessEqual(per_connection, BUDGET + NGHTTP2_SESSION)


if __name__ == "__main__":
    unittest.main()
