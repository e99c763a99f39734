# SPDX-License-Identifier: MIT
# Access control through real clients (http.client over HTTP/1.1, nghttp over h2c): with
# --auth-token-file, writes, deletes, /metrics and /stats need the bearer token, and reads too with
# --auth-reads; rejected requests change nothing; bad token files stop the start; a non-loopback
# bind without a token is warned about loudly.
import os
import subprocess
import tempfile
import unittest

from hkv_server import BINARY, HkvServer, ServerTestCase

TOKEN = "s3cr3t-Token_42~"


def token_file(text, mode=0o600):
    f = tempfile.NamedTemporaryFile("w", delete=False, prefix="hkv-token-")
    f.write(text)
    f.close()
    os.chmod(f.name, mode)
    return f.name


def bearer(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


class WritesNeedTheTokenTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = token_file(TOKEN + "\n")
        cls.SERVER_ARGS = ("--auth-token-file", cls.path)
        super().setUpClass()
        status, _, _ = cls.request(cls, "POST", "/store/seed", b"original", bearer())
        assert status == 201, status

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.path)

    def test_write_without_a_token_is_401_with_a_challenge_and_changes_nothing(self):
        status, headers, body = self.request("POST", "/store/seed", b"overwritten")
        self.assertEqual(status, 401)
        self.assertEqual(headers["www-authenticate"], 'Bearer realm="hkv"')
        self.assertIn(b"Authorization: Bearer", body)
        self.assertEqual(self.request("GET", "/get/seed")[2], b"original")

    def test_wrong_token_is_401_invalid_token(self):
        for value in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", TOKEN):
            with self.subTest(authorization=value):
                status, headers, _ = self.request("PUT", "/store/seed", b"overwritten", {"Authorization": value})
                self.assertEqual(status, 401)
                self.assertIn("Bearer", headers["www-authenticate"])
        self.assertEqual(self.request("GET", "/get/seed")[2], b"original")

    def test_right_token_writes_and_deletes(self):
        self.assertEqual(self.request("POST", "/store/k1", b"v1", bearer())[0], 201)
        self.assertEqual(self.request("POST", "/store/k1", b"v2", {"authorization": f"bearer {TOKEN}"})[0], 200)
        self.assertEqual(self.request("DELETE", "/store/k1")[0], 401)
        self.assertEqual(self.request("GET", "/get/k1")[2], b"v2")
        self.assertEqual(self.request("DELETE", "/store/k1", headers=bearer())[0], 204)
        self.assertEqual(self.request("GET", "/get/k1")[0], 404)

    def test_reads_and_the_root_stay_open(self):
        self.assertEqual(self.request("GET", "/get/seed")[0], 200)
        self.assertEqual(self.request("HEAD", "/get/seed")[0], 200)
        self.assertEqual(self.request("GET", "/")[0], 200)

    def test_metrics_stats_and_keys_need_the_token(self):
        self.assertEqual(self.request("POST", "/store/m", b"x")[0], 401)
        for path in ("/metrics", "/stats", "/keys"):
            with self.subTest(path=path):
                self.assertEqual(self.request("GET", path)[0], 401)
                self.assertEqual(self.request("GET", path, headers=bearer())[0], 200)
        metrics = self.request("GET", "/metrics", headers=bearer())[2].decode()
        self.assertRegex(metrics, r'hkv_requests_total\{protocol="h1",method="POST",route="store",status="401"\} [1-9]')

    def test_h2c_with_nghttp(self):
        url = f"http://{self.srv.host}:{self.srv.port}"
        def nghttp(*args):
            out = subprocess.run(["nghttp", "-v", *args], capture_output=True, text=True, timeout=20).stdout
            return next(line.split()[-1] for line in out.splitlines() if ":status:" in line)
        data = token_file("via-h2")
        try:
            self.assertEqual(nghttp("-d", data, f"{url}/store/h2key"), "401")
            self.assertEqual(nghttp("-d", data, "-H", f"authorization: Bearer {TOKEN}", f"{url}/store/h2key"), "201")
        finally:
            os.unlink(data)
        self.assertEqual(self.request("GET", "/get/h2key")[2], b"via-h2")


class ReadsNeedTheTokenTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = token_file(f"  {TOKEN}  \nsecond line is ignored\n")
        cls.SERVER_ARGS = ("--auth-token-file", cls.path, "--auth-reads")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.path)

    def test_get_needs_the_token(self):
        self.assertEqual(self.request("POST", "/store/r", b"x", bearer())[0], 201)
        self.assertEqual(self.request("GET", "/get/r")[0], 401)
        self.assertEqual(self.request("GET", "/get/r", headers=bearer())[2], b"x")
        self.assertEqual(self.request("GET", "/")[0], 200)


class StartUpTest(unittest.TestCase):
    def start(self, *args):
        return subprocess.run([BINARY, "--port", "0", *args], capture_output=True, text=True, timeout=20)

    def test_bad_token_files_stop_the_start(self):
        empty, spaced = token_file("\n"), token_file("two words\n")
        try:
            for args, message in ((["--auth-token-file", "/nonexistent/token"], "cannot read"),
                                  (["--auth-token-file", empty], "no token"),
                                  (["--auth-token-file", spaced], "may hold only"),
                                  (["--auth-reads"], "needs --auth-token-file")):
                with self.subTest(args=args):
                    r = self.start(*args)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(message, r.stderr)
        finally:
            os.unlink(empty)
            os.unlink(spaced)

    def test_non_loopback_bind_without_token_is_warned_about(self):
        # 192.0.2.1 (TEST-NET-1) is on no interface here: the warning comes, then the bind fails,
        # so nothing is ever exposed.
        r = self.start("--bind", "192.0.2.1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("WITHOUT --auth-token-file", r.stdout + r.stderr)
        path = token_file(TOKEN)
        try:
            r = self.start("--bind", "192.0.2.1", "--auth-token-file", path)
            self.assertNotIn("WITHOUT --auth-token-file", r.stdout + r.stderr)
        finally:
            os.unlink(path)

    def test_loopback_binds_are_not_warned_about(self):
        with HkvServer(bind="127.0.0.1") as srv:
            pass
        self.assertNotIn("WITHOUT --auth-token-file", srv.log.decode())

    def test_a_token_file_others_can_read_is_warned_about(self):
        path = token_file(TOKEN, mode=0o644)
        try:
            with HkvServer("--auth-token-file", path) as srv:
                pass
            self.assertIn("can be read by other users", srv.log.decode())
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
