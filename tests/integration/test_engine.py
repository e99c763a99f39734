# SPDX-License-Identifier: MIT
# Engine behaviour: admission under a tiny concurrency limit, graceful shutdown, flags, bad h2 input.
import http.client
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

from hkv_server import BINARY, HkvServer, read_response
from rawclients import (DATA, END_STREAM, HEADERS, MIB, PING, PREFACE, SETTINGS, RawH2, connect, frame,
                        get_request_frame, slow_h1_get, window_update)


def h1(srv, method, path, body=None, host=None):
    conn = http.client.HTTPConnection(host or srv.host, srv.port, timeout=20)
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    result = (resp.status, resp.read())
    conn.close()
    return result


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "-w", "\n%{http_code} %{http_version}", *args],
                       capture_output=True, timeout=timeout)
    body, _, tail = p.stdout.rpartition(b"\n")
    code, version = tail.decode().split() if p.returncode == 0 else ("000", "0")
    return int(code), version, body


def run_threads(targets, timeout):
    """Runs callables in threads; returns the exceptions raised (and an error for any still running)."""
    errors = []

    def wrap(fn):
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)
    threads = [threading.Thread(target=wrap, args=(t,), daemon=True) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    errors += [AssertionError("client still running at the deadline") for t in threads if t.is_alive()]
    return errors


def wait_exit(srv, timeout):
    """Waits for the server to exit by itself; returns (code, log, seconds waited)."""
    t0 = time.monotonic()
    try:
        srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    waited = time.monotonic() - t0
    code, log = srv.stop(signal.SIGKILL) if srv.alive() else srv.stop()
    return code, log, waited


class ConcurrencyLimitTest(unittest.TestCase):
    def test_limit_1_slow_readers_h2_and_pipelined_all_complete(self):
        started = time.monotonic()
        with HkvServer("--concurrency-limit", "1", "--max-value-size", "4MiB", threads=2) as srv:
            big, small = os.urandom(2 * MIB + 4321), b"small value"
            self.assertEqual(h1(srv, "POST", "/store/big", big)[0], 201)
            self.assertEqual(h1(srv, "POST", "/store/small", small)[0], 201)

            def slow_reader():
                status, body, s = slow_h1_get(srv, "/get/big")
                self.assertEqual(status, 200)
                self.assertTrue(body == big, "slow reader: body differs")
                s.sendall(b"GET /get/small HTTP/1.1\r\nHost: hkv\r\n\r\n")  # still keep-alive
                self.assertEqual(read_response(s.makefile("rb"))[::2], (200, small))
                s.close()

            def slow_h2_reader():
                c = RawH2(srv)
                self.assertEqual(c.get("/get/big", delay=0.003), (200, big))
                c.close()

            def pipelined():
                s = connect(srv)
                reqs = ["/get/big", "/", "/get/big", "/get/missing", "/get/small"]
                s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: hkv\r\n\r\n".encode() for p in reqs))
                f = s.makefile("rb")
                got = [read_response(f) for _ in reqs]
                self.assertEqual([(g[0], g[2]) for g in got],
                                 [(200, big), (200, b"Hello, World!"), (200, big), (404, got[3][2]), (200, small)])
                s.close()

            def h2_curl(i):
                def fetch():
                    code, version, body = curl("--http2-prior-knowledge", "--limit-rate", "16M",
                                               f"{srv.url}/get/big", timeout=50)
                    self.assertEqual((code, version), (200, "2"), f"curl {i}")
                    self.assertTrue(body == big, f"curl {i}: body differs")
                return fetch

            clients = [slow_reader] * 20 + [slow_h2_reader] * 3 + [pipelined] * 3 + [h2_curl(i) for i in range(10)]
            errors = run_threads(clients, timeout=50)
            self.assertEqual(errors, [])
            self.assertTrue(srv.alive())
            self.assertEqual(h1(srv, "GET", "/"), (200, b"Hello, World!"))
            code, log = srv.stop()
            self.assertEqual(code, 0, log)
        self.assertLess(time.monotonic() - started, 240, "a hang, not a slow machine: the clients take seconds")

    def test_dead_connection_releases_its_slot(self):
        big = os.urandom(4 * MIB)
        for how in ("protocol error", "reset", "FIN"):
            with self.subTest(how=how), HkvServer("--concurrency-limit", "1", "--max-value-size", "8MiB",
                                                  threads=1) as srv:
                self.assertEqual(h1(srv, "POST", "/store/big", big)[0], 201)
                # The stream stalls on flow control (64 KiB window) while holding the only slot.
                c = RawH2(srv)
                c.send(PREFACE + frame(SETTINGS, 0, 0) + get_request_frame("/get/big"))
                received = 0
                c.sock.settimeout(0.5)
                try:
                    while (f := c.read_frame()) is not None:
                        received += len(f[3]) if f[0] == DATA else 0
                except socket.timeout:
                    pass
                self.assertGreater(received, 0)
                if how == "protocol error":
                    c.send(frame(DATA, 0, 0, b"not on stream 0"))  # answered with GOAWAY and close
                elif how == "reset":
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()  # "FIN": everything sent to it was read, so this is an orderly close
                errors = run_threads([lambda: self.assertEqual(h1(srv, "GET", "/")[0], 200)], timeout=5)
                srv.stop(signal.SIGKILL)
                self.assertEqual(errors, [], f"after a client holding the only slot went away ({how}), "
                                             "a new request was not answered within 5 s")


class ShutdownTest(unittest.TestCase):
    big = os.urandom(16 * MIB)

    def start(self, *args):
        srv = HkvServer("--max-value-size", "32MiB", *args)
        self.assertEqual(h1(srv, "POST", "/store/big", self.big)[0], 201)
        return srv

    def test_sigterm_finishes_inflight_h1_and_h2_and_refuses_new(self):
        srv = self.start("--shutdown-timeout", "20")
        resume, results = threading.Event(), {}

        def h1_client():
            status, body, s = slow_h1_get(srv, "/get/big", pause_at=MIB, resume=resume)
            results["h1"] = (status, body == self.big, s.recv(1))  # then EOF: b""
            s.close()

        def h2_client():
            c = RawH2(srv)
            status, body = c.get("/get/big", pause_at=256 * 1024, resume=resume)
            while c.read_frame() is not None:  # then GOAWAY(NO_ERROR) and EOF
                pass
            results["h2"] = (status, body == self.big, c.goaway)
            c.close()

        def guarded(fn, name):
            def run():
                try:
                    fn()
                except BaseException as e:  # noqa: BLE001 - reported below
                    results[name] = e
            return run
        threads = [threading.Thread(target=guarded(t, n), daemon=True) for t, n in ((h1_client, "h1"), (h2_client, "h2"))]
        for t in threads:
            t.start()
        time.sleep(1.0)  # both are mid-way through their responses
        srv.proc.send_signal(signal.SIGTERM)
        refused = False
        for _ in range(40):
            try:
                connect(srv).close()
                time.sleep(0.05)
            except (ConnectionRefusedError, ConnectionResetError):
                # refused; or reset: it reached the backlog just as the listening socket closed
                refused = True
                break
        self.assertTrue(srv.alive(), "server exited before its in-flight responses were done")
        resume.set()
        for t in threads:
            t.join(30)
        code, log, waited = wait_exit(srv, 10)
        self.assertTrue(refused, "new connections were still accepted after SIGTERM")
        self.assertEqual(results.get("h1"), (200, True, b""), "HTTP/1.1 response cut short")
        self.assertEqual(results.get("h2"), (200, True, 0), "HTTP/2 response cut short")
        self.assertLess(waited, 5, "server did not exit promptly once responses were done")
        self.assertEqual(code, 0, log)
        for line in ("listening on", "received SIGTERM", "stopped"):
            self.assertIn(line, log)

    def test_idle_connections_closed_and_sigint(self):
        srv = HkvServer("--shutdown-timeout", "30")
        keep_alive = connect(srv)
        keep_alive.sendall(b"GET / HTTP/1.1\r\nHost: hkv\r\n\r\n")
        self.assertEqual(read_response(keep_alive.makefile("rb"))[0], 200)
        h2 = RawH2(srv)
        h2.send(PREFACE + frame(SETTINGS, 0, 0))
        self.assertEqual(h2.read_frame()[0], SETTINGS)
        silent = connect(srv)  # never sends a byte
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGINT)
        for s in (keep_alive, silent):
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"", "idle connection not closed")
        h2.sock.settimeout(5)
        while h2.read_frame() is not None:
            pass
        self.assertEqual(h2.goaway, 0, "idle h2 connection did not get GOAWAY(NO_ERROR)")
        for s in (keep_alive, silent, h2.sock):
            s.close()
        code, log, waited = wait_exit(srv, 10)
        self.assertLess(time.monotonic() - t0, 5, "idle connections kept the server up")
        self.assertEqual(code, 0, log)
        self.assertIn("received SIGINT", log)
        self.assertIn("stopped", log)

    def test_shutdown_timeout_with_clients_that_never_read(self):
        srv = self.start("--shutdown-timeout", "1")
        s = connect(srv, rcvbuf=16 * 1024)
        s.sendall(b"GET /get/big HTTP/1.1\r\nHost: hkv\r\n\r\n")
        h2 = RawH2(srv)
        h2.send(PREFACE + frame(SETTINGS, 0, 0) + get_request_frame("/get/big"))  # no WINDOW_UPDATE ever
        time.sleep(0.5)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code, log, waited = wait_exit(srv, 10)
        elapsed = time.monotonic() - t0
        s.close()
        h2.close()
        self.assertGreater(elapsed, 0.8, "server did not wait for in-flight responses")
        self.assertLess(elapsed, 3.0, "server overran --shutdown-timeout 1")
        self.assertEqual(code, 0, log)
        self.assertIn("stopped", log)


