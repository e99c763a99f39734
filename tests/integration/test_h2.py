# SPDX-License-Identifier: MIT
# HTTP/2 (h2c) end to end with curl and nghttp: prior knowledge, Upgrade, interface, streams, flow control.
import os
import re
import subprocess
import time
import unittest

from hkv_server import ServerTestCase, require_tools
from rawclients import (DATA, END_STREAM, MAX_WINDOW, PREFACE, RST_STREAM, SETTINGS, SETTINGS_INITIAL_WINDOW_SIZE,
                        RawH2, frame, get_request_frame, window_update)

MIB = 1 << 20
CURL_FMT = "%{http_code} %{http_version} %{num_connects}\n"


def run(cmd, timeout=60):
    """Runs a client; returns the CompletedProcess (stdout and stderr as bytes)."""
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def parse_header_blocks(raw):
    """curl -D output → list of (status line, {name: value}) blocks (a 101 comes before the final one)."""
    blocks = []
    for block in raw.decode("latin-1").replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        blocks.append((lines[0], headers))
    return blocks


class Reply:
    def __init__(self, status, version, connects, blocks, body):
        self.status, self.version, self.connects, self.blocks, self.body = status, version, connects, blocks, body
        self.headers = blocks[-1][1] if blocks else {}


class H2TestBase(ServerTestCase):
    TMP_PREFIX = "hkv-h2-"

    @classmethod
    def setUpClass(cls):
        require_tools("curl", "nghttp")
        super().setUpClass()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def curl(self, *args, mode="--http2-prior-knowledge"):
        """One transfer; args end with the URL. Returns a Reply (headers of the last block)."""
        hdr, out = self.path("curl.h"), self.path("curl.b")
        for p in (hdr, out):
            if os.path.exists(p):
                os.remove(p)
        p = run(["curl", "-sS", "--max-time", "30", mode, "-D", hdr, "-o", out, "-w", CURL_FMT, *args])
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        status, version, connects = p.stdout.decode().split()
        with open(hdr, "rb") as f:
            blocks = parse_header_blocks(f.read())
        body = b""
        if os.path.exists(out):
            with open(out, "rb") as f:
                body = f.read()
        return Reply(int(status), version, int(connects), blocks, body)

    def store(self, key, value, method="POST", mode="--http2-prior-knowledge"):
        # No Content-Type (curl would send a form type): the value gets the default type.
        f = self.write("value-" + key, value)
        return self.curl("-X", method, "-H", "Content-Type:", "--data-binary", "@" + f,
                         f"{self.srv.url}/store/{key}", mode=mode)

    def nghttp(self, *args, check=True):
        p = run(["nghttp", "-t", "30", *args])
        if check:
            self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace") + p.stdout[-2000:].decode(errors="replace"))
        return p.stdout

    @staticmethod
    def stats(nghttp_stdout):
        """Rows of nghttp -s: list of (code, path); sizes there are rounded (4K), see frames()."""
        rows = re.findall(rb"^\s*\d+\s+\S+\s+\S+\s+\S+\s+(\d{3})\s+\S+\s+(\S+)\s*$", nghttp_stdout, re.M)
        return [(int(c), p.decode()) for c, p in rows]

    @staticmethod
    def frames(nghttp_verbose):
        """From nghttp -v: {stream id: (status, DATA payload bytes received)}."""
        status = {int(i): int(c) for i, c in re.findall(rb"recv \(stream_id=(\d+)\) :status: (\d+)", nghttp_verbose)}
        sizes = dict.fromkeys(status, 0)
        for length, sid in re.findall(rb"recv DATA frame <length=(\d+), flags=0x[0-9a-f]+, stream_id=(\d+)>",
                                      nghttp_verbose):
            sizes[int(sid)] = sizes.get(int(sid), 0) + int(length)
        return {sid: (status.get(sid), sizes[sid]) for sid in sizes}


