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
