# SPDX-License-Identifier: MIT
# Connection limits and timeouts against a real server: --max-connections across workers, running
# out of file descriptors, and the header, idle and send timeouts closing what they should.
import json
import os
import resource
import socket
import time
import unittest

from hkv_server import HkvServer, assert_clean_exit, metric, rss_kib
from rawclients import GOAWAY, PREFACE, SETTINGS, RawH2, frame, get_request_frame


def get(srv, path="/", sock=None):
    """One keep-alive HTTP/1.1 GET; returns the status line."""
    own = sock is None
    if own:
        sock = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: hkv\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += sock.recv(65536)
        return head.split(b"\r\n")[0].decode()
    finally:
        if own:
            sock.close()


def read_until_closed(sock, timeout):
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def wait_until(condition, timeout=10.0):
    """Polls `condition` until it holds; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in %.0f s" % timeout)
        time.sleep(0.05)


def json_stats(sock):
    """/stats over an open keep-alive connection (a new one may be over --max-connections)."""
    sock.sendall(b"GET /stats HTTP/1.1\r\nHost: hkv\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return json.loads(body)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


class MaxConnectionsTest(unittest.TestCase):
    def test_beyond_the_limit_new_connections_get_503_and_old_ones_keep_working(self):
        # Two workers, one limit: the cap is server-wide, not per worker.
        with HkvServer("--max-connections", "20", threads=2) as srv:
            before = metric(srv, "hkv_connections_refused_total")
            # The scrape's own connection is the only one open, so the 20 below are all counted
            wait_until(lambda: metric(srv, "hkv_connections_open") == 1)
            held = [socket.create_connection((srv.host, srv.port), timeout=10) for _ in range(20)]
            wait_until(lambda: json_stats(held[0])["connections_open"] == 20)  # every accept has happened
            extra = socket.create_connection((srv.host, srv.port), timeout=10)
            reply = read_until_closed(extra, 5)
            extra.close()
            self.assertTrue(reply.startswith(b"HTTP/1.1 503 "), reply)
            self.assertIn(b"\r\nRetry-After: 1\r\n", reply)
            statuses = {get(srv, "/", sock=s) for s in held}
            self.assertEqual(statuses, {"HTTP/1.1 200 OK"})
            held.pop().close()
            self.assertEqual(json_stats(held[0])["connections_refused"], before + 1)
            for s in held:
                s.close()

    # The sanitizer runtimes need spare descriptors themselves: UBSan tests whether memory is
    # readable through a pipe, and with none left it reports a false "invalid vptr". The release
    # phase runs this test.
    @unittest.skipIf("ASAN_OPTIONS" in os.environ or "TSAN_OPTIONS" in os.environ,
                     "sanitizer runtimes misreport when the process has no file descriptors left")
    def test_file_descriptor_exhaustion_does_not_spin(self):
        def low_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
        srv = HkvServer("--max-connections", "10000", threads=1, preexec_fn=low_fd_limit)
        try:
            clients = []
            for _ in range(80):  # more than the server has descriptors for; the rest queue in the backlog
                clients.append(socket.create_connection((srv.host, srv.port), timeout=10))
            time.sleep(0.5)
            cpu0 = cpu_seconds(srv.proc.pid)
            time.sleep(2)
            busy = cpu_seconds(srv.proc.pid) - cpu0
            self.assertLess(busy, 0.5, f"the server used {busy:.2f} s of CPU in 2 s while out of descriptors")
            for c in clients:
                c.close()
            time.sleep(0.5)
            self.assertEqual(get(srv, "/"), "HTTP/1.1 200 OK")
            self.assertGreaterEqual(metric(srv, "hkv_accept_errors_total"), 1)
        finally:
            code, log = srv.stop()
        self.assertEqual(code, 0, log)
        self.assertIn("cannot accept connections", log)
        self.assertIn("open-file limit (48)", log)


class NonReadingClientsTest(unittest.TestCase):
    def test_pipelining_clients_that_never_read_are_bounded_then_closed(self):
        # 20 connections pipeline 5,000 GETs of a 3 KB value each (300 MB of responses in all; a
        # value this small is copied into the output) and never read: each connection's output
        # stops at its cap and the connection stops being read. Their queued responses hold no
        # admission slot, so others are served at once, and the send timeout closes all 20.
        with HkvServer("--send-timeout", "2") as srv:
            value = b"p" * 3000
            with socket.create_connection((srv.host, srv.port), timeout=10) as s:
                s.sendall(b"POST /store/big HTTP/1.1\r\nHost: hkv\r\nContent-Length: %d\r\n\r\n" % len(value) + value)
                self.assertIn(b" 201 ", s.recv(4096))
            rss_before = rss_kib(srv.proc.pid)
            requests = b"GET /get/big HTTP/1.1\r\nHost: hkv\r\n\r\n" * 5000
            hogs = []
            for _ in range(20):
                h = socket.socket()
                h.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                h.connect((srv.host, srv.port))
                h.setblocking(False)
                try:
                    h.send(requests)
                except BlockingIOError:
                    pass
                hogs.append(h)
            time.sleep(1.5)
            grown_mib = (rss_kib(srv.proc.pid) - rss_before) / 1024
            print(f"RSS grew by {grown_mib:.1f} MiB with 20 non-reading pipelining clients")
            if "ASAN_OPTIONS" not in os.environ:  # ASan's quarantine keeps up to 256 MiB of freed memory
                self.assertLess(grown_mib, 64, f"RSS grew by {grown_mib:.0f} MiB")
            self.assertEqual(get(srv, "/"), "HTTP/1.1 200 OK")
            deadline = time.monotonic() + 10
            while metric(srv, 'hkv_timeouts_total{kind="send"}') < 20 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(metric(srv, 'hkv_timeouts_total{kind="send"}'), 20)
            for h in hogs:
                h.close()


class TimeoutsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = HkvServer("--header-timeout", "1", "--idle-timeout", "1.5", "--send-timeout", "1")

    @classmethod
    def tearDownClass(cls):
        assert_clean_exit(*cls.srv.stop())

    def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(self):
        before = metric(self.srv, 'hkv_timeouts_total{kind="header"}')
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=10)
        t0 = time.monotonic()
        self.assertEqual(read_until_closed(s, 5), b"")
        took = time.monotonic() - t0
        s.close()
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 2.0)
        self.assertEqual(metric(self.srv, 'hkv_timeouts_total{kind="header"}'), before + 1)

    def test_an_idle_h2_connection_gets_goaway_after_the_idle_timeout(self):
        before = metric(self.srv, 'hkv_timeouts_total{kind="idle"}')
        h2 = RawH2(self.srv)
        status, _ = h2.get("/")
        self.assertEqual(status, 200)
        t0 = time.monotonic()
        h2.sock.settimeout(5)
        seen = set()
        while (f := h2.read_frame()) is not None:
            seen.add(f[0])
        took = time.monotonic() - t0
        h2.close()
        self.assertIn(GOAWAY, seen)
        self.assertEqual(h2.goaway, 0)  # NO_ERROR
        self.assertGreaterEqual(took, 1.3)
        self.assertLess(took, 2.5)
        self.assertEqual(metric(self.srv, 'hkv_timeouts_total{kind="idle"}'), before + 1)

    def test_an_h2_client_that_never_reads_is_closed_after_the_send_timeout(self):
        before = metric(self.srv, 'hkv_timeouts_total{kind="send"}')
        value = b"v" * 1_000_000
        with socket.create_connection((self.srv.host, self.srv.port), timeout=10) as s:
            s.sendall(b"POST /store/big HTTP/1.1\r\nHost: hkv\r\nContent-Length: %d\r\n\r\n" % len(value) + value)
        time.sleep(0.2)
        h2 = RawH2(self.srv, rcvbuf=4096)
        h2.send(PREFACE + frame(SETTINGS, 0, 0) + b"".join(get_request_frame("/get/big", sid) for sid in range(1, 40, 2)))
        deadline = time.monotonic() + 8
        while metric(self.srv, 'hkv_timeouts_total{kind="send"}') == before and time.monotonic() < deadline:
            time.sleep(0.2)
        h2.close()
        self.assertEqual(metric(self.srv, 'hkv_timeouts_total{kind="send"}'), before + 1)


if __name__ == "__main__":
    unittest.main()