class H2PriorKnowledgeTest(H2TestBase):
    def test_curl_prior_knowledge_root(self):
        r = self.curl(self.srv.url + "/")
        self.assertEqual((r.status, r.version), (200, "2"))
        self.assertEqual(r.body, b"Hello, World!")
        self.assertNotIn("content-length", r.headers)  # a one-frame body: the framing says it all
        self.assertTrue(r.blocks[0][0].startswith("HTTP/2 200"), r.blocks)

    def test_nghttp_prior_knowledge_and_settings(self):
        out = self.nghttp("-v", self.srv.url + "/")
        self.assertIn(b"Hello, World!", out)
        self.assertIn(b":status: 200", out)
        self.assertIn(b"SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100", out)

    def test_store_get_replace_delete(self):
        url = self.srv.url
        r = self.store("pk-a", b"first")
        self.assertEqual((r.status, r.version), (201, "2"))
        r = self.curl(f"{url}/get/pk-a")
        self.assertEqual((r.status, r.body), (200, b"first"))
        self.assertEqual(r.headers.get("content-type"), "application/octet-stream")
        self.assertNotIn("content-length", r.headers)
        r = self.curl("--head", f"{url}/get/pk-a")  # HEAD: the length is the only size information
        self.assertEqual((r.status, r.headers.get("content-length")), (200, "5"))
        r = self.store("pk-a", b"second!", method="PUT")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.curl(f"{url}/get/pk-a").body, b"second!")
        r = self.curl("-X", "DELETE", f"{url}/store/pk-a")
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertNotIn("content-length", r.headers)
        self.assertEqual(self.curl("-X", "DELETE", f"{url}/store/pk-a").status, 404)
        self.assertEqual(self.curl(f"{url}/get/pk-a").status, 404)

    def test_not_found(self):
        self.assertEqual(self.curl(self.srv.url + "/nope").status, 404)
        self.assertEqual(self.curl(self.srv.url + "/get/never-stored").status, 404)
        self.assertEqual(self.curl(self.srv.url + "/get/a/b").status, 404)

    def test_method_not_allowed_has_allow(self):
        url = self.srv.url
        for method, path, allow in [("PATCH", "/get/x", "GET, HEAD"), ("GET", "/store/x", "POST, PUT, DELETE"),
                                    ("POST", "/", "GET, HEAD"), ("DELETE", "/get/x", "GET, HEAD")]:
            with self.subTest(method=method, path=path):
                r = self.curl("-X", method, url + path)
                self.assertEqual(r.status, 405)
                self.assertEqual(r.headers.get("allow"), allow)

    def test_head_has_length_but_no_body(self):
        value = os.urandom(3000)
        self.assertEqual(self.store("pk-head", value).status, 201)
        r = self.curl("--head", f"{self.srv.url}/get/pk-head")
        self.assertEqual((r.status, r.version), (200, "2"))
        self.assertEqual(r.headers.get("content-length"), "3000")
        self.assertEqual(r.headers.get("content-type"), "application/octet-stream")
        out = self.nghttp("-v", "-H", ":method: HEAD", f"{self.srv.url}/get/pk-head")
        self.assertIn(b"content-length: 3000", out)
        self.assertNotIn(b"recv DATA frame", out)  # the HEADERS frame ends the stream

    def test_413_over_h2(self):
        url = self.srv.url
        r = self.store("pk-big", b"x" * (MIB + 1))
        self.assertEqual((r.status, r.version), (413, "2"))
        self.assertEqual(self.curl(f"{url}/get/pk-big").status, 404)
        r = self.store("pk-big", os.urandom(5 * MIB))  # far past the 1 MiB stream window too
        self.assertEqual((r.status, r.version), (413, "2"))
        r = self.store("pk-big", b"y" * MIB)  # exactly --max-value-size is allowed
        self.assertEqual(r.status, 201)
        # Two oversized uploads on one connection: each stream gets 413, the connection survives.
        f = self.write("too-big", os.urandom(MIB + 1))
        rows = self.stats(self.nghttp("-s", "-d", f, f"{url}/store/pk-big2", f"{url}/store/pk-big3"))
        self.assertEqual(sorted(r[0] for r in rows), [413, 413], rows)

    def test_binary_values_and_keys(self):
        value = bytes(range(256)) * 8 + b"\r\n\r\nHTTP/1.1 200 OK\r\n\x00\x00"
        self.assertEqual(self.store("bin", value).status, 201)
        r = self.curl(f"{self.srv.url}/get/bin")
        self.assertEqual(r.body, value)
        self.assertEqual(self.nghttp(f"{self.srv.url}/get/bin"), value)
        # Empty value: 200 with an empty body; HEAD says content-length 0.
        self.assertEqual(self.store("empty", b"").status, 201)
        r = self.curl(f"{self.srv.url}/get/empty")
        self.assertEqual((r.status, r.body), (200, b""))
        r = self.curl("--head", f"{self.srv.url}/get/empty")
        self.assertEqual((r.status, r.headers.get("content-length")), (200, "0"))
        # Percent-encoded key: the decoded bytes are the key.
        self.assertEqual(self.store("%E2%9C%93%20k", b"check").status, 201)
        self.assertEqual(self.curl(f"{self.srv.url}/get/%e2%9c%93%20k").body, b"check")


