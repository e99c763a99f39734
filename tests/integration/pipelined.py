# SPDX-License-Identifier: MIT
# Many HTTP/1.1 requests fast: pipelined on one keep-alive connection, a thread writing while the
# caller reads the answers in order. Used to load thousands of keys in well under a second.
import threading

from hkv_server import read_response


def request_bytes(method, path, body=b"", headers=()):
    """One HTTP/1.1 request as bytes (Content-Length always set for POST/PUT)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: hkv"]
    lines += [f"{name}: {value}" for name, value in headers]
    if method in ("POST", "PUT") or body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def pipeline(srv, requests, chunk=64 << 10):
    """Sends `requests` (bytes each) on one connection and returns their responses, in order, as
    (status, headers dict, body) tuples. The writer runs in a thread so that neither side can
    block the other however large the answers are."""
    sock = srv.connect(timeout=60)
    error = []

    def writer():
        try:
            buf = bytearray()
            for r in requests:
                buf += r
                if len(buf) >= chunk:
                    sock.sendall(buf)
                    buf.clear()
            if buf:
                sock.sendall(buf)
        except OSError as e:  # the reader reports the short answer
            error.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    responses = []
    with sock.makefile("rb") as f:
        for _ in range(len(requests)):
            r = read_response(f)
            if r is None:
                break
            responses.append(r)
    t.join(timeout=60)
    sock.close()
    if len(responses) != len(requests):
        raise AssertionError(f"{len(responses)} answers to {len(requests)} pipelined requests; writer: {error}")
    return responses
