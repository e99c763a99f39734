# SPDX-License-Identifier: MIT
# Snapshots you can trust (issue 21): a --snapshot that cannot be written stops the start and
# --check-config; the hkv_snapshot_* metrics and /stats move on success and on failure;
# --snapshot-fail-policy refuse-writes turns writes to 503 and back; a snapshot that runs out of
# space half-way (a 1 MiB tmpfs) leaves the previous one loadable and no temporary file behind.
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from hkv_server import BINARY, HkvServer, assert_clean_exit, metric

# Root writes anywhere: as root, hkv runs without the capabilities that override file permissions
# (setpriv, from util-linux, which every Debian has), as a packaged service's user would.
WITHOUT_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []


def request(srv, method, path, body=None):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "text/plain"} if body is not None else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class StartCheckTest(unittest.TestCase):
    """Each path hkv cannot write a snapshot at stops the start with exit 2 and a message naming the
    path and the reason, before anything listens; --check-config says the same."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hkv-snapcheck-")
        os.chmod(self.dir, 0o755)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def refused(self, path, reason, wrapper=()):
        for extra in ((), ("--check-config",)):
            with self.subTest(path=path, check_config=bool(extra)):
                p = subprocess.run([*wrapper, BINARY, "--port", "0", "--threads", "1", "--snapshot", path, *extra],
                                   capture_output=True, text=True, timeout=30)
                out = p.stdout + p.stderr
                self.assertEqual(p.returncode, 2, out)
                self.assertIn(path, out)
                self.assertIn(reason, out)
                self.assertNotIn("listening on", out)
        left = [name for _, _, names in os.walk(self.dir) for name in names]
        self.assertEqual(left, [], "no temporary file is left")

    def test_a_missing_directory(self):
        self.refused(os.path.join(self.dir, "missing", "hkv.snap"), "No such file or directory")

    def test_a_path_that_is_a_directory(self):
        target = os.path.join(self.dir, "a-directory")
        os.mkdir(target)
        self.refused(target, "Is a directory")

    def test_a_directory_hkv_may_not_write(self):
        locked = os.path.join(self.dir, "locked")
        os.mkdir(locked, 0o555)
        self.refused(os.path.join(locked, "hkv.snap"), "Permission denied", WITHOUT_OVERRIDE)

    def test_a_writable_path_passes_and_leaves_nothing_behind(self):
        path = os.path.join(self.dir, "hkv.snap")
        p = subprocess.run([BINARY, "--snapshot", path, "--check-config"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.listdir(self.dir), [])


class SnapshotMetricsTest(unittest.TestCase):
    """The metrics, /stats and the refuse-writes policy, with periodic snapshots made to fail by
    moving their directory away and to succeed again by moving it back."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="hkv-snapmetrics-")
        self.dir = os.path.join(self.root, "snapshots")
        os.mkdir(self.dir)
        self.path = os.path.join(self.dir, "hkv.snap")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def break_directory(self):
        os.rename(self.dir, self.dir + ".away")

    def mend_directory(self):
        os.rename(self.dir + ".away", self.dir)

    def test_metrics_and_stats_move_on_success_and_on_failure(self):
        with HkvServer("--snapshot", self.path, "--snapshot-interval", "0.5") as srv:
            started = time.time()
            self.assertEqual(metric(srv, "hkv_snapshot_interval_seconds"), 0.5)
            self.assertGreaterEqual(metric(srv, "hkv_snapshot_last_success_timestamp_seconds"), started - 5,
                                    "before the first snapshot it is the start time")
            for i in range(3):
                self.assertEqual(request(srv, "POST", f"/store/k{i}", b"v" * 100)[0], 201)
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_keys") == 3))
            first = metric(srv, "hkv_snapshot_last_success_timestamp_seconds")
            self.assertGreater(metric(srv, "hkv_snapshot_bytes"), 300)
            self.assertEqual(metric(srv, "hkv_snapshot_bytes"), os.path.getsize(self.path))
            self.assertGreater(metric(srv, "hkv_snapshot_last_duration_seconds"), 0)
            self.assertEqual(metric(srv, "hkv_snapshot_failures_total"), 0)
            self.assertEqual(metric(srv, "hkv_snapshot_in_progress"), 0)

            self.break_directory()
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_failures_total") >= 2))
            self.assertEqual(metric(srv, "hkv_snapshot_last_attempt_failed"), 1)
            stalled = metric(srv, "hkv_snapshot_last_success_timestamp_seconds")
            time.sleep(1)
            self.assertEqual(metric(srv, "hkv_snapshot_last_success_timestamp_seconds"), stalled)
            self.assertEqual(request(srv, "POST", "/store/k3", b"w")[0], 201, "the default policy only warns")
            stats = json.loads(request(srv, "GET", "/stats")[1])["snapshot"]
            self.assertGreaterEqual(stats["failures"], 2)
            self.assertEqual(stats["last_attempt_failed"], 1)
            self.assertEqual(stats["keys"], 3)

            self.mend_directory()
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_last_attempt_failed") == 0))
            self.assertGreater(metric(srv, "hkv_snapshot_last_success_timestamp_seconds"), first)
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_keys") == 4))
            code, log = srv.stop()
        assert_clean_exit(code, log)
        self.assertIn("No such file or directory", log)

    def test_refuse_writes_turns_writes_to_503_and_back(self):
        with HkvServer("--snapshot", self.path, "--snapshot-interval", "0.5",
                       "--snapshot-fail-policy", "refuse-writes") as srv:
            self.assertEqual(request(srv, "POST", "/store/kept", b"before")[0], 201)
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_keys") == 1))
            self.break_directory()
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_last_attempt_failed") == 1))
            small = request(srv, "POST", "/store/new", b"x")
            self.assertEqual(small[0], 503)
            self.assertIn(b"snapshot", small[1])
            self.assertEqual(request(srv, "POST", "/store/big", b"y" * 5000)[0], 503, "a body read into the store too")
            self.assertEqual(request(srv, "PUT", "/store/kept", b"z")[0], 503)
            self.assertEqual(request(srv, "DELETE", "/store/kept")[0], 503)
            h2 = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                                 "-X", "POST", "--data-binary", "h2", f"{srv.url}/store/new"],
                                capture_output=True, text=True, timeout=20)
            self.assertEqual(h2.stdout, "503", "HTTP/2 writes as well")
            self.assertEqual(request(srv, "GET", "/get/kept"), (200, b"before"), "reads go on")
            self.assertEqual(request(srv, "GET", "/get/new")[0], 404, "nothing refused was stored")
            self.assertEqual(request(srv, "GET", "/get/big")[0], 404)

            self.mend_directory()
            self.assertTrue(wait_until(lambda: request(srv, "POST", "/store/new", b"after")[0] == 201))
            self.assertEqual(metric(srv, "hkv_snapshot_last_attempt_failed"), 0)
            self.assertEqual(request(srv, "DELETE", "/store/kept")[0], 204)
            code, log = srv.stop()
        assert_clean_exit(code, log)
        self.assertIn("writes get 503 until a snapshot succeeds", log)
        self.assertIn("snapshots succeed again: writes accepted", log)


