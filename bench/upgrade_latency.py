#!/usr/bin/env python3
"""Time of an HTTP/1.1 -> h2c Upgrade round trip, as curl --http2 does it: send the GET with
Upgrade: h2c, read the 101, send the client preface and SETTINGS, read stream 1 to its end.
Prints the median and p90 over N connections for each server given, interleaved.

  upgrade_latency.py PATH N PORT [PORT...]      e.g. upgrade_latency.py /get/s 2000 3900 3901
"""
import socket
import statistics
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def one(port, path):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: hkv\r\nConnection: Upgrade, HTTP2-Settings\r\n"
              f"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, buf = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    s.sendall(PREFACE)
    while True:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            ftype, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big")
            buf = buf[9 + n:]
            if sid == 1 and ftype in (0, 1) and flags & 1:
                s.close()
                return time.perf_counter() - t0
        chunk = s.recv(65536)
        assert chunk, "closed"
        buf += chunk


def main():
    path, n, ports = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
    times = {p: [] for p in ports}
    for _ in range(n):
        for p in ports:
            times[p].append(one(p, path))
    for p in ports:
        t = sorted(times[p])
        print(f"port {p}: median {statistics.median(t) * 1e6:.0f} us, p90 {t[int(len(t) * 0.9)] * 1e6:.0f} us")


if __name__ == "__main__":
    main()
