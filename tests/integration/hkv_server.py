# SPDX-License-Identifier: MIT
# Test harness: starts the real hkv binary on a free port (--port 0, port read from its start-up
# log line), and stops it with a signal, returning its exit code and log.
import http.client
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BINARY = os.environ.get("HKV_BINARY") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "hkv")
LISTEN_RE = re.compile(rb"listening on (\S+):(\d+) ")
# What ASan, LeakSanitizer, UBSan and TSan print when they find something.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error: ")


def assert_clean_exit(code, log, expected_code=0):
    """Fails unless hkv exited with `expected_code` and no sanitizer reported anything."""
    report = SANITIZER_RE.search(log)
    if report:
        raise AssertionError("sanitizer report in hkv's output:\n" + log[max(0, report.start() - 200):][:6000])
    if code != expected_code:
        raise AssertionError(f"hkv exited with {code}, expected {expected_code}:\n{log[-6000:]}")


def require_tools(*tools):
    """Skips the calling test when a client it drives is not installed. Under the test command
    (CI=true), which installs every tool first, a missing tool is a failure instead."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (scripts/quickstart deps installs it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise AssertionError(message)
    raise unittest.SkipTest(message)


class HkvServer:
    """A running hkv process. Use as a context manager, or call stop()."""

    def __init__(self, *args, bind="127.0.0.1", threads=2, start_timeout=15.0, preexec_fn=None, env=None):
        self.args = ["--port", "0", "--bind", bind, "--threads", str(threads), *args]
        self.proc = subprocess.Popen([BINARY, *self.args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=preexec_fn,
                                     env=None if env is None else {**os.environ, **env})
        self.log = b""
        self.stopped_by_test = False
        self.host = "127.0.0.1" if ":" not in bind else "::1"
        if bind == "::":
            self.host = "127.0.0.1"
        self.port = self._wait_for_port(start_timeout)

    def _wait_for_port(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _ in sel.select(timeout=0.1):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("hkv exited during start-up: " + self.log.decode(errors="replace"))
                self.log += chunk
                m = LISTEN_RE.search(self.log)
                if m:
                    sel.close()
                    return int(m.group(2))
            if self.proc.poll() is not None:
                raise RuntimeError("hkv exited during start-up: " + self.log.decode(errors="replace"))
        self.proc.kill()
        raise RuntimeError("hkv did not report its port in time: " + self.log.decode(errors="replace"))

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def connect(self, timeout=10.0):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((self.host, self.port))
        return s

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Signals the server and waits; returns (exit code, full log as text). The caller then
        owns the verdict on the exit code (see __exit__); sanitizer reports are still checked."""
        self.stopped_by_test = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            self.log += out or b""
            raise AssertionError("hkv did not exit within %.0f s after signal" % timeout)
        self.log += out or b""
        return self.proc.returncode, self.log.decode(errors="replace")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        """Stops the server if the test did not, and fails unless it exits 0 without a sanitizer
        report (a leak or race found at shutdown fails the test that ran the server)."""
        stopped_by_test = self.stopped_by_test
        code, log = self.stop()
        if exc_type is not None:
            return  # the test's own failure says more
        if SANITIZER_RE.search(log) or not stopped_by_test:
            assert_clean_exit(code, log)


class ServerTestCase(unittest.TestCase):
    """One hkv per test class (started with SERVER_ARGS), stopped in tearDownClass, which fails unless it exits 0.
    With TMP_PREFIX, the class also gets a temporary folder, cls.tmp, removed at the end."""
    SERVER_ARGS = ()
    TMP_PREFIX = None

    @classmethod
    def setUpClass(cls):
        if cls.TMP_PREFIX:
            cls.tmp = tempfile.mkdtemp(prefix=cls.TMP_PREFIX)
        cls.srv = HkvServer(*cls.SERVER_ARGS)

    @classmethod
    def tearDownClass(cls):
        try:
            code, log = cls.srv.stop()
            assert_clean_exit(code, log)
        finally:
            if cls.TMP_PREFIX:
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def request(self, method, path, body=None, headers=None, conn=None):
        """One HTTP/1.1 request (fresh connection unless `conn`). Returns (status, headers, body)."""
        own = conn is None
        if own:
            conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            if own:
                conn.close()


def recv_until_closed(sock, limit=1 << 24):
    """Reads until the peer closes (or the socket times out); returns the bytes."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock_file):
    """Reads one HTTP/1.x response from a file object; returns (status, headers dict, body)."""
    status_line = sock_file.readline()
    if not status_line:
        return None
    parts = status_line.decode().split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        line = sock_file.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = sock_file.read(length) if length else b""
    return status, headers, body


def metric(srv, name):
    """The value of one /metrics sample, e.g. 'hkv_timeouts_total{kind="idle"}' (fresh connection)."""
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: hkv\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def sanitized_binary():
    """True for an ASan/TSan build, whose allocator and shadow memory make RSS meaningless."""
    with open(BINARY, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def rss_kib(pid):
    """A process's resident set size in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def freshness_left(headers):
    """The seconds a cache would still serve a response for (RFC 9111 4.2.3: max-age minus the
    current age, here the Age header); checks the Cache-Control hkv sends with a TTL."""
    m = re.fullmatch(r"max-age=(\d+), must-revalidate, stale-while-revalidate=0", headers["cache-control"])
    assert m, headers["cache-control"]
    return int(m.group(1)) - int(headers.get("age", "0"))