class DiskFullTest(unittest.TestCase):
    """A snapshot that runs out of space half-way, on a 1 MiB tmpfs."""

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="hkv-tmpfs-")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", self.mnt], capture_output=True, text=True)
        if p.returncode != 0:
            os.rmdir(self.mnt)
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                raise AssertionError(f"cannot mount a tmpfs here (needs root): {p.stderr}")
            raise unittest.SkipTest(f"cannot mount a tmpfs here (needs root): {p.stderr.strip()}")
        self.path = os.path.join(self.mnt, "hkv.snap")

    def tearDown(self):
        subprocess.run(["umount", self.mnt], check=False)
        os.rmdir(self.mnt)

    def test_enospc_half_way_keeps_the_previous_snapshot_loadable_and_no_temporary_file(self):
        srv = HkvServer("--snapshot", self.path, "--snapshot-interval", "0.5")
        try:
            for i in range(10):
                self.assertEqual(request(srv, "POST", f"/store/small{i}", f"value {i}".encode())[0], 201)
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_keys") == 10))
            with open(self.path, "rb") as f:
                previous = f.read()
            for i in range(3):  # 1.2 MB: more than the file system holds
                self.assertEqual(request(srv, "POST", f"/store/big{i}", bytes([65 + i]) * 400_000)[0], 201)
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_failures_total") >= 1))
            with open(self.path, "rb") as f:
                self.assertEqual(f.read(), previous, "the previous snapshot is untouched")
            self.assertEqual(os.listdir(self.mnt), ["hkv.snap"], "the temporary file is removed")
            copy = os.path.join(tempfile.mkdtemp(prefix="hkv-snapcopy-"), "hkv.snap")
            shutil.copyfile(self.path, copy)
            for i in range(3):
                self.assertEqual(request(srv, "DELETE", f"/store/big{i}")[0], 204)
            self.assertTrue(wait_until(lambda: metric(srv, "hkv_snapshot_last_attempt_failed") == 0),
                            "once there is room again, snapshots succeed")
        finally:
            code, log = srv.stop()
        assert_clean_exit(code, log)
        self.assertIn("No space left on device", log)
        with HkvServer("--snapshot", copy) as loaded:
            self.assertEqual(metric(loaded, "hkv_items"), 10)
            self.assertEqual(request(loaded, "GET", "/get/small7"), (200, b"value 7"))
        shutil.rmtree(os.path.dirname(copy))


if __name__ == "__main__":
    unittest.main()
