# SPDX-License-Identifier: MIT
# Shutdown under load: SIGTERM while HTTP/1.1 and h2c clients write unique keys loses no
# acknowledged write, cuts no response and exits within --shutdown-timeout; a client that stops
# reading is cut at the deadline, not waited for; SIGKILL loses only what came after the last
# periodic snapshot began.
import datetime
import http.client
import multiprocessing
import os
import random
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from hkv_server import HkvServer
from pipelined import pipeline, request_bytes
from rawclients import (DATA, END_STREAM, GOAWAY, HEADERS, PING, PREFACE, RST_STREAM, SETTINGS, ACK,
                        WINDOW_UPDATE, frame, window_update)

H1_PROCS, H1_CONNS = 3, 3  # processes, keep-alive connections (threads) in each
H2_PROCS, H2_STREAMS = 2, 24  # processes (one connection each), streams in flight on each
ANSWERS = (b"created\n", b"replaced\n")
CLIENT_DEADLINE = 60  # seconds a client runs at most, whatever happens
SNAP_LINE = re.compile(r"^(\S+) info periodic snapshot written to .*: (\d+) keys, .* in (\d+) ms$", re.M)


def value_of(key):
    """The value written under key: 1 to 400 bytes, the same in every process."""
    rng = random.Random(key)
    return rng.randbytes(rng.randrange(1, 401))


class Tally:
    """What one client saw. acked: (key, time the complete 2xx arrived); unanswered: keys sent on a
    connection that then closed before any byte of their response; cut: keys whose response began
    but did not finish, or that the server took (h2c: at or below GOAWAY's last stream id) and never
    answered; other: keys answered with anything but created/replaced."""

    def __init__(self):
        self.acked, self.unanswered, self.cut, self.other = [], [], [], []

    def merge(self, t):
        self.acked += t.acked
        self.unanswered += t.unanswered
        self.cut += t.cut
        self.other += t.other


