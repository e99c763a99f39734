# SPDX-License-Identifier: MIT
# The Debian package as a user gets it (HKV_DEB=path/to/hkv_VERSION_ARCH.deb): its files, control
# fields and conffile, the binary's version, the man page, lintian, and the systemd units checked
# by systemd-analyze in a root holding the package's files.
import os
import re
import shutil
import subprocess
import tempfile
import unittest

DEB = os.environ.get("HKV_DEB", "")


def sh(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


@unittest.skipUnless(DEB, "HKV_DEB is not set: build the package first (scripts/quickstart's package phase)")
class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = os.path.join(cls.tmp.name, "root")
        subprocess.run(["dpkg-deb", "-x", DEB, cls.root], check=True)
        cls.control = os.path.join(cls.tmp.name, "control")
        subprocess.run(["dpkg-deb", "-e", DEB, cls.control], check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def field(self, name):
        return sh("dpkg-deb", "-f", DEB, name).stdout.strip()

    def test_files(self):
        for path in ("usr/bin/hkv", "etc/hkv/hkv.conf", "lib/systemd/system/hkv.service",
                     "lib/systemd/system/hkv@.service", "usr/share/man/man1/hkv.1.gz", "usr/share/doc/hkv/README.md",
                     "usr/share/doc/hkv/copyright", "usr/share/doc/hkv/changelog.gz"):
            self.assertTrue(os.path.isfile(os.path.join(self.root, path)), path)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/hkv/hkv.conf"])

    def test_version_is_the_binarys(self):
        out = sh(os.path.join(self.root, "usr/bin/hkv"), "--version").stdout.strip()
        self.assertEqual(out, "hkv " + self.field("Version"))

    def test_dependencies_come_from_the_libraries_linked(self):
        depends = self.field("Depends")
        for lib in ("libnghttp2-14", "liburcu8", "libsystemd0", "libc6"):
            self.assertIn(lib, depends)

    def test_the_packaged_config_is_valid(self):
        # Its snapshot goes to /var/lib/hkv, which systemd makes when the service starts; the check,
        # which proves a snapshot can be written, writes in a temporary folder here instead.
        p = sh(os.path.join(self.root, "usr/bin/hkv"), "--config", os.path.join(self.root, "etc/hkv/hkv.conf"),
               "--check-config", "--snapshot", os.path.join(self.tmp.name, "hkv.snapshot"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_man_page_documents_the_flags(self):
        p = sh("man", "-l", os.path.join(self.root, "usr/share/man/man1/hkv.1.gz"), env={**os.environ, "MANWIDTH": "120"})
        self.assertEqual(p.returncode, 0, p.stderr)
        for flag in ("--config", "--check-config", "--max-memory", "--snapshot", "--port"):
            self.assertIn(flag, p.stdout)

    def test_lintian_reports_no_error(self):
        p = sh("lintian", "--pedantic", DEB)
        errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], p.stdout)
        warnings = [line for line in p.stdout.splitlines() if line.startswith("W:")]
        self.assertEqual(warnings, [], p.stdout)

    def test_maintainer_scripts(self):
        for name in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, name)
            self.assertEqual(sh("sh", "-n", path).returncode, 0, name)
            with open(path) as f:
                text = f.read()
            self.assertIn("deb-systemd-", text, name)
        with open(os.path.join(self.control, "postrm")) as f:
            self.assertNotIn("rm -", f.read(), "the snapshot must survive removal and purge")

    def run_script(self, name, *args):
        """Runs a maintainer script with deb-systemd-helper, deb-systemd-invoke and systemctl
        replaced by stubs that log their arguments; returns the log."""
        stubs = os.path.join(self.tmp.name, "stubs")
        log = os.path.join(self.tmp.name, "calls.log")
        os.makedirs(stubs, exist_ok=True)
        for tool in ("deb-systemd-helper", "deb-systemd-invoke", "systemctl"):
            with open(os.path.join(stubs, tool), "w") as f:
                f.write(f'#!/bin/sh\necho "{tool} $*" >>{log}\nexit 0\n')
            os.chmod(os.path.join(stubs, tool), 0o755)
        if os.path.exists(log):
            os.remove(log)
        env = {**os.environ, "PATH": f"{stubs}:/usr/sbin:/usr/bin:/sbin:/bin"}
        p = sh("sh", "-e", os.path.join(self.control, name), *args, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(log) as f:
            return f.read()

    def test_maintainer_scripts_enable_the_service_and_keep_the_data(self):
        calls = self.run_script("postinst", "configure")
        self.assertIn("deb-systemd-helper --quiet was-enabled hkv.service", calls)
        self.assertIn("deb-systemd-helper enable hkv.service", calls)
        self.assertIn("deb-systemd-helper mask hkv.service", self.run_script("postrm", "remove"))
        self.assertIn("deb-systemd-helper purge hkv.service", self.run_script("postrm", "purge"))

    def test_units_pass_systemd_analyze_verify(self):
        # A root with the package's files and systemd's own units (targets the service needs).
        shutil.copytree("/lib/systemd/system", os.path.join(self.root, "usr/lib/systemd/system"), dirs_exist_ok=True)
        env = {**os.environ, "MANPATH": os.path.join(self.root, "usr/share/man")}
        for unit in ("hkv.service", "hkv@node1.service"):
            p = sh("systemd-analyze", "verify", f"--root={self.root}", f"/lib/systemd/system/{unit}", env=env)
            self.assertEqual(p.returncode, 0, f"{unit}: {p.stdout}{p.stderr}")

    def test_exposure_score_is_ok(self):
        for unit in ("hkv.service", "hkv@.service"):
            p = sh("systemd-analyze", "security", "--offline=true", os.path.join(self.root, "lib/systemd/system", unit))
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout + p.stderr)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            self.assertLessEqual(float(m.group(1)), 2.0, p.stdout[-3000:])

    def test_units_are_hardened(self):
        with open(os.path.join(self.root, "lib/systemd/system/hkv.service")) as f:
            unit = f.read()
        for line in ("Type=notify", "DynamicUser=yes", "StateDirectory=hkv", "Restart=on-failure", "LimitNOFILE=",
                     "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
                     "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                     "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
                     "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
                     "RestrictNamespaces=yes", "LockPersonality=yes", "ExecStart=/usr/bin/hkv --config /etc/hkv/hkv.conf"):
            self.assertIn(line, unit)
        with open(os.path.join(self.root, "lib/systemd/system/hkv@.service")) as f:
            template = f.read()
        self.assertIn("ExecStart=/usr/bin/hkv --config /etc/hkv/%i.conf", template)
        self.assertIn("StateDirectory=hkv/%i", template)


if __name__ == "__main__":
    unittest.main()
