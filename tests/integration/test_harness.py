# SPDX-License-Identifier: MIT
# The test harness itself: a server a test ran must exit 0 and print no sanitizer report, or the
# test fails. A stand-in for hkv (a bash script that prints hkv's start-up line and, on SIGTERM,
# whatever the case asks) shows that HkvServer's `with` block and ServerTestCase catch both.
import os
import stat
import tempfile
import unittest

import hkv_server
from hkv_server import HkvServer, assert_clean_exit


def fake_hkv(directory, on_exit, code):
    """A stand-in binary: announces a port, then on SIGTERM prints `on_exit` and exits `code`."""
    path = os.path.join(directory, "fake-hkv")
    with open(path, "w") as f:
        f.write(f"""#!/usr/bin/env bash
trap 'printf "%s\\n" "{on_exit}"; exit {code}' TERM
echo "listening on 127.0.0.1:1 (fake)"
while true; do sleep 0.05; done
""")
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


class HarnessVerdicts(unittest.TestCase):
    def run_fake(self, on_exit, code):
        with tempfile.TemporaryDirectory() as d:
            saved = hkv_server.BINARY
            hkv_server.BINARY = fake_hkv(d, on_exit, code)
            try:
                with HkvServer():
                    pass
            finally:
                hkv_server.BINARY = saved

    def test_clean_exit_passes(self):
        self.run_fake("bye", 0)

    def test_leak_report_at_exit_fails(self):
        with self.assertRaisesRegex(AssertionError, "sanitizer report"):
            self.run_fake("==1==ERROR: LeakSanitizer: detected memory leaks", 0)

    def test_race_report_fails(self):
        with self.assertRaisesRegex(AssertionError, "sanitizer report"):
            self.run_fake("WARNING: ThreadSanitizer: data race (pid=1)", 0)

    def test_ubsan_report_fails(self):
        with self.assertRaisesRegex(AssertionError, "sanitizer report"):
            self.run_fake("src/x.cc:1:2: runtime error: signed integer overflow", 0)

    def test_non_zero_exit_fails(self):
        with self.assertRaisesRegex(AssertionError, "exited with 1"):
            self.run_fake("bye", 1)

    def test_assert_clean_exit_accepts_an_expected_code(self):
        assert_clean_exit(1, "snapshot could not be written", expected_code=1)


if __name__ == "__main__":
    unittest.main()