def h1_connection(port, prefix, tally, lock, deadline):
    """POSTs unique keys on one keep-alive http.client connection until the server is gone."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    seq, served = 0, 0  # served: responses on the current connection
    while time.monotonic() < deadline:
        key = f"{prefix}-{seq}"
        seq += 1
        try:
            conn.request("POST", f"/store/{key}", body=value_of(key))
        except ConnectionRefusedError:  # the server is gone
            return
        except (BrokenPipeError, ConnectionResetError):
            conn.close()
            served = 0
            with lock:
                tally.unanswered.append(key)
            continue
        try:
            resp = conn.getresponse()
        except http.client.RemoteDisconnected:  # the status line is empty: no byte arrived
            conn.close()
            served = 0
            with lock:
                tally.unanswered.append(key)
            continue
        except ConnectionResetError:
            # On a fresh connection a reset means the listener closed before accepting it. On one that
            # served responses the server must close gracefully, so a reset there may have cut one.
            conn.close()
            with lock:
                (tally.cut if served else tally.unanswered).append(key)
            served = 0
            continue
        except (http.client.HTTPException, OSError):
            conn.close()
            served = 0
            with lock:
                tally.cut.append(key)
            continue
        try:
            body = resp.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            served = 0
            with lock:
                tally.cut.append(key)
            continue
        served += 1
        with lock:
            if resp.status in (200, 201) and body in ANSWERS:
                tally.acked.append((key, time.time()))
            elif body in ANSWERS or resp.status in (200, 201):
                tally.cut.append(key)  # a 2xx whose body is not the whole answer
            else:
                tally.other.append(key)
        if resp.will_close:
            conn.close()
            served = 0


def h1_process(port, prefix, results):
    tally, lock = Tally(), threading.Lock()
    deadline = time.monotonic() + CLIENT_DEADLINE
    threads = [threading.Thread(target=h1_connection, args=(port, f"{prefix}c{i}", tally, lock, deadline))
               for i in range(H1_CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(tally)


def hpack_literal(name, value):
    """A header field as an HPACK literal without indexing, no Huffman coding (short strings only)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_connection(port, prefix, tally, deadline):
    """POSTs unique keys with H2_STREAMS streams in flight on one h2c connection until it ends.
    Returns False once the server refuses new connections."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    except (ConnectionRefusedError, ConnectionResetError):  # reset: queued as the listener closed
        return False
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + window_update(0, (1 << 31) - 1 - 65535))
    buf = b""
    streams = {}  # stream id -> [key, response bytes begun?, body]
    next_sid, seq, goaway_last, send_window = 1, 0, None, 65535

    def open_stream():
        nonlocal next_sid, seq, send_window
        key = f"{prefix}-{seq}"
        seq += 1
        value = value_of(key)
        block = b"".join(hpack_literal(n, v) for n, v in (
            (b":method", b"POST"), (b":scheme", b"http"), (b":path", f"/store/{key}".encode()),
            (b":authority", b"hkv"), (b"content-length", str(len(value)).encode())))
        sock.sendall(frame(HEADERS, 0x4, next_sid, block) + frame(DATA, END_STREAM, next_sid, value))
        send_window -= len(value)
        streams[next_sid] = [key, False, b""]
        next_sid += 2

    def end_of_connection():
        for sid, (key, begun, _) in streams.items():
            if begun or (goaway_last is not None and sid <= goaway_last):
                tally.cut.append(key)  # begun, or taken by the server (GOAWAY) and never answered
            elif goaway_last is None:
                tally.unanswered.append(key)
            # streams above GOAWAY's last stream id were never processed: nothing to count
        sock.close()

    while True:
        try:
            while (goaway_last is None and len(streams) < H2_STREAMS and send_window > 400
                   and time.monotonic() < deadline):
                open_stream()
        except OSError:
            end_of_connection()
            return True
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                end_of_connection()
                return True
            buf += chunk
        length = int.from_bytes(buf[:3], "big")
        ftype, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
        payload, buf = buf[9:9 + length], buf[9 + length:]
        try:
            if ftype == SETTINGS and not flags & ACK:
                sock.sendall(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                sock.sendall(frame(PING, ACK, 0, payload))
        except OSError:
            pass
        if ftype == WINDOW_UPDATE and sid == 0:
            send_window += int.from_bytes(payload, "big") & 0x7FFFFFFF
        elif ftype == GOAWAY:
            goaway_last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        elif ftype == RST_STREAM and sid in streams:
            key, begun, _ = streams.pop(sid)
            (tally.cut if begun else tally.other).append(key)
        elif ftype in (HEADERS, DATA) and sid in streams:
            s = streams[sid]
            s[1] = True
            if ftype == DATA:
                s[2] += payload
            if flags & END_STREAM:
                del streams[sid]
                (tally.acked.append((s[0], time.time())) if s[2] in ANSWERS else tally.other.append(s[0]))
        if goaway_last is not None and not any(sid <= goaway_last for sid in streams):
            for sid in list(streams):  # above the last stream id: not processed, safe to retry
                del streams[sid]
            sock.close()
            return True
        if time.monotonic() >= deadline and not streams:
            sock.close()
            return False


def h2_process(port, prefix, results):
    tally = Tally()
    deadline = time.monotonic() + CLIENT_DEADLINE
    n = 0
    while time.monotonic() < deadline and h2_connection(port, f"{prefix}n{n}", tally, deadline):
        n += 1
    results.put(tally)


class Load:
    """The writers: H1_PROCS x H1_CONNS http.client connections and H2_PROCS raw h2c connections,
    each in its own process, plus h2load POSTing its own keys over h2c when it is installed."""

    def __init__(self, port):
        self.results = multiprocessing.Queue()
        self.procs = [multiprocessing.Process(target=h1_process, args=(port, f"h1p{i}", self.results))
                      for i in range(H1_PROCS)]
        self.procs += [multiprocessing.Process(target=h2_process, args=(port, f"h2p{i}", self.results))
                       for i in range(H2_PROCS)]
        for p in self.procs:
            p.start()
        self.h2load = None
        if shutil.which("h2load"):
            self.dir = tempfile.TemporaryDirectory()
            uris, body = os.path.join(self.dir.name, "uris"), os.path.join(self.dir.name, "body")
            with open(uris, "w") as f:
                f.writelines(f"http://127.0.0.1:{port}/store/bg{i}\n" for i in range(10000))
            with open(body, "wb") as f:
                f.write(b"b" * 100)
            # -n rather than -D: h2load then ends as soon as the server is gone.
            self.h2load = subprocess.Popen(["h2load", "-c", "4", "-m", "10", "-n", "100000000",
                                            "-d", body, "-i", uris], stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True)

    def finish(self, timeout=30):
        """Waits for every client to see the server gone; returns (merged Tally, h2load summary)."""
        total = Tally()
        for _ in self.procs:
            total.merge(self.results.get(timeout=timeout))
        for p in self.procs:
            p.join(timeout)
        summary = ""
        if self.h2load is not None:
            try:
                out, _ = self.h2load.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.h2load.kill()
                out, _ = self.h2load.communicate()
            m = re.search(r"^requests: \d+ total, (\d+) started, (\d+) done, (\d+) succeeded", out, re.M)
            summary = f"{m[1]} started, {m[2]} done, {m[3]} succeeded" if m else out[-300:]
            self.dir.cleanup()
        return total, summary


def read_back(srv, keys):
    """GETs every key (pipelined HTTP/1.1); returns {key: body} for those answered 200."""
    found = {}
    for i in range(0, len(keys), 20000):
        batch = keys[i:i + 20000]
        for key, r in zip(batch, pipeline(srv, [request_bytes("GET", f"/get/{k}") for k in batch])):
            if r[0] == 200:
                found[key] = r[2]
    return found


def log_time(stamp):
    """A log line's local time stamp (2026-01-02T03:04:05.678) as Unix time."""
    return datetime.datetime.fromisoformat(stamp).timestamp()


