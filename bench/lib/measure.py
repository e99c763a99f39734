#!/usr/bin/env python3
"""One measured run of the hkv benchmark harness.

Runs one or more load-generator commands at the same time (they are summed,
as for W5), reads the server's CPU time before and after, parses the client's
output and appends one CSV row:

  workload,server,params,round,rps,cpu_us_per_req,p50_us,p99_us,p999_us,
  requests,errors,duration_s,client

usage:
  measure.py --csv F --workload W1 --server hkv --params c64 --round 1 \
      --sid 1234 [--sid 5678] --raw-dir D [--latlog PATH]... \
      -- CMD ARGS... [--- CMD2 ARGS...]

CPU: utime+stime of every thread of every process whose session id is one of
--sid, summed over /proc/<pid>/task/*/stat, in clock ticks (getconf CLK_TCK),
divided by the requests the client(s) completed.
Latency percentiles come from, in this order: h2load --log-file files given
with --latlog, a "LAT p50 p99 p999" line printed by our wrk Lua done(), or
redis-benchmark's --csv output (p50 and p99 only).
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import time

CLK_TCK = os.sysconf(os.sysconf_names["SC_CLK_TCK"])
FIELDS = ["workload", "server", "params", "round", "rps", "cpu_us_per_req",
          "p50_us", "p99_us", "p999_us", "requests", "errors", "duration_s", "client"]


def session_pids(sids):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # rest[0] is field 3 (state); session id is field 6
        if int(rest[3]) in sids:
            pids.append(int(name))
    return pids


def cpu_ticks(sids):
    """utime+stime of all threads of all processes in the given sessions."""
    total = 0
    for pid in session_pids(sids):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(rest[11]) + int(rest[12])  # fields 14 and 15
    return total


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def parse_h2load(out):
    r = {}
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    if m:
        d = float(m.group(1))
        r["duration"] = d / 1000.0 if m.group(2) == "ms" else d
        r["rps"] = float(m.group(3))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    if m:
        r["requests"] = int(m.group(3))
        r["errors"] = int(m.group(5)) + int(m.group(6)) + int(m.group(7))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if m:
        r["errors"] = r.get("errors", 0) + int(m.group(3)) + int(m.group(4))
    return r


def parse_wrk(out):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if m:
        r["requests"] = int(m.group(1))
        d = float(m.group(2))
        r["duration"] = d / 1000.0 if m.group(3) == "ms" else d
    err = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        err += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        err += sum(int(x) for x in m.groups())
    r["errors"] = err
    m = re.search(r"^LAT ([\d.]+) ([\d.]+) ([\d.]+)", out, re.M)
    if m:
        r["p50"], r["p99"], r["p999"] = (float(x) for x in m.groups())
    return r


def parse_redis_benchmark(out, mix_get=0.8):
    """redis-benchmark --csv: one line per test. The combined rate is the 80/20
    GET/SET mix rate 1 / (0.8/get + 0.2/set); p50/p99 are the worse of the two."""
    rows = {}
    for row in csv.reader(out.splitlines()):
        if len(row) >= 7 and row[0] in ("GET", "SET"):
            rows[row[0]] = row
    r = {}
    if "GET" in rows and "SET" in rows:
        g, s = float(rows["GET"][1]), float(rows["SET"][1])
        r["rps"] = 1.0 / (mix_get / g + (1 - mix_get) / s)
        r["p50"] = 1000.0 * max(float(rows["GET"][4]), float(rows["SET"][4]))
        r["p99"] = 1000.0 * max(float(rows["GET"][6]), float(rows["SET"][6]))
    r["errors"] = 0
    return r


def tool_of(cmd):
    for a in cmd[:4]:
        base = os.path.basename(a)
        if base in ("h2load", "wrk", "redis-benchmark"):
            return base
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--params", required=True)
    ap.add_argument("--round", required=True)
    ap.add_argument("--sid", type=int, action="append", default=[])
    ap.add_argument("--raw-dir", required=True)
    ap.add_argument("--latlog", action="append", default=[])
    ap.add_argument("--requests", type=int, default=0,
                    help="requests done, when the client does not say (redis-benchmark)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    cmds, cur = [], []
    for tok in cmd:
        if tok == "---":
            cmds.append(cur)
            cur = []
        else:
            cur.append(tok)
    if cur:
        cmds.append(cur)
    if not cmds:
        sys.exit("measure.py: no command")

    for p in a.latlog:
        try:
            os.unlink(p)
        except OSError:
            pass
    os.makedirs(a.raw_dir, exist_ok=True)
    tag = f"{a.workload}_{a.server}_{a.params}_{a.round}".replace("/", "_").replace(" ", "_")

    sids = set(a.sid)
    c0 = cpu_ticks(sids)
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for c in cmds]
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=max(1.0, a.timeout - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            out += "\n[measure.py: killed after timeout]\n"
        outs.append(out)
    wall = time.monotonic() - t0
    c1 = cpu_ticks(sids)

    with open(os.path.join(a.raw_dir, tag + ".txt"), "w") as f:
        for c, o in zip(cmds, outs):
            f.write("$ " + " ".join(c) + "\n" + o + "\n")

    rps = 0.0
    requests = 0
    errors = 0
    duration = 0.0
    lat = {}
    tools = []
    for c, o in zip(cmds, outs):
        t = tool_of(c)
        tools.append(t)
        if t == "h2load":
            r = parse_h2load(o)
        elif t == "wrk":
            r = parse_wrk(o)
        elif t == "redis-benchmark":
            r = parse_redis_benchmark(o)
        else:
            r = {}
        if "rps" not in r:
            sys.stderr.write(f"measure.py: could not parse the output of: {' '.join(c)}\n"
                             + o[-2000:] + "\n")
            errors += 1
            continue
        rps += r["rps"]
        requests += r.get("requests", 0)
        errors += r.get("errors", 0)
        duration = max(duration, r.get("duration", 0.0))
        for k in ("p50", "p99", "p999"):
            if k in r:
                lat[k] = max(lat.get(k, 0.0), r[k])
    if a.requests:
        requests = a.requests
    if duration == 0.0:
        duration = wall

    if a.latlog:
        vals = []
        for p in a.latlog:
            try:
                with open(p) as f:
                    for line in f:
                        parts = line.split("\t")
                        if len(parts) >= 3:
                            vals.append(int(parts[2]))
            except OSError:
                pass
            try:
                os.unlink(p)
            except OSError:
                pass
        vals.sort()
        if vals:
            lat = {"p50": percentile(vals, 50), "p99": percentile(vals, 99),
                   "p999": percentile(vals, 99.9)}

    cpu_us = (c1 - c0) * 1e6 / CLK_TCK / requests if requests else None

    def fmt(v, nd=1):
        return "" if v is None else f"{v:.{nd}f}"

    row = {
        "workload": a.workload, "server": a.server, "params": a.params, "round": a.round,
        "rps": fmt(rps if rps else None, 0), "cpu_us_per_req": fmt(cpu_us, 3),
        "p50_us": fmt(lat.get("p50")), "p99_us": fmt(lat.get("p99")), "p999_us": fmt(lat.get("p999")),
        "requests": requests, "errors": errors, "duration_s": fmt(duration, 2),
        "client": "+".join(tools),
    }
    new = not os.path.exists(a.csv) or os.path.getsize(a.csv) == 0
    with open(a.csv, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
    print(f"  {a.workload:3} {a.server:14} {a.params:22} r={a.round:3} "
          f"{rps:10.0f} req/s  cpu {row['cpu_us_per_req'] or '-':>7} us/req  "
          f"p50 {row['p50_us'] or '-':>8} p99 {row['p99_us'] or '-':>8} p99.9 {row['p999_us'] or '-':>8} us"
          + (f"  ERRORS {errors}" if errors else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
