#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpora fuzz/corpus/<target>/ (run it again after changing a seed here). h1 and
# h2 seeds start with the driver's two bytes (options, write sizes: see session_driver.h).
import base64
import pathlib
import shutil
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"

# session_driver.h options: bits 4-5 = 3 is "no admission limit".
PLAIN, SHARDED, SMALL, NO_UPGRADE, SHUTDOWN_FIRST, UNLIMITED, SILENT = 0x00, 0x01, 0x02, 0x04, 0x08, 0x30, 0x40


def driver(options, max_write, data):
    return bytes([options, max_write]) + data


# --- HTTP/1.1 -------------------------------------------------------------------------------

def req(method, target, headers=(), body=b"", version=b"HTTP/1.1"):
    head = b"%s %s %s\r\nHost: fuzz\r\n" % (method, target, version)
    for name, value in headers:
        head += b"%s: %s\r\n" % (name, value)
    if body and not any(n.lower() == b"transfer-encoding" for n, _ in headers):
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def chunked(*chunks):
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


# --- HTTP/2 ---------------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def settings(*pairs, flags=0):
    return frame(SETTINGS, flags, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def hpack_int(value, prefix_bits, first):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


def hpack_str(s):  # never Huffman-coded
    return hpack_int(len(s), 7, 0) + s


def indexed(i):
    return hpack_int(i, 7, 0x80)


def literal(name, value, index_it=False):
    """A literal field; `name` is a static/dynamic table index or the name itself."""
    if isinstance(name, int):
        return (hpack_int(name, 6, 0x40) if index_it else hpack_int(name, 4, 0)) + hpack_str(value)
    return bytes([0x40 if index_it else 0]) + hpack_str(name) + hpack_str(value)


# Static table indices (RFC 7541 appendix A).
AUTHORITY, GET, POST, PATH_ROOT, SCHEME_HTTP = 1, 2, 3, 4, 6
METHOD, PATH, CACHE_CONTROL, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH = 2, 4, 24, 31, 39, 41
FIRST_DYNAMIC = 62


def request_block(method, path, extra=b"", first=True):
    """Pseudo-headers; the first request puts :authority in the dynamic table, later ones use it."""
    m = indexed(GET) if method == b"GET" else indexed(POST) if method == b"POST" else literal(METHOD, method)
    p = indexed(PATH_ROOT) if path == b"/" else literal(PATH, path)
    a = literal(AUTHORITY, b"fuzz", index_it=True) if first else indexed(FIRST_DYNAMIC)
    return m + indexed(SCHEME_HTTP) + p + a + extra


def h2_request(stream, method, path, extra=b"", body=None, first=False):
    block = request_block(method, path, extra, first)
    if body is None:
        return frame(HEADERS, END_HEADERS | END_STREAM, stream, block)
    return frame(HEADERS, END_HEADERS, stream, block) + frame(DATA, END_STREAM, stream, body)


def upgrade(method, target, body=b"", more=b""):
    """An HTTP/1.1 request asking for h2c, then what the client sends once it gets the 101."""
    payload = struct.pack(">HIHI", 3, 100, 4, 65535)
    token = base64.urlsafe_b64encode(payload).rstrip(b"=")
    headers = [(b"Connection", b"Upgrade, HTTP2-Settings"), (b"Upgrade", b"h2c"), (b"HTTP2-Settings", token)]
    return req(method, target, headers, body) + PREFACE + settings() + more


H1 = {
    "get-root": driver(UNLIMITED, 0, req(b"GET", b"/")),
    "pipelined-store-get-head-delete": driver(UNLIMITED, 7, req(b"POST", b"/store/k", body=b"hello") +
                                              req(b"GET", b"/get/k") + req(b"HEAD", b"/get/k") +
                                              req(b"DELETE", b"/store/k") + req(b"GET", b"/get/k")),
    "chunked-post-then-get": driver(UNLIMITED, 5, req(b"POST", b"/store/c", [(b"Transfer-Encoding", b"chunked")],
                                                      chunked(b"hel", b"lo ", b"world")) + req(b"GET", b"/get/c")),
    "chunked-extension-trailer": driver(UNLIMITED, 0, req(b"PUT", b"/store/t", [(b"Transfer-Encoding", b"chunked")])
                                        + b"4;ext=1\r\nabcd\r\n0\r\nX-Trailer: v\r\n\r\n" + req(b"GET", b"/get/t")),
    "byte-at-a-time": driver(UNLIMITED, 1, req(b"POST", b"/store/b", body=b"xy") + req(b"GET", b"/get/b")),
    "ttl-type-conditional": driver(UNLIMITED, 11, req(b"PUT", b"/store/s?ttl=60", [(b"Content-Type", b"application/json")],
                                                      b'{"n":1}') +
                                   req(b"POST", b"/store/m", [(b"Cache-Control", b"max-age=30")], b"m") +
                                   req(b"GET", b"/get/s", [(b"If-None-Match", b'"AAAAAAAAAAA", *')]) +
                                   req(b"PUT", b"/store/s", [(b"If-Match", b"*")], b"2") +
                                   req(b"DELETE", b"/store/s", [(b"If-Match", b'"AAAAAAAAAAA"')])),
    "expect-continue": driver(UNLIMITED, 0, req(b"POST", b"/store/e", [(b"Expect", b"100-continue")], b"body")),
    "http10": driver(UNLIMITED, 0, req(b"GET", b"/", version=b"HTTP/1.0")),
    "connection-close-pipelined": driver(UNLIMITED, 0, req(b"GET", b"/", [(b"Connection", b"close")]) +
                                         req(b"GET", b"/")),
    "metrics-stats": driver(UNLIMITED, 0, req(b"GET", b"/metrics") + req(b"HEAD", b"/stats") + req(b"GET", b"/stats")),
    "errors": driver(UNLIMITED, 9, req(b"PATCH", b"/store/k") + req(b"GET", b"/nope") +
                     req(b"GET", b"/get/user%201%2Fname") + req(b"GET", b"/get/%zz") +
                     req(b"GET", b"/get/" + b"k" * 251) + req(b"POST", b"/store/x?ttl=-1", body=b"v")),
    "malformed": driver(UNLIMITED, 0, b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"),
    "small-limits": driver(SMALL | UNLIMITED, 0, req(b"POST", b"/store/big", body=b"v" * 100) +
                           req(b"GET", b"/get/" + b"k" * 80)),
    "admission-limit-1": driver(PLAIN, 3, req(b"POST", b"/store/a", body=b"1") + req(b"POST", b"/store/b", body=b"2") +
                                req(b"GET", b"/get/a") + req(b"GET", b"/get/b")),
    "sharded-shutdown-first": driver(SHARDED | SHUTDOWN_FIRST | UNLIMITED, 0,
                                     req(b"POST", b"/store/z", body=b"zz") + req(b"GET", b"/get/z")),
    "upgrade-h2c": driver(UNLIMITED, 0, upgrade(b"GET", b"/", more=h2_request(3, b"GET", b"/", first=True))),
    "upgrade-refused": driver(NO_UPGRADE | UNLIMITED, 0, upgrade(b"GET", b"/")),
    "silent-in-head": driver(SILENT | UNLIMITED, 0, b"GET /get/k HTTP/1.1\r\nHost: fu"),
    "silent-in-body": driver(SILENT | UNLIMITED, 0, b"POST /store/k HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 10\r\n\r\nabc"),
    "silent-when-idle": driver(SILENT | UNLIMITED, 0, req(b"GET", b"/")),
}

H2 = {
    "get-root": driver(UNLIMITED, 0, PREFACE + settings() + h2_request(1, b"GET", b"/", first=True)),
    "post-then-get": driver(UNLIMITED, 0, PREFACE + settings() +
                            h2_request(1, b"POST", b"/store/k", body=b"hello", first=True) +
                            settings(flags=ACK) + h2_request(3, b"GET", b"/get/k")),
    "split-reads": driver(UNLIMITED, 13, PREFACE + settings((4, 65535)) +
                          h2_request(1, b"POST", b"/store/k", body=b"hello", first=True) +
                          h2_request(3, b"GET", b"/get/k") + h2_request(5, b"HEAD", b"/get/k")),
    "put-ttl-conditional-delete": driver(UNLIMITED, 0, PREFACE + settings() +
                                         h2_request(1, b"PUT", b"/store/s?ttl=60", literal(CONTENT_TYPE, b"text/x") +
                                                    literal(CACHE_CONTROL, b"max-age=5"), b"v1", first=True) +
                                         h2_request(3, b"GET", b"/get/s", literal(IF_NONE_MATCH, b"*")) +
                                         h2_request(5, b"PUT", b"/store/s", literal(IF_MATCH, b'"AAAAAAAAAAA"'), b"v2") +
                                         h2_request(7, b"DELETE", b"/store/s", literal(b"x-custom", b"1"))),
    "continuation": driver(UNLIMITED, 0, PREFACE + settings() +
                           frame(HEADERS, END_STREAM, 1, request_block(b"GET", b"/get/k")[:3]) +
                           frame(CONTINUATION, END_HEADERS, 1, request_block(b"GET", b"/get/k")[3:])),
    "control-frames": driver(UNLIMITED, 0, PREFACE + settings((1, 4096), (2, 0), (4, 1 << 20), (5, 16384)) +
                             frame(PING, 0, 0, b"pingpong") + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 16)) +
                             frame(PRIORITY, 0, 1, struct.pack(">IB", 0, 15)) +
                             frame(HEADERS, END_HEADERS, 1, request_block(b"POST", b"/store/r", first=True)) +
                             frame(RST_STREAM, 0, 1, struct.pack(">I", 8)) + h2_request(3, b"GET", b"/") +
                             frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0))),
    "small-window": driver(UNLIMITED, 0, PREFACE + settings((4, 16)) +
                           h2_request(1, b"POST", b"/store/w", body=b"w" * 100, first=True) +
                           h2_request(3, b"GET", b"/get/w") + h2_request(5, b"GET", b"/metrics") +
                           frame(WINDOW_UPDATE, 0, 3, struct.pack(">I", 64)) +
                           frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 64))),
    "padded-priority": driver(UNLIMITED, 0, PREFACE + settings() +
                              frame(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, 1,
                                    b"\x02" + struct.pack(">IB", 0, 20) + request_block(b"POST", b"/store/p", first=True) +
                                    b"\0\0") +
                              frame(DATA, END_STREAM | PADDED, 1, b"\x03abc\0\0\0") + h2_request(3, b"GET", b"/get/p")),
    "many-streams-small-limits": driver(SMALL | UNLIMITED, 0, PREFACE + settings() +
                                        b"".join(h2_request(s, b"GET", b"/stats", first=(s == 1))
                                                 for s in (1, 3, 5, 7, 9))),
    "admission-limit-1": driver(PLAIN, 0, PREFACE + settings() +
                                h2_request(1, b"POST", b"/store/a", body=b"1", first=True) +
                                h2_request(3, b"GET", b"/get/a") + h2_request(5, b"GET", b"/")),
    "sharded-shutdown-first": driver(SHARDED | SHUTDOWN_FIRST | UNLIMITED, 0, PREFACE + settings() +
                                     h2_request(1, b"GET", b"/", first=True) +
                                     frame(HEADERS, END_HEADERS, 3, request_block(b"POST", b"/store/q", first=False))),
    "upgrade-get": driver(UNLIMITED, 0, upgrade(b"GET", b"/get/u", more=h2_request(3, b"GET", b"/", first=True))),
    "upgrade-post": driver(UNLIMITED, 5, upgrade(b"POST", b"/store/u", b"up",
                                                 more=h2_request(3, b"GET", b"/get/u", first=True))),
    "http1": driver(UNLIMITED, 0, req(b"GET", b"/")),
    "preface-cut-short": driver(UNLIMITED, 0, PREFACE[:16]),
    "preface-cut-short-shutdown": driver(SHUTDOWN_FIRST | UNLIMITED, 0, PREFACE[:16]),
    "preface-cut-short-silent": driver(SILENT | UNLIMITED, 0, PREFACE[:16]),
    "silent-after-get": driver(SILENT | UNLIMITED, 0, PREFACE + settings() + h2_request(1, b"GET", b"/", first=True)),
    "silent-mid-upload": driver(SILENT | UNLIMITED, 0, PREFACE + settings() +
                                frame(HEADERS, END_HEADERS, 1, request_block(b"POST", b"/store/s")) +
                                frame(DATA, 0, 1, b"part")),
    # With SMALL the flood limits are 2 (resets, ACKs, bad frames), 1 (CONTINUATIONs), 2 (SETTINGS entries).
    "flood-resets": driver(SMALL | UNLIMITED, 0, PREFACE + settings() + b"".join(
        frame(HEADERS, END_HEADERS, s, request_block(b"GET", b"/", first=(s == 1))) +
        frame(RST_STREAM, 0, s, struct.pack(">I", 8)) for s in (1, 3, 5, 7))),
    "flood-pings": driver(SMALL | UNLIMITED, 0, PREFACE + settings() + frame(PING, 0, 0, b"12345678") * 4),
    "flood-settings": driver(SMALL | UNLIMITED, 0, PREFACE + settings((1, 4096), (3, 10), (4, 100))),
    "flood-continuations": driver(SMALL | UNLIMITED, 0, PREFACE + settings() +
                                  frame(HEADERS, END_STREAM, 1, request_block(b"GET", b"/")[:2]) +
                                  frame(CONTINUATION, 0, 1, request_block(b"GET", b"/")[2:4]) +
                                  frame(CONTINUATION, END_HEADERS, 1, request_block(b"GET", b"/")[4:])),
    "flood-empty-data": driver(SMALL | UNLIMITED, 0, PREFACE + settings() +
                               frame(HEADERS, END_HEADERS, 1, request_block(b"POST", b"/store/e")) +
                               frame(DATA, 0, 1) * 4),
}

