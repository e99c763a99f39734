# SPDX-License-Identifier: MIT
# Clients that stall their own responses must not stall anyone else. Each attack runs against a
# real server while a normal client keeps working, with GETs over HTTP/1.1 and h2c. The normal
# client's p99 stays under 50 ms with no error, the server's RSS stays bounded, and the send
# timeout eventually closes every attacking connection.
import http.client
import resource
import socket
import statistics
import time
import unittest

from hkv_server import HkvServer, assert_clean_exit, metric, rss_kib
from rawclients import (MAX_WINDOW, PING, PREFACE, SETTINGS, SETTINGS_INITIAL_WINDOW_SIZE, H2Streams, frame,
                        get_request_frame)

MIB = 1 << 20
SEND_TIMEOUT_S = 6
P99_LIMIT_S = 0.050


def stall_h2(srv, path, window, streams=100):
    """An h2c connection with SETTINGS_INITIAL_WINDOW_SIZE = window that opens `streams` GETs of
    path, never opens a window and never reads."""
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    settings = SETTINGS_INITIAL_WINDOW_SIZE.to_bytes(2, "big") + window.to_bytes(4, "big")
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings) +
              b"".join(get_request_frame(path, 1 + 2 * i) for i in range(streams)))
    return s


def stall_h1(srv, path, pipelined=50):
    """An HTTP/1.1 connection with a tiny receive buffer that pipelines GETs and never reads."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect((srv.host, srv.port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: hkv\r\n\r\n".encode() * pipelined)
    return s


def wait_for_metric(srv, name, at_least, within_s):
    """Polls /metrics until `name` reaches `at_least`; returns its last value."""
    deadline = time.monotonic() + within_s
    while True:
        value = metric(srv, name)
        if value >= at_least or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


class StalledClients(unittest.TestCase):
    """One worker with the default --concurrency-limit (250) and --max-streams (100)."""

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
        cls.srv = HkvServer("--send-timeout", str(SEND_TIMEOUT_S), threads=1)
        cls.put("s", b"small value")  # 11 bytes, as in the report
        cls.put("big", b"x" * MIB)

    @classmethod
    def tearDownClass(cls):
        assert_clean_exit(*cls.srv.stop())

    @classmethod
    def put(cls, key, value):
        c = http.client.HTTPConnection(cls.srv.host, cls.srv.port, timeout=10)
        c.request("PUT", "/store/" + key, body=value)
        assert c.getresponse().status in (200, 201)
        c.close()

    def normal_client_p99(self, requests=300):
        """GETs of /get/s over HTTP/1.1 keep-alive and over h2c; returns the p99 in seconds. A
        request slower than 5 s fails the test at once (the bug made them wait for the send timeout)."""
        latencies = []
        c = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=5)
        for _ in range(requests):
            t0 = time.perf_counter()
            c.request("GET", "/get/s")
            r = c.getresponse()
            body = r.read()
            latencies.append(time.perf_counter() - t0)
            self.assertEqual((r.status, body), (200, b"small value"))
        c.close()
        for _ in range(requests // 10):
            t0 = time.perf_counter()
            h2 = H2Streams(self.srv)
            try:
                answers = h2.get_all(["/get/s"] * 10, timeout=5)
            finally:
                h2.close()
            latencies.append(time.perf_counter() - t0)
            self.assertEqual(list(answers.values()), [(200, b"small value")])
        p99 = statistics.quantiles(latencies, n=100)[98]
        print(f"normal client: {len(latencies)} requests, p50 {statistics.median(latencies) * 1e3:.2f} ms, "
              f"p99 {p99 * 1e3:.2f} ms")
        return p99

    def attack(self, connect, count, rss_budget_kib):
        """Opens `count` attacking connections, checks the normal client and RSS, then that the
        send timeout closes every attacker."""
        rss_before = rss_kib(self.srv.proc.pid)
        send_timeouts = metric(self.srv, 'hkv_timeouts_total{kind="send"}')
        open_before = metric(self.srv, "hkv_connections_open")
        open_before_attack = metric(self.srv, "hkv_connections_open")
        attackers = [connect() for _ in range(count)]
        try:
            wait_for_metric(self.srv, "hkv_connections_open", open_before_attack + count, 10)
            self.assertLess(self.normal_client_p99(), P99_LIMIT_S)
            grown = rss_kib(self.srv.proc.pid) - rss_before
            print(f"{count} attackers: RSS grew {grown} KiB (budget {rss_budget_kib} KiB)")
            self.assertLess(grown, rss_budget_kib)
            # The attackers read nothing (reading would let their responses go on); the server's
            # own counters say whether it cut them.
            fired = wait_for_metric(self.srv, 'hkv_timeouts_total{kind="send"}', send_timeouts + count,
                                    SEND_TIMEOUT_S + 4) - send_timeouts
            self.assertEqual(fired, count, "every attacker is cut by the send timeout")
            self.assertEqual(metric(self.srv, "hkv_connections_open"), open_before)
        finally:
            for s in attackers:
                s.close()

    def test_zero_windows_3_connections(self):
        self.attack(lambda: stall_h2(self.srv, "/get/s", window=0), 3, rss_budget_kib=8 * 1024)

    def test_zero_windows_30_connections(self):
        self.attack(lambda: stall_h2(self.srv, "/get/s", window=0), 30, rss_budget_kib=16 * 1024)

    def test_one_byte_windows_on_1mib_values(self):
        # The values are borrowed from the store, not copied: 3,000 stalled responses of 1 MiB
        # cost stream state only.
        self.attack(lambda: stall_h2(self.srv, "/get/big", window=1), 30, rss_budget_kib=16 * 1024)

    def test_h1_pipelined_1mib_gets_never_read(self):
        # Each connection stops being read once its output passes the 1 MiB cap: its queue holds
        # references to the value, so memory stays flat however many such clients there are.
        self.attack(lambda: stall_h1(self.srv, "/get/big"), 30, rss_budget_kib=16 * 1024)


    def test_h1_pipelined_gets_never_read_from_more_connections_than_slots(self):
        # 260 connections, each with at least one 1 MiB answer queued: more than the 250 slots.
        self.attack(lambda: stall_h1(self.srv, "/get/big"), 260, rss_budget_kib=32 * 1024)

    def test_zero_windows_kept_alive_with_pings(self):
        # PING ACKs leave the server, but no response does: that is no progress for the timeout.
        attackers = [stall_h2(self.srv, "/get/s", window=0, streams=10) for _ in range(3)]
        fired_before = metric(self.srv, 'hkv_timeouts_total{kind="send"}')
        deadline = time.monotonic() + SEND_TIMEOUT_S + 4
        try:
            while time.monotonic() < deadline:
                for s in attackers:
                    try:
                        s.sendall(frame(PING, 0, 0, b"12345678"))
                        s.setblocking(False)
                        while s.recv(65536):
                            pass  # reads the ACKs (and the response HEADERS), never a window
                    except (BlockingIOError, OSError):
                        pass
                    s.setblocking(True)
                if metric(self.srv, 'hkv_timeouts_total{kind="send"}') - fired_before >= 3:
                    break
                time.sleep(0.5)
            self.assertEqual(metric(self.srv, 'hkv_timeouts_total{kind="send"}') - fired_before, 3)
        finally:
            for s in attackers:
                s.close()

    def test_slow_but_steady_reader_is_not_cut(self):
        # 1 MiB read at about 100 KB/s takes longer than the send timeout, but the peer takes
        # output the whole time: it must be served whole.
        c = H2Streams(self.srv, window=MAX_WINDOW, rcvbuf=4096, slow_bytes=2 * MIB, pause=0.04)
        try:
            t0 = time.monotonic()
            answers = c.get_all(["/get/big"], timeout=60)
        finally:
            c.close()
        self.assertGreater(time.monotonic() - t0, SEND_TIMEOUT_S)
        self.assertEqual(answers["/get/big"], (200, b"x" * MIB))


if __name__ == "__main__":
    unittest.main()
