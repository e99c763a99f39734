# SPDX-License-Identifier: MIT
# hkv under systemd's Type=notify, with a fake NOTIFY_SOCKET: READY=1 only once it listens, a
# STATUS= line every 5 s, STOPPING=1 on SIGTERM; JOURNAL_STREAM drops the log's timestamps.
import http.client
import os
import re
import signal
import socket
import tempfile
import time
import unittest

from hkv_server import HkvServer


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def tearDown(self):
        self.sock.close()
        self.dir.cleanup()

    def messages_until(self, needle, timeout):
        """Datagrams received until one contains `needle` (or the time is up)."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                break
            if needle in got[-1]:
                break
        return got

    def test_ready_status_and_stopping(self):
        with HkvServer("--max-memory", "64MiB", env={"NOTIFY_SOCKET": self.path}) as srv:
            ready = self.messages_until("READY=1", 5)
            self.assertTrue(ready and "READY=1" in ready[-1], ready)
            self.assertIn(f"STATUS=listening on 127.0.0.1:{srv.port}", ready[-1])
            # It listened before it said so: the port answers now.
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
            for i in range(20):
                conn.request("POST", f"/store/k{i}", body=b"v")
                conn.getresponse().read()
            conn.close()
            status = self.messages_until("STATUS=", 8)
            self.assertTrue(status, "no STATUS= line within 8 s")
            self.assertRegex(status[-1], r"STATUS=20 items, [0-9.]+ MiB of items, \d+ req/s, \d+ connections")
            srv.proc.send_signal(signal.SIGTERM)
            stopping = self.messages_until("STOPPING=1", 5)
            self.assertTrue(stopping and "STOPPING=1" in stopping[-1], stopping)
            code, log = srv.stop()
            self.assertEqual(code, 0, log)

    def test_without_notify_socket_nothing_is_sent(self):
        with HkvServer() as srv:
            self.assertEqual(self.messages_until("READY", 1), [])
            srv.stop()

    def test_journal_stream_drops_timestamps(self):
        with HkvServer(env={"JOURNAL_STREAM": "8:12345"}) as srv:
            code, log = srv.stop()
        lines = [line for line in log.splitlines() if line.strip()]
        self.assertTrue(any(line.startswith("info hkv ") for line in lines), log)
        self.assertFalse(any(re.match(r"\d{4}-\d\d-\d\dT", line) for line in lines), log)


if __name__ == "__main__":
    unittest.main()