PERCENT = {
    "plain": b"abc",
    "encoded-slash-space": b"user%201%2Fname",
    "utf8": b"%e2%82%AC",
    "bad-hex": b"%zz",
    "truncated": b"ab%4",
    "lone-percent": b"%",
    "plus-query-fragment": b"a+b%2B?x=1&ttl=60#frag",
    "fragment-first": b"k#a?b",
    "two-segments": b"a/b",
    "empty-with-query": b"?ttl=5",
    "too-long": b"%41" * 251,
}

# --- snapshots (format in src/store/snapshot.cc) ---------------------------------------------

NOW_MS = 1_700_000_000_000  # fuzz_snapshot.cc's kNowMs
FIX_CHECKSUM = b"\x01"  # fuzz_snapshot.cc: byte 0 bit 0 recomputes the checksum


def record(key, value, ctype=b"", stored=NOW_MS - 5000, expires=0):
    return b"R" + bytes([len(key), len(ctype), 0]) + struct.pack("<IQQ", len(value), stored, expires) + key + ctype + value


def snapshot(*records, version=1, count=None):
    head = b"HKVSNAP\0" + struct.pack("<II", version, 0)
    n = len(records) if count is None else count
    return head + b"".join(records) + b"E" + struct.pack("<Q", n) + b"\0" * 8


