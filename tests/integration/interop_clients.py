# SPDX-License-Identifier: MIT
# The real clients of the interoperability matrix, each behind one interface: run(requests) sends
# the requests one after another through that client and returns one Answer each. What a client
# cannot show (nghttp prints no headers, h2load only counts statuses and bytes) is None.
import base64
import http.client
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 20
ALL_OPS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "INM", "IFMATCH"})


@dataclass
class Req:
    method: str
    path: str
    body: bytes = None
    headers: dict = field(default_factory=dict)


@dataclass
class Answer:
    status: int = None       # None: only status_class is known (h2load)
    headers: dict = None     # lower-case names; None: the client does not show them
    body: bytes = None       # None: the client does not show it; then body_len may be known
    status_class: int = None
    body_len: int = None
    error: str = None


def run_tool(cmd, timeout=TIMEOUT_S):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return None


def read_file(path):
    """The bytes of `path`, or b"" when the client wrote no file (an empty body)."""
    if not os.path.exists(path):
        return b""
    with open(path, "rb") as f:
        return f.read()


def last_header_block(text):
    """The last status line and fields of a dump of one or more header blocks (1xx, then final)."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    lines = blocks[-1].strip().split("\n") if blocks else [""]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.strip().partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0].strip(), headers


class Client:
    """One client. `ops`: the operations it can perform; `available()` whether it is installed."""
    name = ""
    tools = ()
    ops = ALL_OPS
    note = ""

    def available(self):
        return all(shutil.which(t) for t in self.tools)

    def can(self, op, size):
        """Whether this client can perform `op` with a value of `size` bytes."""
        return op in self.ops

    def __init__(self, base_url, tmp):
        self.base_url, self.tmp = base_url, tmp

    def body_file(self, body):
        path = os.path.join(self.tmp, "upload.bin")
        with open(path, "wb") as f:
            f.write(body)
        return path

    def run(self, requests):
        return [self.one(r) for r in requests]


class Curl(Client):
    tools = ("curl",)

    def __init__(self, base_url, tmp, name, flags, upload_with_T=False):
        super().__init__(base_url, tmp)
        self.name, self.flags, self.upload_with_T = name, flags, upload_with_T
        if upload_with_T:
            self.ops = frozenset({"PUT", "IFMATCH"})
            self.note = "-T uploads: PUT only"

    def one(self, r):
        out, hdr = os.path.join(self.tmp, "curl.body"), os.path.join(self.tmp, "curl.head")
        for p in (out, hdr):
            if os.path.exists(p):
                os.remove(p)
        cmd = ["curl", "-sS", "--path-as-is", "--max-time", str(TIMEOUT_S), "-o", out, "-D", hdr,
               "-w", "%{http_code}", *self.flags]
        if r.method == "HEAD":
            cmd.append("-I")
        elif self.upload_with_T:
            cmd += ["-T", self.body_file(r.body)]
        else:
            if r.method != "GET":
                cmd += ["-X", r.method]
            if r.body is not None:
                cmd += ["--data-binary", "@" + self.body_file(r.body)]
        for k, v in r.headers.items():
            cmd += ["-H", f"{k}: {v}"]
        p = run_tool(cmd + [self.base_url + r.path])
        if p is None or p.returncode != 0:
            return Answer(error=f"curl exit {p and p.returncode}: {p and p.stderr.decode(errors='replace')[:120]}")
        with open(hdr, encoding="latin-1") as f:
            _, headers = last_header_block(f.read())
        # curl -I writes the headers where the body would go: it shows no HEAD body
        return Answer(int(p.stdout), headers, None if r.method == "HEAD" else read_file(out))


class Wget(Client):
    name, tools, note = "wget", ("wget",), "HTTP/1.1 only (wget has no HTTP/2)"

    def one(self, r):
        out = os.path.join(self.tmp, "wget.body")
        if os.path.exists(out):
            os.remove(out)
        # No --content-on-error: with it wget 1.21 reads a 304 "body" until its timeout.
        cmd = ["wget", "-q", "-S", "-O", out, "--tries=1", f"--timeout={TIMEOUT_S}", "--max-redirect=0",
               f"--method={r.method}"]
        if r.body is not None:
            cmd.append("--body-file=" + self.body_file(r.body))
        for k, v in r.headers.items():
            cmd.append(f"--header={k}: {v}")
        p = run_tool(cmd + [self.base_url + r.path])
        if p is None:
            return Answer(error="wget timed out")
        status_line, headers = last_header_block(p.stderr.decode("latin-1"))
        if not status_line.startswith("HTTP/"):
            return Answer(error=f"wget exit {p.returncode}: {p.stderr.decode(errors='replace')[:120]}")
        return Answer(int(status_line.split()[1]), headers, read_file(out))


class Nghttp(Client):
    tools = ("nghttp",)

    def __init__(self, base_url, tmp, name, flags):
        super().__init__(base_url, tmp)
        self.name, self.flags = name, flags
        self.note = "no response headers shown"

    def one(self, r):
        cmd = ["nghttp", "-s", "-t", str(TIMEOUT_S), *self.flags]
        if r.method != "GET":
            cmd += ["-H", f":method: {r.method}"]
        if r.body is not None:
            cmd += ["-d", self.body_file(r.body)]
        for k, v in r.headers.items():
            cmd += ["-H", f"{k}: {v}"]
        p = run_tool(cmd + [self.base_url + r.path])
        marker = p.stdout.rfind(b"***** Statistics *****") if p else -1
        if p is None or p.returncode != 0 or marker < 0:
            return Answer(error=f"nghttp exit {p and p.returncode}: {p and p.stderr.decode(errors='replace')[:120]}")
        rows = [line.split() for line in p.stdout[marker:].decode().splitlines() if line.strip()[:1].isdigit()]
        return Answer(int(rows[-1][4]), None, p.stdout[:marker])


class H2load(Client):
    name, tools = "h2load", ("h2load",)
    ops = frozenset({"GET", "POST", "INM"})
    note = "GET, POST, conditional GET; status classes and byte counts only; no empty POST (-d cannot map an empty file)"

    def can(self, op, size):
        return op in self.ops and not (op == "POST" and size == 0)

    def one(self, r):
        cmd = ["h2load", "-n", "1", "-c", "1", "-T", str(TIMEOUT_S)]
        if r.body is not None:
            cmd += ["-d", self.body_file(r.body)]
        for k, v in r.headers.items():
            cmd += ["-H", f"{k}: {v}"]
        p = run_tool(cmd + [self.base_url + r.path])
        text = p.stdout.decode() if p else ""
        if "1 succeeded" not in text:
            return Answer(error="h2load: " + (text[-200:] or "timed out"))
        counts = text.split("status codes:")[1].split("\n")[0].split(",")
        klass = next(i + 2 for i, c in enumerate(counts) if c.strip().startswith("1 "))
        data = int(text.split(") data")[0].rsplit("(", 1)[1])
        return Answer(status_class=klass, body_len=data)


class PyHttpClient(Client):
    name = "python http.client"

    def run(self, requests):
        host, port = self.base_url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_S)
        answers = []
        for r in requests:
            try:
                conn.request(r.method, r.path, body=r.body, headers=r.headers)
                resp = conn.getresponse()
                body = resp.read()
                answers.append(Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body))
                if resp.will_close:
                    conn.close()
            except OSError as e:
                conn.close()
                answers.append(Answer(error=repr(e)))
        conn.close()
        return answers


class PyUrllib(Client):
    name = "python urllib"

    def one(self, r):
        req = urllib.request.Request(self.base_url + r.path, data=r.body, method=r.method, headers=r.headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        except urllib.error.HTTPError as e:
            return Answer(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
        except OSError as e:
            return Answer(error=repr(e))


class JsonBatch(Client):
    """A client in another runtime, fed a JSON list of requests and answering a JSON list."""
    command = ()

    def run(self, requests):
        path = os.path.join(self.tmp, "batch.json")
        with open(path, "w") as f:
            json.dump([{"method": r.method, "path": r.path, "headers": r.headers,
                        "body": None if r.body is None else base64.b64encode(r.body).decode()} for r in requests], f)
        port = self.base_url.rsplit(":", 1)[1]
        p = run_tool([*self.command, port, path], timeout=TIMEOUT_S * 10)
        if p is None or p.returncode != 0:
            err = f"{self.name} failed: {p and p.stderr.decode(errors='replace')[-300:]}"
            return [Answer(error=err) for _ in requests]
        return [Answer(error=a["error"]) if "error" in a else
                Answer(a["status"], {k.lower(): v for k, v in a["headers"].items()}, base64.b64decode(a["body"]))
                for a in json.loads(p.stdout)]


class Node(JsonBatch):
    tools = ("node",)

    def __init__(self, base_url, tmp, mode):
        super().__init__(base_url, tmp)
        self.name = "node " + mode
        self.command = ("node", os.path.join(HERE, "interop_node.js"), mode)


class Httpx(JsonBatch):
    """httpx with h2, h2c by prior knowledge, in Debian's Python (python3-httpx, python3-h2)."""
    name = "python httpx h2"
    command = ("/usr/bin/python3", os.path.join(HERE, "interop_httpx.py"))

    def available(self):
        return subprocess.run(["/usr/bin/python3", "-c", "import httpx, h2"], capture_output=True).returncode == 0


def all_clients(base_url, tmp):
    return [
        Curl(base_url, tmp, "curl HTTP/1.1", ["--http1.1"]),
        Curl(base_url, tmp, "curl --http2 (Upgrade)", ["--http2"]),
        Curl(base_url, tmp, "curl --http2-prior-knowledge", ["--http2-prior-knowledge"]),
        Curl(base_url, tmp, "curl -T", ["--http1.1"], upload_with_T=True),
        Wget(base_url, tmp),
        Nghttp(base_url, tmp, "nghttp (prior knowledge)", []),
        Nghttp(base_url, tmp, "nghttp -u (Upgrade)", ["-u"]),
        H2load(base_url, tmp),
        PyHttpClient(base_url, tmp),
        PyUrllib(base_url, tmp),
        Httpx(base_url, tmp),
        Node(base_url, tmp, "http"),
        Node(base_url, tmp, "http2"),
    ]
