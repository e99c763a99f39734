# SPDX-License-Identifier: MIT
# The README's Usage examples, run as written (only localhost:3000 becomes the test server's
# port) by bash in a fresh directory, then checked by what they printed and what they left; and
# its Prometheus alert rule for snapshots, checked and unit-tested with promtool.
import http.client
import json
import os
import re
import subprocess
import tempfile
import unittest

from hkv_server import ServerTestCase, require_tools

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def usage_block():
    """The first ```bash block under '## Usage'."""
    text = open(README, encoding="utf-8").read()
    section = text[text.index("\n## Usage"):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def alert_rule_block():
    """The ```yaml block under '### Snapshots': a Prometheus rule file."""
    text = open(README, encoding="utf-8").read()
    section = text[text.index("\n### Snapshots"):]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


# Snapshots every 60 s: the last success stops moving at 3 min. The rule must stay quiet while
# fewer than three intervals have passed without one, then fire (after its 1 min `for`).
ALERT_RULE_TEST = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'hkv_snapshot_last_success_timestamp_seconds{instance="node1"}'
        values: '0 60 120 180 180 180 180 180 180 180 180 180'
      - series: 'hkv_snapshot_interval_seconds{instance="node1"}'
        values: '60x11'
    alert_rule_test:
      - eval_time: 6m
        alertname: HkvSnapshotsFailing
        exp_alerts: []
      - eval_time: 10m
        alertname: HkvSnapshotsFailing
        exp_alerts:
          - exp_labels: {instance: node1, severity: critical}
            exp_annotations:
              summary: "hkv node1 has written no snapshot for three intervals"
"""


class ReadmeAlertRule(unittest.TestCase):
    def test_the_snapshot_alert_rule_is_valid_and_fires_after_three_missed_intervals(self):
        require_tools("promtool")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "rules.yml"), "w") as f:
                f.write(alert_rule_block())
            with open(os.path.join(d, "rules_test.yml"), "w") as f:
                f.write(ALERT_RULE_TEST)
            check = subprocess.run(["promtool", "check", "rules", "rules.yml"], cwd=d, capture_output=True,
                                   text=True, timeout=60)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            self.assertIn("SUCCESS: 1 rules found", check.stdout + check.stderr)
            test = subprocess.run(["promtool", "test", "rules", "rules_test.yml"], cwd=d, capture_output=True,
                                  text=True, timeout=60)
            self.assertEqual(test.returncode, 0, test.stdout + test.stderr)


class ReadmeUsage(ServerTestCase):
    def test_usage_examples_work_as_written(self):
        require_tools("curl")
        script = usage_block().replace("localhost:3000", f"localhost:{self.srv.port}")
        with tempfile.TemporaryDirectory() as cwd:
            photo = os.urandom(5000)
            with open(os.path.join(cwd, "photo.jpg"), "wb") as f:
                f.write(photo)
            run = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, capture_output=True, timeout=60)
        out = run.stdout.decode(errors="replace")
        self.assertEqual(run.returncode, 0, run.stderr.decode(errors="replace")[-2000:])
        self.assertNotIn("curl: (", run.stderr.decode(errors="replace"))
        # the three reads of greeting (HTTP/1.1, h2c prior knowledge, Upgrade) and the HEAD
        self.assertEqual(out.count("hello"), 3, out[:500])
        self.assertIn("HTTP/1.1 200 OK", out)
        self.assertIn("content-length: 5", out.lower())
        self.assertIn("HTTP/1.1 304 Not Modified", out)  # If-None-Match with the current ETag
        self.assertIn("hkv_requests_total", out)          # /metrics
        self.assertIn('"items":', out)                     # /stats

        conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=10)

        def get(path):
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.getheader("content-type"), r.read()

        self.assertEqual(get("/get/greeting")[0], 404)                  # deleted
        self.assertEqual(get("/get/photo")[2], photo)                   # uploaded from the file
        self.assertEqual(get("/get/user%201%2Fname")[2], b"Ada")        # the key "user 1/name"
        self.assertEqual(get("/get/other")[2], b"x")
        # If-Match with the ETag read before replaced the value; the same ETag then no longer matched
        status, ctype, body = get("/get/session")
        self.assertEqual((status, ctype, json.loads(body)), (200, "application/json", {"n": 2}))
        conn.close()


if __name__ == "__main__":
    unittest.main()