SNAPSHOT = {
    "empty": FIX_CHECKSUM + snapshot(),
    "three-records": FIX_CHECKSUM + snapshot(record(b"a", b"alpha"),
                                             record(b"t", b"{}", b"application/json", expires=NOW_MS + 60000),
                                             record(b"gone", b"x", expires=NOW_MS - 1)),
    "duplicate-keys": FIX_CHECKSUM + snapshot(record(b"k", b"first"), record(b"k", b"second")),
    "edge-lengths": FIX_CHECKSUM + snapshot(record(b"", b""), record(b"k" * 255, b"v", b"t" * 255)),
    "truncated": FIX_CHECKSUM + snapshot(record(b"a", b"alpha"))[:30],
    "bad-checksum": b"\0" + snapshot(record(b"a", b"alpha")),
    "count-mismatch": FIX_CHECKSUM + snapshot(record(b"a", b"alpha"), count=2),
    "version-2": FIX_CHECKSUM + snapshot(version=2),
    "bad-tag": FIX_CHECKSUM + snapshot(b"X" + record(b"a", b"alpha")[1:]),
    # A value length past the end of the file: once made the loader allocate it (up to 4 GiB).
    "huge-length": FIX_CHECKSUM + snapshot(record(b"a", b"alpha")[:4] + struct.pack("<I", 0xfffffff0) +
                                           record(b"a", b"alpha")[8:]),
}


