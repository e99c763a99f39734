# SPDX-License-Identifier: MIT
# A 3-node hkv cluster behind real nginx and real HAProxy, driven by scripts/cluster: 30,000 keys
# spread by consistent hashing on the decoded key; every method of a key on one node; stop, kill,
# pause, restart, add and remove; and the consistency rule: no read returns a value older than the
# last acknowledged write, and no acknowledged delete comes back.
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from hkv_server import BINARY, require_tools

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "cluster")
KEYS = 30_000
FAILED_NODE = (502, 503, 504)


def running(pid):
    """True while `pid` exists and is not a zombie waiting for a parent that never reaps it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def key_name(i):
    # Every 50th key needs percent-encoding: the ring must hash the decoded key.
    return f"sp ace/{i}" if i % 50 == 0 else f"k{i}"


def enc(key, alternate=False):
    """The key percent-encoded for a path; `alternate` also encodes its first letter ("%6B1")."""
    quoted = "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in key)
    return f"%{ord(key[0]):02X}{quoted[1:]}" if alternate and key[0].isalnum() else quoted


class Client:
    """Keep-alive HTTP/1.1 requests; a connection the server closed between requests is reopened
    once, as every HTTP client does for an idle keep-alive connection."""

    def __init__(self, host, port, timeout=10):
        self.host, self.port, self.timeout, self.conn = host, port, timeout, None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, r.getheader("X-Hkv-Node"), data
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class ClusterScenario:
    """The whole scenario for one balancer; subclasses name it."""
    PROXY = None
    PORT = None

    @classmethod
    def setUpClass(cls):
        require_tools(cls.PROXY, "curl")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.cli(["up", "3", "--proxy", cls.PROXY, "--port", str(cls.PORT), "--hkv", BINARY, "--lifetime", "600",
                 "--", "--snapshot-interval", "0.3"])

    @classmethod
    def tearDownClass(cls):
        pids = [n["pid"] for n in cls.status()]
        with open(os.path.join(cls.dir, f"{cls.PROXY}.pid")) as f:
            pids.append(int(f.read().split()[0]))  # the balancer's master
        with open(os.path.join(cls.dir, "cluster.json")) as f:
            pids.append(json.load(f)["reaper_pid"])  # the --lifetime timer
        cls.cli(["down"])
        for pid in pids:
            assert not running(pid), f"pid {pid} left behind by down"
        cls.tmp.cleanup()

    @classmethod
    def cli(cls, args, timeout=120):
        r = subprocess.run([SCRIPT, *args, "--dir", cls.dir] if args[0] != "up" else
                           [SCRIPT, args[0], "--dir", cls.dir, *args[1:]],
                           capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, f"scripts/cluster {' '.join(args)} failed:\n{r.stdout}{r.stderr}"
        return r.stdout

    @classmethod
    def status(cls):
        return json.loads(cls.cli(["status", "--json"]))

    def setUp(self):
        self.lb = Client("127.0.0.1", self.PORT)
        self.addCleanup(self.lb.close)

    def node_client(self, name):
        address = next(n["address"] for n in self.status() if n["name"] == name)
        return Client(address.split(":")[0], 3000)

    def read_keys(self, method, keys):
        """`method` /get/{key} for every key. Returns {key: (status, X-Hkv-Node, body, seconds)}."""
        out = {}
        for key in keys:
            started = time.monotonic()
            status, node, body = self.lb.request(method, f"/get/{enc(key)}")
            out[key] = (status, node, body, time.monotonic() - started)
        return out

    def owners(self):
        """Which node the balancer sends each key to (HEAD, via X-Hkv-Node)."""
        out = {}
        for key, (status, node, _, _) in self.read_keys("HEAD", [key_name(i) for i in range(KEYS)]).items():
            self.assertIsNotNone(node, f"{key}: {status} without X-Hkv-Node")
            out[key] = node
        return out

    def acknowledge(self, model, keys, value, expected):
        """PUTs `value` to each key (DELETE when None); each must answer `expected`, and the model
        then holds what the cluster acknowledged."""
        for key in keys:
            if value is None:
                status = self.lb.request("DELETE", f"/store/{enc(key)}")[0]
            else:
                status = self.lb.request("PUT", f"/store/{enc(key)}", value)[0]
            self.assertEqual(status, expected, key)
            model[key] = value

    def check_rule(self, model, what):
        """Every key reads as its last acknowledged value or as a miss, never older, never resurrected."""
        stale = []
        answers = self.read_keys("GET", list(model))
        for key, value in model.items():
            status, _, body, _ = answers[key]
            if status == 200 and (value is None or body != value):
                stale.append((key, value, body))
            elif status not in (200, 404):
                stale.append((key, value, status))
        self.assertEqual(stale[:5], [], f"{what}: {len(stale)} keys read older than acknowledged")

    def test_cluster(self):
        model = self.write_everything()
        owner = self.check_spread_and_methods(model)
        self.check_protocols_and_routes(model, owner)
        self.check_stop_and_start(model, owner)
        self.check_kill_with_writes_during_the_outage(model, owner)
        self.check_pause(model, owner)
        self.check_add_and_remove(model, owner)

    def write_everything(self):
        model, rng = {}, random.Random(12)
        for i in range(KEYS):
            key = key_name(i)
            value = f"{key}={rng.random()}".encode()
            ttl = "?ttl=3600" if i % 3 == 0 else ""  # the query must not move a key
            status, _, body = self.lb.request("POST", f"/store/{enc(key)}{ttl}", value)
            self.assertEqual(status, 201, (key, body))
            model[key] = value
        for i in range(0, KEYS, 7):
            status, _, body = self.lb.request("GET", f"/get/{enc(key_name(i), alternate=True)}")
            self.assertEqual((status, body), (200, model[key_name(i)]))
        return model

    def check_spread_and_methods(self, model):
        owner = self.owners()
        status = self.status()
        self.assertEqual(sum(n["items"] for n in status), KEYS)
        for n in status:
            share = n["items"] / KEYS
            self.assertLess(abs(share - 1 / 3), 0.15 / 3, f"{n['name']} holds {share:.3f} of the keys")
            self.assertEqual(sum(1 for o in owner.values() if o == n["name"]), n["items"])
        nodes = {n["name"]: self.node_client(n["name"]) for n in status}
        for key in random.Random(3).sample(sorted(model), 150):
            home = owner[key]
            for method, body in (("PUT", b"put"), ("GET", None), ("HEAD", None), ("DELETE", None),
                                 ("POST", model[key])):
                s, node, _ = self.lb.request(method, f"/store/{enc(key)}" if body or method == "DELETE"
                                             else f"/get/{enc(key)}", body)
                self.assertEqual(node, home, f"{method} {key}")
                self.assertIn(s, (200, 201, 204), f"{method} {key}")
                for name, direct in nodes.items():
                    got = direct.request("GET", f"/get/{enc(key)}")
                    expected = (404 if method == "DELETE" else 200) if name == home else 404
                    self.assertEqual(got[0], expected, f"after {method} {key}: {name}")
        for direct in nodes.values():
            direct.close()
        return owner

    def check_protocols_and_routes(self, model, owner):
        self.assertEqual(self.lb.request("GET", "/")[0], 200)
        s, node, body = self.lb.request("GET", "/stats")
        self.assertEqual((s, json.loads(body)["node"]), (200, node))
        s, node, body = self.lb.request("GET", "/metrics")
        self.assertIn(f'hkv_build_info{{node="{node}"', body.decode())
        h2_port = self.PORT + 1 if self.PROXY == "nginx" else self.PORT
        key = key_name(1)
        answers = []
        for args in (["-X", "PUT", "--data", "via-h2", f"http://127.0.0.1:{h2_port}/store/{enc(key)}"],
                     [f"http://127.0.0.1:{h2_port}/get/{enc(key)}"]):
            out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-D", "-", *args],
                                 capture_output=True, text=True, timeout=20)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(out.stdout.startswith("HTTP/2 200"), out.stdout)
            self.assertIn(f"x-hkv-node: {owner[key]}", out.stdout.lower())
            answers.append(out.stdout)
        self.assertTrue(answers[1].endswith("\n\nvia-h2"), answers[1])
        model[key] = b"via-h2"

    def read_all(self, model, owner, down):
        """Reads every key: the keys of `down` (a node that refuses connections) fail at once with
        a 5xx, and every other key is served."""
        wrong, slow, failed = [], 0, []
        answers = self.read_keys("GET", list(model))
        for key, value in model.items():
            status, _, body, took = answers[key]
            if owner[key] == down:
                failed.append(took)
                if status not in FAILED_NODE or took > 0.5:
                    wrong.append((key, status, took))
            elif status != 200 or body != value:
                wrong.append((key, status))
            elif took > 0.05:
                slow += 1
        self.assertEqual(wrong[:5], [], f"{len(wrong)} wrong answers with {down} out")
        self.assertLess(slow, KEYS / 100, f"{slow} reads of healthy keys took over 50 ms")
        if failed:
            failed.sort()
            print(f"{self.PROXY}: {len(failed)} keys of stopped {down}: 5xx in {failed[len(failed) // 2] * 1e3:.1f} ms "
                  f"(median), {failed[-1] * 1e3:.1f} ms (max)", file=sys.stderr)

    def check_stop_and_start(self, model, owner):
        self.cli(["stop", "2"])
        self.assertEqual([n["state"] for n in self.status()], ["up", "stopped", "up"])
        self.read_all(model, owner, "node2")
        self.cli(["start", "2"])
        self.read_all(model, owner, None)  # its keys are back, from its clean snapshot

    def check_kill_with_writes_during_the_outage(self, model, owner):
        victim = [k for k in model if owner[k] == "node3"]
        others = [k for k in model if owner[k] != "node3"]
        time.sleep(0.8)  # a periodic snapshot (every 0.3 s) now holds the values below...
        self.acknowledge(model, victim[:600], b"newer", 200)
        self.acknowledge(model, victim[600:900], None, 204)
        self.cli(["kill", "3"])  # ...and the acknowledged writes above may be newer than it
        self.assertEqual(self.status()[2]["state"], "killed")
        for key in victim[900:1200]:  # writes for the dead node are refused, not moved
            self.assertIn(self.lb.request("PUT", f"/store/{enc(key)}", b"lost")[0], FAILED_NODE)
        self.acknowledge(model, others[:300], b"during", 200)
        self.acknowledge(model, others[300:400], None, 204)
        self.cli(["start", "3"])
        self.assertEqual(self.status()[2]["items"], 0, "a killed node must not load an old snapshot")
        self.check_rule(model, "after kill and restart")
        for key in victim:  # refill, so later steps read real values again
            if model[key] is not None:
                self.assertEqual(self.lb.request("POST", f"/store/{enc(key)}", model[key])[0], 201)

    def check_pause(self, model, owner):
        self.cli(["pause", "1"])
        self.assertEqual(self.status()[0]["state"], "paused")
        paused_keys = [k for k in owner if owner[k] == "node1"][:3]
        results = []

        def hit_paused():
            c = Client("127.0.0.1", self.PORT)
            for key in paused_keys:
                started = time.monotonic()
                status = c.request("GET", f"/get/{enc(key)}")[0]
                results.append((status, time.monotonic() - started))
            c.close()

        worker = threading.Thread(target=hit_paused)
        worker.start()
        lat = []
        for key in [k for k in owner if owner[k] != "node1" and model[k] is not None][:3000]:
            started = time.monotonic()
            self.assertEqual(self.lb.request("GET", f"/get/{enc(key)}")[0], 200)
            lat.append(time.monotonic() - started)
        worker.join(60)
        lat.sort()
        self.assertLess(lat[int(len(lat) * 0.99)], 0.05, "p99 of healthy keys with a paused node")
        self.assertEqual(len(results), len(paused_keys))
        for status, took in results:
            self.assertIn(status, FAILED_NODE)
            self.assertLess(took, 2.0)
        self.cli(["resume", "1"])
        self.assertEqual(self.lb.request("GET", f"/get/{enc(paused_keys[0])}")[0], 200)

    def check_add_and_remove(self, model, owner):
        stop = threading.Event()
        errors = []

        def steady_reads():  # a client on keep-alive connections while the balancer reloads
            c = Client("127.0.0.1", self.PORT)
            key = enc(next(k for k in model if model[k] is not None))
            while not stop.is_set():
                status = c.request("HEAD", f"/get/{key}")[0]
                if status >= 500:
                    errors.append(status)
            c.close()

        reader = threading.Thread(target=steady_reads)
        reader.start()
        try:
            self.cli(["add"])
        finally:
            stop.set()
            reader.join(30)
        self.assertEqual(errors, [], "requests failed while the balancer reloaded")
        after = self.owners()
        moved = [k for k in owner if after[k] != owner[k]]
        print(f"\n{self.PROXY}: adding node4 moved {len(moved) / KEYS:.1%} of the keys", file=sys.stderr)
        self.assertLessEqual(len(moved) / KEYS, 1 / 4 + 0.05, "keys moved by adding a 4th node")
        self.assertGreater(len(moved) / KEYS, 1 / 4 - 0.10)
        self.assertEqual({after[k] for k in moved}, {"node4"}, "keys may only move to the new node")
        self.assertEqual(sum(n["items"] for n in self.status()), sum(v is not None for v in model.values())
                         - len([k for k in moved if model[k] is not None]), "old owners kept moved keys")
        self.acknowledge(model, moved[:400], b"on-node4", 201)  # the new owner takes writes and deletes...
        self.acknowledge(model, moved[400:600], None, 404)
        self.cli(["remove", "4"])  # ...then leaves: its keys go home, where no old copy may wait
        again = self.owners()
        share = sum(1 for k in after if after[k] == "node4") / KEYS
        moved_back = [k for k in after if again[k] != after[k]]
        print(f"{self.PROXY}: removing node4 (share {share:.1%}) moved {len(moved_back) / KEYS:.1%}", file=sys.stderr)
        self.assertLessEqual(len(moved_back) / KEYS, share + 0.05)
        self.assertEqual(again, owner, "removing the added node restores the old ring")
        self.check_rule(model, "after add, writes on the new node, and remove")
        share1 = sum(1 for k in again if again[k] == "node1") / KEYS
        self.cli(["remove", "1"])
        last = self.owners()
        moved1 = sum(1 for k in again if last[k] != again[k]) / KEYS
        print(f"{self.PROXY}: removing node1 (share {share1:.1%}) moved {moved1:.1%}", file=sys.stderr)
        self.assertLessEqual(moved1, share1 + 0.05)
        self.assertEqual([n["index"] for n in self.status()], [2, 3])
        self.check_rule(model, "after removing node 1")


class NginxClusterTest(ClusterScenario, unittest.TestCase):
    PROXY = "nginx"
    PORT = 18080


class HaproxyClusterTest(ClusterScenario, unittest.TestCase):
    PROXY = "haproxy"
    PORT = 18090


if __name__ == "__main__":
    unittest.main()
