# SPDX-License-Identifier: MIT
# Slowloris: 1,000 connections trickle request heads a byte at a time while a normal client keeps
# working. The normal client's p99 latency stays under 200 ms (a bound that catches a hang; speed
# is measured in bench/), and the header timeout closes every
# trickling connection (with a 408) whatever its pace.
import resource
import socket
import statistics
import threading
import time
import unittest

from hkv_server import HkvServer

TRICKLERS = 1000
HEADER_TIMEOUT_S = 4


class SlowlorisTest(unittest.TestCase):
    def test_normal_clients_are_served_while_1000_connections_trickle(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
        with HkvServer("--header-timeout", str(HEADER_TIMEOUT_S)) as srv:
            tricklers = []
            for _ in range(TRICKLERS):
                s = socket.create_connection((srv.host, srv.port), timeout=10)
                s.sendall(b"GET /get/k HTTP/1.1\r\nHost: hkv\r\nX-Slow: ")
                tricklers.append(s)
            stop = threading.Event()

            def trickle():
                while not stop.is_set():
                    for s in tricklers:
                        try:
                            s.send(b"a")
                        except OSError:
                            pass  # closed by the server: what the timeout is for
                    stop.wait(0.5)

            t = threading.Thread(target=trickle)
            t.start()
            started = time.monotonic()
            try:
                latencies = []
                normal = socket.create_connection((srv.host, srv.port), timeout=10)
                normal.sendall(b"POST /store/k HTTP/1.1\r\nHost: hkv\r\nContent-Length: 2\r\n\r\nok")
                normal.recv(4096)
                for _ in range(2000):
                    t0 = time.perf_counter()
                    normal.sendall(b"GET /get/k HTTP/1.1\r\nHost: hkv\r\n\r\n")
                    reply = normal.recv(4096)
                    latencies.append(time.perf_counter() - t0)
                    self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"ok"), reply)
                normal.close()
                p99 = statistics.quantiles(latencies, n=100)[98]
                print(f"normal client: {len(latencies)} GETs, p50 {statistics.median(latencies) * 1e3:.2f} ms, "
                      f"p99 {p99 * 1e3:.2f} ms, with {TRICKLERS} trickling connections")
                self.assertLess(p99, 0.200, "normal requests waited behind the tricklers")

                # Every trickling connection is answered 408 and closed at the header timeout.
                time.sleep(max(0.0, started + HEADER_TIMEOUT_S + 1.5 - time.monotonic()))
                timed_out = 0
                for s in tricklers:
                    s.settimeout(5)
                    data = b""
                    try:
                        while chunk := s.recv(4096):
                            data += chunk
                    except ConnectionResetError:
                        pass
                    timed_out += data.startswith(b"HTTP/1.1 408 ")
            finally:
                stop.set()
                t.join()
                for s in tricklers:
                    s.close()
            self.assertEqual(timed_out, TRICKLERS)


if __name__ == "__main__":
    unittest.main()