def note(text):
    sys.stderr.write(f"\n  [{text}]")


class ShutdownTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "hkv.snap")

    def tearDown(self):
        self.dir.cleanup()

    def wait_for_keys(self, srv, n, timeout=60):
        """Lets the load run until the store holds at least n keys (so the server is busy)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = pipeline(srv, [request_bytes("GET", "/stats")])[0]
            if int(re.search(rb'"items":\s*(\d+)', r[2]).group(1)) >= n:
                return
            time.sleep(0.2)
        self.fail(f"fewer than {n} keys stored in {timeout} s")

    def check_durable(self, acked):
        """Restarts from the snapshot; returns the acknowledged keys missing or changed."""
        srv = HkvServer("--snapshot", self.path)
        try:
            found = read_back(srv, [k for k, _ in acked])
        finally:
            self.assertEqual(srv.stop()[0], 0)
        return [k for k, _ in acked if found.get(k) != value_of(k)]

    def test_sigterm_under_load_loses_and_cuts_nothing(self):
        self.sigterm_under_load()

    def test_sigterm_with_requests_waiting_for_admission(self):
        # With 4 slots for about 100 writers, most requests wait for a slot when SIGTERM comes.
        self.sigterm_under_load("--concurrency-limit", "4")

    def sigterm_under_load(self, *args):
        timeout = 5.0
        srv = HkvServer("--snapshot", self.path, "--shutdown-timeout", str(timeout), *args)
        load = Load(srv.port)
        try:
            self.wait_for_keys(srv, 30000)  # h2load writes at most 10,000 of them
        finally:
            started = time.monotonic()
            code, log = srv.stop(signal.SIGTERM, timeout=timeout + 30)
            took = time.monotonic() - started
            tally, h2load = load.finish()
        self.assertEqual(code, 0, log)
        label = " ".join(("SIGTERM",) + args)
        drain = re.search(r"workers stopped in (\d+) ms", log).group(1)
        snap = re.search(r"shutdown snapshot written to .*: (\d+) keys.* in (\d+) ms", log)
        note(f"{label}: {len(tally.acked)} acknowledged, {len(tally.unanswered)} closed before any response "
             f"byte, {len(tally.cut)} cut, {len(tally.other)} other answers; exit {took:.2f} s (drain {drain} ms, "
             f"snapshot of {snap.group(1)} keys {snap.group(2)} ms); h2load: {h2load}")
        self.assertLessEqual(took, timeout + 2.0, log)
        self.assertEqual(tally.cut, [])
        self.assertEqual(tally.other, [])
        self.assertGreaterEqual(len(tally.acked), 15000)
        lost = self.check_durable(tally.acked)
        note(f"{label}: {len(lost)} acknowledged writes lost or changed after the restart")
        self.assertEqual(lost, [], f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}")

    def test_sigterm_does_not_wait_past_the_timeout_for_a_client_that_does_not_read(self):
        timeout = 1.5
        srv = HkvServer("--snapshot", self.path, "--shutdown-timeout", str(timeout), "--max-value-size", "16MiB")
        big = os.urandom(8 << 20)
        with srv.connect() as s:
            s.sendall(request_bytes("POST", "/store/big", big))
            self.assertIn(b" 201 ", s.recv(4096))
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect((srv.host, srv.port))
        stuck.sendall(request_bytes("GET", "/get/big"))
        stuck.recv(100)  # the response has begun; nothing more is read
        try:
            started = time.monotonic()
            code, log = srv.stop(signal.SIGTERM, timeout=timeout + 30)
            took = time.monotonic() - started
        finally:
            stuck.close()
        self.assertEqual(code, 0, log)
        drain = int(re.search(r"workers stopped in (\d+) ms", log).group(1))
        note(f"stuck reader: exit {took:.2f} s (drain {drain} ms) with --shutdown-timeout {timeout}")
        self.assertLessEqual(drain, timeout * 1000 + 300, log)  # the deadline is checked every 100 ms
        self.assertGreaterEqual(took, timeout - 0.1, log)
        self.assertLessEqual(took, timeout + 2.0, log)
        srv = HkvServer("--snapshot", self.path, "--max-value-size", "16MiB")
        try:
            r = pipeline(srv, [request_bytes("GET", "/get/big")])[0]
        finally:
            self.assertEqual(srv.stop()[0], 0)
        self.assertEqual((r[0], r[2] == big), (200, True))

    def test_sigkill_loses_only_what_came_after_the_last_periodic_snapshot(self):
        srv = HkvServer("--snapshot", self.path, "--snapshot-interval", "1")
        load = Load(srv.port)
        sel = selectors.DefaultSelector()
        sel.register(srv.proc.stdout, selectors.EVENT_READ)
        try:
            # Three periodic snapshots under load, then the kill half-way to the next one.
            deadline = time.monotonic() + 30
            while len(SNAP_LINE.findall(srv.log.decode(errors="replace"))) < 3 and time.monotonic() < deadline:
                if sel.select(timeout=0.2):
                    srv.log += os.read(srv.proc.stdout.fileno(), 65536)
            time.sleep(0.5)
        finally:
            sel.close()
            killed_at = time.time()
            code, log = srv.stop(signal.SIGKILL)
            tally, h2load = load.finish()
        self.assertEqual(code, -signal.SIGKILL)
        snaps = SNAP_LINE.findall(log)
        self.assertGreaterEqual(len(snaps), 3, log)
        stamp, keys, ms = snaps[-1]
        # The last complete snapshot began `ms` before its line was logged; 5 ms for the rounding.
        began = log_time(stamp) - int(ms) / 1000 - 0.005
        before = [(k, t) for k, t in tally.acked if t < began]
        after = [(k, t) for k, t in tally.acked if t >= began]
        missing = set(self.check_durable(tally.acked))
        lost_before = [k for k, _ in before if k in missing]
        lost_after = sum(1 for k, _ in after if k in missing)
        note(f"SIGKILL {killed_at - began:.2f} s after the last periodic snapshot ({keys} keys, {ms} ms) "
             f"began: {len(before)} writes acknowledged before it, {len(lost_before)} of them lost; "
             f"{len(after)} after it, {lost_after} of them lost; {len(tally.cut)} responses cut by the kill; "
             f"h2load: {h2load}")
        self.assertGreater(len(before), 1000)
        self.assertEqual(lost_before, [], f"{len(lost_before)} writes acknowledged before the snapshot lost")


if __name__ == "__main__":
    unittest.main()