# fuzz_store_model.cc: 4 bytes per operation, [what, key, length, time or condition]. Keys 0-47
# share one shard; a length byte of 250 or more writes 4 KiB (the cap is 64 KiB).
PUT, PUT_TTL, PUT_IF, GET, GET4, ERASE, TICK, REAP = range(8)


def ops(*steps):
    return b"".join(bytes(s) for s in steps)


STORE_MODEL = {
    "fill-one-shard": ops(*[(PUT, k, 10 + k, 0) for k in range(48)], *[(GET4, k, 1, 0) for k in range(0, 48, 4)]),
    "fill-then-erase": ops(*[(PUT, k, 5, 0) for k in range(48)], *[(ERASE, k, 0, 0) for k in range(0, 48, 2)],
                           *[(PUT, k, 7, 0) for k in range(0, 48, 3)], *[(GET, k, 0, 0) for k in range(48)]),
    "expire-and-reap": ops(*[(PUT_TTL, k, 20, k) for k in range(32)], (TICK, 0, 0, 7), (TICK, 0, 0, 7),
                           (REAP, 0, 255, 0), *[(GET, k, 0, 0) for k in range(32)]),
    "if-match": ops((PUT, 1, 3, 0), (PUT_IF, 1, 4, 1), (PUT_IF, 1, 5, 2), (PUT_IF, 2, 6, 0), (PUT_IF, 1, 7, 0),
                    (GET, 1, 0, 0)),
    "evict": ops(*[(PUT, k, 255, 0) for k in range(24)], *[(GET, k, 0, 0) for k in range(24)]),
    "long-key": ops((PUT, 63, 9, 0), (GET, 63, 0, 0), (ERASE, 63, 0, 0), (GET, 63, 0, 0)),
}


def main():
    for target, seeds in (("fuzz_h1", H1), ("fuzz_h2", H2), ("fuzz_percent_decode", PERCENT),
                          ("fuzz_snapshot", SNAPSHOT), ("fuzz_store_model", STORE_MODEL)):
        d = CORPUS / target
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for name, data in seeds.items():
            (d / name).write_bytes(data)
        print(f"{d}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
