# SPDX-License-Identifier: MIT
# Raw-socket clients for tests that need control over the wire: a minimal h2c client (frames,
# HPACK literals, flow control by hand) and a slow-reading HTTP/1.1 GET.
import socket
import time

MIB = 1 << 20
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK = 0x1, 0x1


def frame(ftype, flags, sid, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def get_request_frame(path, sid=1):
    """HEADERS for GET path: HPACK literals without indexing or Huffman coding."""
    fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode()), (b":authority", b"hkv")]
    block = b"".join(b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v for n, v in fields)
    return frame(HEADERS, 0x4 | END_STREAM, sid, block)


def window_update(sid, n):
    return frame(WINDOW_UPDATE, 0, sid, n.to_bytes(4, "big"))


def connect(srv, rcvbuf=None, host=None):
    host = host or srv.host
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sizes the window
    s.settimeout(20)
    try:
        s.connect((host, srv.port))
    except OSError:
        s.close()
        raise
    return s


class RawH2:
    """A minimal h2c client on a raw socket, so that flow control (how fast we read) is in our hands."""

    def __init__(self, srv, rcvbuf=None):
        self.sock = connect(srv, rcvbuf)
        self.buf = b""
        self.goaway = None  # error code of a received GOAWAY

    def send(self, data):
        self.sock.sendall(data)

    def read_frame(self):
        """Returns (type, flags, stream id, payload), or None at EOF."""
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    f = self.buf[:9 + length]
                    self.buf = self.buf[9 + length:]
                    ftype, flags, sid = f[3], f[4], int.from_bytes(f[5:9], "big") & 0x7FFFFFFF
                    if ftype == GOAWAY:
                        self.goaway = int.from_bytes(f[13:17], "big")
                    return ftype, flags, sid, f[9:]
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk

    def get(self, path, delay=0.0, pause_at=None, resume=None, sid=1):
        """GETs path with the default 64 KiB windows, returning each DATA frame's bytes only after
        `delay`; once pause_at body bytes arrived, waits for `resume` first. Returns (status, body)."""
        self.send(PREFACE + frame(SETTINGS, 0, 0) + get_request_frame(path, sid))
        status, body = None, bytearray()
        while True:
            f = self.read_frame()
            if f is None:
                raise AssertionError(f"EOF after {len(body)} body bytes (GOAWAY {self.goaway})")
            ftype, flags, fsid, payload = f
            if ftype == SETTINGS and not flags & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                self.send(frame(PING, ACK, 0, payload))
            elif ftype == RST_STREAM and fsid == sid:
                raise AssertionError("stream reset")
            elif ftype == HEADERS and fsid == sid:
                status = {0x88: 200, 0x8D: 404}.get(payload[0], payload[0])  # HPACK static :status
            elif ftype == DATA and fsid == sid:
                body += payload
                if pause_at is not None and len(body) >= pause_at:
                    resume.wait(30)
                    pause_at = None
                if delay:
                    time.sleep(delay)
                try:
                    if payload and not flags & END_STREAM:
                        self.send(window_update(sid, len(payload)) + window_update(0, len(payload)))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server closes once it sent the last frame; the rest is still readable
            if ftype in (HEADERS, DATA) and fsid == sid and flags & END_STREAM:
                return status, bytes(body)

    def close(self):
        self.sock.close()


def slow_h1_get(srv, path, chunk=16384, delay=0.002, slow_bytes=512 * 1024, pause_at=None, resume=None):
    """GET over HTTP/1.1, reading the first slow_bytes in small pieces with sleeps. Returns (status, body, sock)."""
    s = connect(srv, rcvbuf=64 * 1024)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: hkv\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(1024)
        if not c:
            raise AssertionError("EOF in headers")
        data += c
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    body = bytearray(body)
    while len(body) < length:
        if pause_at is not None and len(body) >= pause_at:
            resume.wait(30)
            pause_at = None
        slow = len(body) < slow_bytes
        c = s.recv(chunk if slow else 1 << 20)
        if not c:
            raise AssertionError(f"EOF after {len(body)} of {length} body bytes")
        body += c
        if slow:
            time.sleep(delay)
    return int(lines[0].split()[1]), bytes(body), s


