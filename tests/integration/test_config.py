# Settings from a file: --config FILE (CLI11's TOML), the command line over the file, errors that
# name the file and line, --check-config, and the packaged deploy/hkv.conf.
import http.client
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from hkv_server import BINARY, HkvServer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGED = os.path.join(REPO, "deploy", "hkv.conf")
SETTING = re.compile(r"^#?([a-z0-9-]+) ?= ?(.*)$")


def run(*args):
    p = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def settings_of(text):
    """{name: value} of the "name=value" lines of a config text (commented ones included)."""
    out = {}
    for line in text.splitlines():
        m = SETTING.match(line.strip())
        if m and not line.startswith("# "):
            out[m.group(1)] = m.group(2).strip()
    return out


class ConfigFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, text, name="hkv.conf"):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def node_header(self, srv):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.getheader("X-Hkv-Node")

    def test_a_running_server_takes_its_settings_from_the_file(self):
        path = self.write('# a comment\nnode-name = "from-file"\nnode-header = true\nmax-memory = "64MiB"\n')
        with HkvServer("--config", path) as srv:
            self.assertEqual(self.node_header(srv), "from-file")
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
            conn.request("GET", "/stats")
            body = conn.getresponse().read().decode()
            self.assertRegex(body, r'"memory_limit_bytes":\s*67108864')

    def test_the_command_line_overrides_the_file(self):
        path = self.write('node-name = "from-file"\nnode-header = true\n')
        with HkvServer("--config", path, "--node-name", "from-flag") as srv:
            self.assertEqual(self.node_header(srv), "from-flag")

    def test_sighup_changes_nothing(self):
        path = self.write('node-name = "before"\nnode-header = true\n')
        with HkvServer("--config", path) as srv:
            self.write('node-name = "after"\nnode-header = true\n')
            srv.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            self.assertIsNone(srv.proc.poll(), "SIGHUP stopped hkv")
            self.assertEqual(self.node_header(srv), "before")
            code, log = srv.stop()
        self.assertEqual(code, 0, log)
        self.assertIn("SIGHUP: nothing to reload", log)

    def test_unknown_setting_names_file_line_and_key(self):
        path = self.write('port = 4000\n\n# cap\nmax-memroy = "1GiB"\n')
        code, out, err = run("--config", path)
        self.assertEqual(code, 2, err)
        self.assertIn(f"{path}:4: unknown setting 'max-memroy'", err)

    def test_bad_value_names_file_line_and_key(self):
        path = self.write('threads = 2\nport = 70000\n')
        code, out, err = run("--config", path)
        self.assertEqual(code, 2, err)
        self.assertIn(f"{path}:2: port:", err)
        self.assertIn("70000", err)
        for text, key in (('store = "btree"\n', "store"), ('max-value-size = "lots"\n', "max-value-size"),
                          ('pin-threads = maybe\n', "pin-threads"), ("log-level = 3\n", "log-level")):
            with self.subTest(text=text):
                code, out, err = run("--config", self.write(text, "bad.conf"))
                self.assertEqual(code, 2, err)
                self.assertIn(f"bad.conf:1: {key}", err)

    def test_a_line_that_is_not_a_setting_is_an_error(self):
        code, out, err = run("--config", self.write("port 4000\n"))
        self.assertEqual(code, 2, err)
        self.assertIn(":1: unknown setting 'port 4000'", err)

    def test_unreadable_file_stops_the_start(self):
        for path in (os.path.join(self.dir.name, "missing.conf"), self.dir.name):
            with self.subTest(path=path):
                code, out, err = run("--config", path)
                self.assertEqual(code, 2, err)
                self.assertIn(f"--config {path}: cannot be read", err)

    def test_check_config_prints_the_effective_settings(self):
        path = self.write('port = 4321\nmax-memory = "2MiB"\nnode-name = "n1"\n')
        code, out, err = run("--config", path, "--check-config", "--port", "4322", "--threads", "3")
        self.assertEqual(code, 0, err)
        got = settings_of(out)
        self.assertEqual(got["port"], "4322", "the command line wins")
        self.assertEqual(got["max-memory"], "2097152")
        self.assertEqual(got["node-name"], '"n1"')
        self.assertEqual(got["threads"], "3")
        self.assertIn("settings are valid", out)
        code, out, err = run("--check-config", "--concurrency-limit", "600")
        self.assertEqual(code, 0, err)
        self.assertEqual(settings_of(out)["concurrency-limit"], "500", "shown as capped, as it runs")
        self.assertIn("capped to 500", err)

    def test_check_config_rejects_what_the_start_would(self):
        for args in (("--config", self.write('port = "x"\n')), ("--auth-reads",), ("--node-name", "a b")):
            with self.subTest(args=args):
                code, out, err = run(*args, "--check-config")
                self.assertEqual(code, 2, err)
                self.assertNotIn("settings are valid", out)

    def test_check_config_output_is_a_config_file_that_gives_the_same_settings(self):
        def normalized(settings):  # sizes print as given ("1MiB") or in bytes once parsed
            units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
            out = {}
            for k, v in settings.items():
                m = re.fullmatch(r'"?(\d+)(KiB|MiB|GiB)"?', v)
                out[k] = str(int(m.group(1)) * units[m.group(2)]) if m else v
            return out

        code, first, err = run("--check-config", "--max-memory", "3MiB", "--default-ttl", "60")
        self.assertEqual(code, 0, err)
        code, second, err = run("--config", self.write(first, "effective.conf"), "--check-config")
        self.assertEqual(code, 0, err)
        self.assertEqual(normalized(settings_of(second)), normalized(settings_of(first)))
        self.assertEqual(settings_of(second)["default-ttl"], "60")
        code, third, err = run("--config", self.write(second, "again.conf"), "--check-config")
        self.assertEqual(code, 0, err)
        self.assertEqual(third, second)


class PackagedConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def test_lists_every_setting_with_its_default(self):
        code, defaults, err = run("--check-config")
        self.assertEqual(code, 0, err)
        with open(PACKAGED) as f:
            packaged = f.read()
        listed = settings_of(packaged)
        expected = settings_of(defaults)
        self.assertEqual(sorted(listed), sorted(expected), "deploy/hkv.conf and hkv's settings differ")
        resolved = {"threads", "node-name"}  # shown as a description there, resolved on each machine
        for key, value in expected.items():
            commented_default = f"#{key} = {value}" in packaged or f"(built-in default: {value})" in packaged
            if key not in resolved:
                self.assertTrue(commented_default, f"{key}'s default {value} is not in deploy/hkv.conf")

    def test_it_is_valid_and_so_is_every_setting_uncommented(self):
        # Its snapshot directory, /var/lib/hkv, is made by systemd when the service starts: here
        # the check writes the snapshot in a temporary folder instead (a flag overrides the file).
        snapshot = ("--snapshot", os.path.join(self.tmp.name, "hkv.snapshot"))
        code, out, err = run("--config", PACKAGED, "--check-config", *snapshot)
        self.assertEqual(code, 0, err)
        self.assertEqual(settings_of(out)["max-memory"], str(1 << 30))
        with open(PACKAGED) as f:
            lines = [re.sub(r"^#([a-z])", r"\1", line) for line in f if "<" not in line]
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as t:
            t.writelines(lines)
            t.flush()
            code, out, err = run("--config", t.name, "--check-config", *snapshot)
            self.assertEqual(code, 0, err)


if __name__ == "__main__":
    unittest.main()