class H2UpgradeTest(H2TestBase):
    def test_upgrade_get(self):
        self.assertEqual(self.store("up-get", b"via-upgrade").status, 201)
        r = self.curl(f"{self.srv.url}/get/up-get", mode="--http2")
        self.assertEqual((r.status, r.version), (200, "2"))
        self.assertEqual(r.body, b"via-upgrade")
        self.assertIn("101", r.blocks[0][0])
        self.assertEqual(r.blocks[0][1].get("upgrade", "").lower(), "h2c")
        self.assertEqual(r.headers.get("content-type"), "application/octet-stream")

    def test_upgrade_post_and_put_with_body(self):
        value = os.urandom(20000)
        r = self.store("up-post", value, mode="--http2")
        self.assertEqual((r.status, r.version), (201, "2"))
        self.assertIn("101", r.blocks[0][0])
        r = self.store("up-post", value[::-1], method="PUT", mode="--http2")
        self.assertEqual((r.status, r.version), (200, "2"))
        self.assertEqual(self.curl(f"{self.srv.url}/get/up-post").body, value[::-1])

    def test_upgrade_head_and_405(self):
        self.assertEqual(self.store("up-head", b"12345").status, 201)
        r = self.curl("--head", f"{self.srv.url}/get/up-head", mode="--http2")
        self.assertEqual((r.status, r.version), (200, "2"))
        self.assertEqual(r.headers.get("content-length"), "5")
        self.assertIn(b"content-length: 5\r\n", r.body)
        self.assertTrue(r.body.endswith(b"\r\n\r\n"), r.body)  # curl -I saves headers only
        r = self.curl("-X", "PATCH", f"{self.srv.url}/store/x", mode="--http2")
        self.assertEqual((r.status, r.version), (405, "2"))
        self.assertEqual(r.headers.get("allow"), "POST, PUT, DELETE")

    def test_upgrade_request_too_large_answered_over_h1(self):
        r = self.store("up-413", b"z" * (MIB + 1), mode="--http2")
        self.assertEqual((r.status, r.version), (413, "1.1"))
        self.assertEqual(self.curl(f"{self.srv.url}/get/up-413").status, 404)

    def test_upgrade_1mib_upload_and_download(self):
        value = os.urandom(MIB)
        r = self.store("up-big", value, mode="--http2")
        self.assertEqual((r.status, r.version), (201, "2"))
        # curl 7.88 cannot take more than 32 KiB right after a 101 (a curl limitation), so the
        # large download over an upgraded connection uses nghttp -u.
        self.assertEqual(self.nghttp("-u", f"{self.srv.url}/get/up-big"), value)

    def test_upgrade_then_many_streams_on_one_connection(self):
        url = self.srv.url
        values = {f"up-m{i}": f"<up-m{i}:{os.urandom(6).hex()}>".encode() for i in range(40)}
        args = ["curl", "-sS", "--parallel", "--parallel-max", "100"]
        for key, value in values.items():
            args += ["--http2", "--data-binary", value, "-o", "/dev/null", "-w", CURL_FMT, f"{url}/store/{key}", "--next"]
        args += ["--http2", "-o", "/dev/null", "-w", CURL_FMT, url + "/"]
        p = run(args)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().split("\n")[:-1]
        self.assertEqual(len(lines), 41)
        self.assertTrue(all(line.split()[1] == "2" for line in lines), lines)
        self.assertEqual(sorted(line.split()[0] for line in lines), ["200"] + ["201"] * 40)
        # Read them all back in parallel; curl multiplexes on the one upgraded connection.
        args = ["curl", "-sS", "--http2", "--parallel", "--parallel-max", "100", "-w", CURL_FMT]
        for key in values:
            args += ["-o", self.path("m-" + key), f"{url}/get/{key}"]
        p = run(args)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().split("\n")[:-1]
        self.assertEqual([line.split()[:2] for line in lines], [["200", "2"]] * 40)
        self.assertEqual(sum(int(line.split()[2]) for line in lines), 1, "expected one connection")
        for key, value in values.items():
            with open(self.path("m-" + key), "rb") as f:
                self.assertEqual(f.read(), value, key)