class FlagsTest(unittest.TestCase):
    def run_hkv(self, *args, timeout=10):
        p = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr

    def test_help_lists_every_flag(self):
        code, out = self.run_hkv("--help")
        self.assertEqual(code, 0)
        for flag in ("--port", "--bind", "--concurrency-limit", "--threads", "--max-value-size", "--initial-capacity",
                     "--store", "--max-streams", "--shutdown-timeout", "--no-h2c-upgrade", "--log-level", "--version"):
            self.assertIn(flag, out)

    def test_version(self):
        code, out = self.run_hkv("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"\d+\.\d+\.\d+")

    def test_invalid_values_rejected(self):
        for args in (("--concurrency-limit", "0"), ("--concurrency-limit", "-3"), ("--threads", "0"),
                     ("--log-level", "loud"), ("--store", "btree"), ("--max-value-size", "lots")):
            with self.subTest(args=args):
                code, out = self.run_hkv("--port", "0", *args)
                self.assertNotEqual(code, 0)
                self.assertIn(args[0], out)

    def test_concurrency_limit_capped_to_500(self):
        with HkvServer("--concurrency-limit", "600") as srv:
            self.assertEqual(h1(srv, "GET", "/")[0], 200)
            code, log = srv.stop()
        self.assertEqual(code, 0, log)
        self.assertRegex(log, r"warn.*capped to 500")
        self.assertIn("concurrency-limit=500", log)

    def test_store_sharded_end_to_end(self):
        with HkvServer("--store", "sharded", "--initial-capacity", "4") as srv:
            self.assertIn("store=sharded", srv.log.decode())
            for i in range(300):  # well past the initial capacity
                self.assertEqual(h1(srv, "POST", f"/store/k{i}", f"v{i}".encode())[0], 201)
            self.assertEqual(h1(srv, "PUT", "/store/k7", b"seven"), (200, b"replaced\n"))
            self.assertEqual(curl("--http2-prior-knowledge", f"{srv.url}/get/k7"), (200, "2", b"seven"))
            self.assertEqual(h1(srv, "GET", "/get/k299"), (200, b"v299"))
            self.assertEqual(h1(srv, "DELETE", "/store/k7")[0], 204)
            self.assertEqual(h1(srv, "GET", "/get/k7")[0], 404)
            self.assertEqual(srv.stop()[0], 0)

    def test_bind_ipv6_loopback(self):
        with HkvServer(bind="::1") as srv:
            self.assertEqual(h1(srv, "POST", "/store/v6", b"six"), (201, b"created\n"))
            self.assertEqual(curl("--http2-prior-knowledge", f"{srv.url}/get/v6"), (200, "2", b"six"))
            self.assertIn("listening on [::1]", srv.log.decode())

    def test_bind_dual_stack(self):
        with HkvServer(bind="::") as srv:
            self.assertEqual(h1(srv, "POST", "/store/ds", b"both", host="127.0.0.1")[0], 201)
            self.assertEqual(h1(srv, "GET", "/get/ds", host="::1"), (200, b"both"))
            self.assertEqual(curl("--http2-prior-knowledge", f"http://[::1]:{srv.port}/get/ds"), (200, "2", b"both"))

    def test_bad_bind_rejected(self):
        for addr in ("not-an-address", "256.1.1.1", "::g", "localhost", "192.0.2.1"):
            with self.subTest(bind=addr):
                code, out = self.run_hkv("--port", "0", "--bind", addr)
                self.assertNotEqual(code, 0)
                self.assertIn("cannot listen", out)
                self.assertIn(addr, out)

    def test_port_in_use_by_another_socket(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        try:
            code, out = self.run_hkv("--port", str(holder.getsockname()[1]))
        finally:
            holder.close()
        self.assertNotEqual(code, 0)
        self.assertIn("Address already in use", out)

    def test_port_in_use_by_another_hkv(self):
        with HkvServer() as first:
            second = subprocess.Popen([BINARY, "--port", str(first.port), "--threads", "1"],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                out, _ = second.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                second.kill()
                out, _ = second.communicate()
                self.fail(f"a second hkv started on port {first.port}, which the first one is using: "
                          + out.decode(errors="replace"))
            self.assertNotEqual(second.returncode, 0)
            self.assertIn(b"Address already in use", out)

    def test_no_h2c_upgrade(self):
        with HkvServer("--no-h2c-upgrade") as srv:
            self.assertEqual(curl("--http2", "--data-binary", "up", f"{srv.url}/store/u"), (201, "1.1", b"created\n"))
            self.assertEqual(curl("--http2", f"{srv.url}/get/u"), (200, "1.1", b"up"))
            self.assertEqual(curl("--http2-prior-knowledge", f"{srv.url}/get/u"), (200, "2", b"up"))

    def test_max_value_size_1kib(self):
        with HkvServer("--max-value-size", "1KiB") as srv:
            self.assertEqual(h1(srv, "POST", "/store/a", b"a" * 1024)[0], 201)
            self.assertEqual(h1(srv, "POST", "/store/b", b"b" * 1025)[0], 413)
            code, version, _ = curl("--http2-prior-knowledge", "--data-binary", "b" * 1025, f"{srv.url}/store/b")
            self.assertEqual((code, version), (413, "2"))
            self.assertEqual(h1(srv, "GET", "/get/b")[0], 404)
            self.assertEqual(h1(srv, "GET", "/get/a"), (200, b"a" * 1024))


class BadH2InputTest(unittest.TestCase):
    CASES = {
        "DATA on stream 0": frame(SETTINGS, 0, 0) + frame(DATA, 0, 0, b"abc"),
        "first frame not SETTINGS": frame(PING, 0, 0, b"12345678"),
        "undecodable HPACK": frame(SETTINGS, 0, 0) + frame(HEADERS, 0x5, 1, b"\xff" * 6),
        "frame larger than allowed": frame(SETTINGS, 0, 0) + b"\xff\xff\xff\x00\x00\x00\x00\x00\x01" + b"x" * 100,
        "window overflow": frame(SETTINGS, 0, 0) + window_update(0, 0x7FFFFFFF) * 2,
        "bad SETTINGS value": frame(SETTINGS, 0, 0, (2).to_bytes(2, "big") + (7).to_bytes(4, "big")),
        "CONTINUATION out of place": frame(SETTINGS, 0, 0) + frame(9, 0x4, 1, b"\x82"),
        "random bytes": bytes((i * 37 + 11) % 256 for i in range(2000)),
    }

    def test_garbage_after_preface_gets_goaway_others_unaffected(self):
        with HkvServer() as srv:
            self.assertEqual(h1(srv, "POST", "/store/k", b"v")[0], 201)
            keep_alive = connect(srv)
            good_h2 = RawH2(srv)
            for name, garbage in self.CASES.items():
                with self.subTest(case=name):
                    c = RawH2(srv)
                    c.send(PREFACE + garbage)
                    c.sock.settimeout(5)
                    while c.read_frame() is not None:  # until the server closes (a timeout fails)
                        pass
                    self.assertIsNotNone(c.goaway, "closed without GOAWAY")
                    self.assertNotEqual(c.goaway, 0, "GOAWAY should carry an error code")
                    c.close()
            for junk in (b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00" + b"\x00" * 64):
                s = connect(srv)
                s.sendall(junk)
                self.assertEqual(read_response(s.makefile("rb"))[0], 400)
                s.close()
            self.assertTrue(srv.alive())
            keep_alive.sendall(b"GET /get/k HTTP/1.1\r\nHost: hkv\r\n\r\n")
            self.assertEqual(read_response(keep_alive.makefile("rb"))[::2], (200, b"v"))
            self.assertEqual(good_h2.get("/get/k"), (200, b"v"))
            self.assertEqual(curl("--http2-prior-knowledge", f"{srv.url}/get/k"), (200, "2", b"v"))
            keep_alive.close()
            good_h2.close()

    def test_preface_split_across_packets(self):
        with HkvServer() as srv:
            s = connect(srv)
            for part in (PREFACE[:3], PREFACE[3:17], PREFACE[17:]):
                s.sendall(part)
                time.sleep(0.1)
            c = RawH2.__new__(RawH2)
            c.sock, c.buf, c.goaway = s, b"", None
            c.send(frame(SETTINGS, 0, 0) + get_request_frame("/"))
            body = b""
            while (f := c.read_frame()) is not None:
                body += f[3] if f[0] == DATA else b""
                if f[0] == DATA and f[1] & END_STREAM:
                    break
            self.assertEqual(body, b"Hello, World!")
            s.close()


if __name__ == "__main__":
    unittest.main()
