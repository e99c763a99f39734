#!/usr/bin/env python3
"""Pipelined raw-socket loader: writes N keys key000000.. with V-byte values.

  loader.py {http|resp|memcache} PORT N [--value-size 100] [--batch 1000] [--host 127.0.0.1]

http      POST /store/{key} over HTTP/1.1 keep-alive (hkv); every response must be 2xx
resp      Redis SET over RESP; every reply must be +OK
memcache  memcached text protocol `set key 0 0 V`; every reply must be STORED

Requests go out in batches of --batch, and the loader reads all replies of a batch
before sending the next one. Exits non-zero on any failure. Prints the elapsed time.
"""
import argparse
import socket
import sys
import time

VALUE_CHARS = b"0123456789"


def value_of(size):
    return (VALUE_CHARS * (size // 10 + 1))[:size]


def key_of(i, digits):
    return b"key%0*d" % (digits, i)


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise RuntimeError("connection closed by the server")
        self.buf += d


def read_http(conn, n):
    """Read n HTTP/1.1 responses; return how many were not 2xx."""
    bad = 0
    pos = 0
    got = 0
    while got < n:
        end = conn.buf.find(b"\r\n\r\n", pos)
        if end < 0:
            del conn.buf[:pos]
            pos = 0
            conn.fill()
            continue
        head = bytes(conn.buf[pos:end])
        status = head[9:12]
        if not status.startswith(b"2"):
            bad += 1
        cl = 0
        i = head.lower().find(b"\r\ncontent-length:")
        if i >= 0:
            j = head.find(b"\r\n", i + 2)
            cl = int(head[i + 17:j if j >= 0 else len(head)].strip())
        body_end = end + 4 + cl
        while len(conn.buf) < body_end:
            conn.fill()
        pos = body_end
        got += 1
    del conn.buf[:pos]
    return bad


def read_lines(conn, n, ok):
    bad = 0
    pos = 0
    got = 0
    while got < n:
        end = conn.buf.find(b"\r\n", pos)
        if end < 0:
            del conn.buf[:pos]
            pos = 0
            conn.fill()
            continue
        if bytes(conn.buf[pos:end]) != ok:
            bad += 1
        pos = end + 2
        got += 1
    del conn.buf[:pos]
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["http", "resp", "memcache"])
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--digits", type=int, default=6)
    a = ap.parse_args()

    val = value_of(a.value_size)
    conn = Conn(a.host, a.port)
    t0 = time.monotonic()
    bad = 0
    for start in range(0, a.count, a.batch):
        n = min(a.batch, a.count - start)
        keys = [key_of(i, a.digits) for i in range(start, start + n)]
        if a.mode == "http":
            req = b"".join(b"POST /store/%s HTTP/1.1\r\nHost: l\r\nContent-Length: %d\r\n\r\n%s"
                           % (k, len(val), val) for k in keys)
            conn.s.sendall(req)
            bad += read_http(conn, n)
        elif a.mode == "resp":
            req = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                           % (len(k), k, len(val), val) for k in keys)
            conn.s.sendall(req)
            bad += read_lines(conn, n, b"+OK")
        else:
            req = b"".join(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(val), val) for k in keys)
            conn.s.sendall(req)
            bad += read_lines(conn, n, b"STORED")
    dt = time.monotonic() - t0
    print(f"loaded {a.count} keys x {a.value_size} B over {a.mode} in {dt:.2f}s"
          + (f", {bad} FAILED" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