class H2StreamsAndFlowControlTest(H2TestBase):
    def test_many_uris_on_one_nghttp_connection(self):
        url = self.srv.url
        values = {f"ms{i}": f"<ms{i}:{os.urandom(8).hex()}>".encode() for i in range(100)}
        for key, value in values.items():
            self.assertEqual(self.store(key, value).status, 201)
        uris = [f"{url}/get/{k}" for k in values] + [f"{url}/get/ms-missing"]
        out = self.nghttp("-s", *uris)
        rows = self.stats(out)
        self.assertEqual(len(rows), 101)
        self.assertEqual(sorted(r[0] for r in rows), [200] * 100 + [404])
        got = sorted(re.findall(rb"<ms\d+:[0-9a-f]{16}>", out))
        self.assertEqual(got, sorted(values.values()))

    def test_100_concurrent_streams_same_uri(self):
        value = os.urandom(5000)
        self.assertEqual(self.store("same", value).status, 201)
        out = self.nghttp("-v", "-n", "-m", "100", f"{self.srv.url}/get/same")
        streams = self.frames(out)
        self.assertEqual(len(streams), 100)
        # All 100 requests were open at once: sent before the first response header arrived.
        first_response = out.index(b"recv (stream_id=")
        self.assertEqual(out[:first_response].count(b"send HEADERS frame"), 100)
        self.assertEqual(set(streams.values()), {(200, 5000)})

    def test_content_length_only_beyond_one_data_frame(self):
        for size, sent in ((16384, False), (16385, True)):
            self.assertEqual(self.store(f"cl-{size}", b"x" * size).status, 201)
            r = self.curl(f"{self.srv.url}/get/cl-{size}")
            self.assertEqual(len(r.body), size)
            self.assertEqual(r.headers.get("content-length"), str(size) if sent else None, size)

    def test_1mib_upload_and_download_curl(self):
        value = os.urandom(MIB)
        r = self.store("fc-curl", value)
        self.assertEqual((r.status, r.version), (201, "2"))
        r = self.curl(f"{self.srv.url}/get/fc-curl")
        self.assertEqual((r.status, r.headers.get("content-length")), (200, str(MIB)))
        self.assertTrue(r.body == value, "1 MiB body differs")

    def test_1mib_upload_and_download_nghttp_small_windows(self):
        value = os.urandom(MIB)
        f = self.write("fc-ng", value)
        rows = self.stats(self.nghttp("-s", "-n", "-d", f, f"{self.srv.url}/store/fc-ng"))
        self.assertEqual(rows[0][0], 201)
        # Default client windows (64 KiB), then tiny ones (1 KiB stream, 4 KiB connection): the
        # server must honour WINDOW_UPDATEs throughout.
        self.assertTrue(self.nghttp(f"{self.srv.url}/get/fc-ng") == value)
        self.assertTrue(self.nghttp("-w", "10", "-W", "12", f"{self.srv.url}/get/fc-ng") == value)

    def test_concurrent_large_streams(self):
        value = os.urandom(MIB)
        self.assertEqual(self.store("fc-multi", value).status, 201)
        streams = self.frames(self.nghttp("-v", "-n", "-m", "8", "-W", "16", f"{self.srv.url}/get/fc-multi"))
        self.assertEqual(len(streams), 8)
        self.assertEqual(set(streams.values()), {(200, MIB)})
        self.assertTrue(self.curl(f"{self.srv.url}/get/fc-multi").body == value)