SETTINGS_INITIAL_WINDOW_SIZE = 0x4
MAX_WINDOW = (1 << 31) - 1


class H2Streams:
    """Many GETs on one raw h2c connection, with the client's flow control and reading pace in the
    test's hands. `window` is the client's SETTINGS_INITIAL_WINDOW_SIZE. After each DATA frame the
    stream's window is given back what the frame took plus `ramp`, which starts at 1 byte and doubles
    up to 64 KiB per update, so tiny windows open little by little. The connection window is given
    back exactly what was consumed, unless `window` is MAX_WINDOW (then it is opened wide once).
    `slow_bytes`: the first that many bytes are read 4 KiB at a time with a `pause` after each."""

    def __init__(self, srv, window=65535, rcvbuf=None, slow_bytes=0, pause=0.001):
        self.sock = connect(srv, rcvbuf)
        self.window = window
        self.slow_bytes = slow_bytes
        self.pause = pause
        self.buf = bytearray()
        self.received = 0

    def _fill(self, deadline):
        slow = self.received < self.slow_bytes
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = self.sock.recv(4096 if slow else 1 << 20)
        if not chunk:
            raise AssertionError("server closed the connection")
        self.received += len(chunk)
        self.buf += chunk
        if slow:
            time.sleep(self.pause)

    def _frame(self, deadline):
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    ftype, flags = self.buf[3], self.buf[4]
                    sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                    payload = bytes(self.buf[9:9 + length])
                    del self.buf[:9 + length]
                    return ftype, flags, sid, payload
            self._fill(deadline)

    def get_all(self, paths, timeout):
        """GETs every path at once, one stream each. Returns {path: (status, body)}; raises on a
        reset, GOAWAY, close, or when not every stream ended within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        settings = SETTINGS_INITIAL_WINDOW_SIZE.to_bytes(2, "big") + self.window.to_bytes(4, "big")
        out = PREFACE + frame(SETTINGS, 0, 0, settings)
        if self.window == MAX_WINDOW:
            out += window_update(0, MAX_WINDOW - 65535)
        sids = {}
        for i, path in enumerate(paths):
            sid = 1 + 2 * i
            sids[sid] = path
            out += get_request_frame(path, sid)
        self.send_all(out)
        status, body, ramp = {}, {sid: bytearray() for sid in sids}, {sid: 1 for sid in sids}
        open_streams = set(sids)
        while open_streams:
            if time.monotonic() > deadline:
                left = {sids[s]: len(body[s]) for s in open_streams}
                raise AssertionError(f"{len(open_streams)} streams not done in {timeout:.1f} s: {left}")
            ftype, flags, sid, payload = self._frame(deadline)
            if ftype == SETTINGS and not flags & ACK:
                self.send_all(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                self.send_all(frame(PING, ACK, 0, payload))
            elif ftype == GOAWAY:
                raise AssertionError(f"GOAWAY {int.from_bytes(payload[4:8], 'big')}")
            elif ftype == RST_STREAM:
                raise AssertionError(f"stream {sid} ({sids.get(sid)}) reset")
            elif ftype == HEADERS and sid in sids:
                status[sid] = {0x88: 200, 0x8D: 404}.get(payload[0], payload[0])
            elif ftype == DATA and sid in sids:
                body[sid] += payload
                grant = b""
                if payload and not flags & END_STREAM and self.window != MAX_WINDOW:
                    grant = window_update(sid, len(payload) + ramp[sid])
                    ramp[sid] = min(ramp[sid] * 2, 65536)
                if payload and self.window != MAX_WINDOW:
                    grant += window_update(0, len(payload))
                if grant:
                    self.send_all(grant)
            if ftype in (HEADERS, DATA) and sid in open_streams and flags & END_STREAM:
                open_streams.discard(sid)
        return {sids[sid]: (status.get(sid), bytes(body[sid])) for sid in sids}

    def send_all(self, data):
        self.sock.settimeout(20)
        self.sock.sendall(data)

    def close(self):
        self.sock.close()
