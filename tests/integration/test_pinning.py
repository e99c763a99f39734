# SPDX-License-Identifier: MIT
# --pin-threads: each worker thread is bound to one allowed core, and the server still serves.
import http.client
import os
import unittest

from hkv_server import HkvServer


def thread_cpus(pid):
    """Cpus_allowed_list of every thread of `pid`."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    out.append(line.split(":", 1)[1].strip())
    return out


class PinThreadsTest(unittest.TestCase):
    def test_workers_are_pinned_round_robin(self):
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            self.skipTest("needs two cores to tell pinned from unpinned")
        threads = 2 * len(allowed)
        with HkvServer("--pin-threads", threads=threads) as srv:
            conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
            conn.request("GET", "/")
            self.assertEqual(conn.getresponse().read(), b"Hello, World!")
            conn.close()
            pinned = [c for c in thread_cpus(srv.proc.pid) if c.isdigit()]
            # every worker runs on exactly one core, spread over all allowed cores
            self.assertEqual(len(pinned), threads, thread_cpus(srv.proc.pid))
            self.assertEqual(sorted(set(int(c) for c in pinned)), allowed)
            self.assertIn("(pinned)", srv.log.decode())
            code, log = srv.stop()
            self.assertEqual(code, 0, log)

    def test_without_flag_workers_may_use_every_core(self):
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            self.skipTest("needs two cores to tell pinned from unpinned")
        with HkvServer(threads=2) as srv:
            pinned = [c for c in thread_cpus(srv.proc.pid) if c.isdigit()]
            self.assertEqual(pinned, [])
            code, log = srv.stop()
            self.assertEqual(code, 0, log)


if __name__ == "__main__":
    unittest.main()