class H2ZeroCopyTest(H2TestBase):
    """Large HTTP/2 bodies are written from the stored value in place. A stream reset part-way, the
    key deleted and new values stored meanwhile: every other stream still gets the whole value.
    (That the value outlives its queued bytes is proven under ASan by H2FlowProperty.)"""

    def test_value_deleted_while_its_reset_stream_still_has_bytes_queued(self):
        original = bytes(i * 7 % 251 for i in range(MIB))
        self.assertEqual(self.store("zc", original).status, 201)
        h2 = RawH2(self.srv, rcvbuf=65536)
        streams = range(1, 17, 2)  # 8 MiB in all: more than the socket buffers take
        reset, rest = streams[-1], set(streams[:-1])  # nghttp2 sends the streams mostly in turn
        try:
            settings = SETTINGS_INITIAL_WINDOW_SIZE.to_bytes(2, "big") + MAX_WINDOW.to_bytes(4, "big")
            h2.send(PREFACE + frame(SETTINGS, 0, 0, settings) + window_update(0, MAX_WINDOW - 65535) +
                    b"".join(get_request_frame("/get/zc", sid) for sid in streams))
            time.sleep(0.5)  # the server queues the bodies, frame by frame in turn; the socket takes part
            h2.send(frame(RST_STREAM, 0, reset, (8).to_bytes(4, "big")))  # CANCEL
            time.sleep(0.2)
            self.assertEqual(self.curl("-X", "DELETE", f"{self.srv.url}/store/zc").status, 204)
            for i in range(8):  # new values of the same size, likely placed where the old one was
                self.assertEqual(self.store(f"zc-new{i}", b"#" * MIB).status, 201)
            bodies = {sid: bytearray() for sid in streams}
            ended = set()
            while True:
                f = h2.read_frame()
                self.assertIsNotNone(f, "connection closed before every stream not reset ended")
                ftype, flags, sid, payload = f
                if ftype == DATA and sid in bodies:
                    bodies[sid] += payload
                    if flags & END_STREAM:
                        ended.add(sid)
                        if ended >= rest:
                            break
        finally:
            h2.close()
        for sid in rest:
            self.assertTrue(bodies[sid] == original, f"stream {sid} got other bytes than the value it asked for")
        self.assertTrue(original.startswith(bodies[reset]), "the reset stream got bytes of another value")
        self.assertLess(len(bodies[reset]), MIB, "the stream was not reset part-way; the test proves nothing")


class H2MaxStreamsFlagTest(H2TestBase):
    SERVER_ARGS = ("--max-streams", "7")

    def test_settings_advertise_max_streams(self):
        out = self.nghttp("-v", self.srv.url + "/")
        self.assertIn(b"SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7", out)
        rows = self.stats(self.nghttp("-s", "-n", "-m", "7", self.srv.url + "/"))
        self.assertEqual([r[0] for r in rows], [200] * 7)


if __name__ == "__main__":
    unittest.main()
