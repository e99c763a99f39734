#!/usr/bin/env python3
"""Summarize a bench/run results directory: summary.md, plots.

  summarize.py OUT_DIR
  summarize.py --median-rps CSV WORKLOAD SERVER PARAMS   (prints one integer)

Reads OUT_DIR/W*.csv (one row per run, see measure.py) and OUT_DIR/MEM.csv, takes
per (server, params) the median over the numbered rounds of req/s and CPU per
request; latency percentiles come from the "lat" run when there is one, otherwise
the median over the rounds. Writes OUT_DIR/summary.md and, with gnuplot, W7 and W6
plots (PNG).
"""
import csv
import os
import re
import statistics
import subprocess
import sys

PEER_NOTE = {
    "baseline": "do-nothing epoll responder (floor)",
    "nginx": "nginx `return 200`",
    "h2o": "h2o static file",
    "nghttpd": "nghttpd static file",
    "webdis": "webdis + Redis",
    "redis-native": "Redis native (redis-benchmark)",
    "hkv-sharded": "hkv --store sharded",
    "hkv": "hkv",
}

WL_TITLE = {
    "W1": "W1: GET /get/{key}, HTTP/1.1 keep-alive, no pipelining",
    "W2": "W2: GET, HTTP/1.1 pipelined 10 deep",
    "W3": "W3: GET over h2c",
    "W4": "W4: 80% GET / 20% POST, HTTP/1.1 (wrk)",
    "W5": "W5: 80/20 mix over h2c (48 GET + 12 POST connections, summed)",
    "W6": "W6: latency at fixed request rates",
    "W7": "W7: h1 vs h2c by connection count (hkv)",
    "W8": "W8: hkv --store lockfree vs sharded",
    "W9": "W9: large values, hkv vs nginx static files (sendfile)",
    "W10": "W10: key spread over h2c, hkv over 14,286 distinct keys vs one key",
}


def fnum(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def load(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


class Cell:
    def __init__(self, server, params):
        self.server, self.params = server, params
        self.rows, self.lat_rows = [], []

    def add(self, row):
        if row["round"] == "lat":
            self.lat_rows.append(row)
        elif row["round"].isdigit():
            self.rows.append(row)

    @property
    def rps(self):
        return median([fnum(r["rps"]) for r in self.rows])

    @property
    def cpu(self):
        return median([fnum(r["cpu_us_per_req"]) for r in self.rows])

    @property
    def spread(self):
        v = [fnum(r["rps"]) for r in self.rows if fnum(r["rps"])]
        if len(v) < 2:
            return None
        return 100.0 * (max(v) - min(v)) / statistics.median(v)

    def lat(self, key):
        src = self.lat_rows or self.rows
        return median([fnum(r[key]) for r in src])

    @property
    def errors(self):
        return sum(int(r["errors"] or 0) for r in self.rows + self.lat_rows)


def cells_of(rows):
    cells = {}
    for r in rows:
        k = (r["server"], r["params"])
        if k not in cells:
            cells[k] = Cell(*k)
        cells[k].add(r)
    return cells


def fmt(v, nd=0, unit=""):
    if v is None:
        return "–"
    if nd == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{nd}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def match_key(wl, params):
    """Parameters that make two cells comparable (W4: the pipelining depth)."""
    if wl == "W4":
        m = re.search(r"[dP](\d+)$", params)
        return "depth " + (m.group(1) if m else params)
    return params


def workload_table(wl, cells):
    lines = [f"### {WL_TITLE.get(wl, wl)}", ""]
    ref = "hkv"
    lines.append("| server | params | req/s (median) | spread | CPU µs/req | p50 µs | p99 µs | p99.9 µs "
                 "| hkv/peer req/s | hkv/peer CPU | errors |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    hkv_by_key = {match_key(wl, c.params): c for (s, p), c in cells.items() if s == ref}
    order = ["hkv", "hkv-sharded", "baseline", "nginx", "h2o", "nghttpd", "webdis", "redis-native"]

    def sort_key(item):
        (s, p), c = item
        return (match_key(wl, p), order.index(s) if s in order else 99, p)

    for (s, p), c in sorted(cells.items(), key=sort_key):
        h = hkv_by_key.get(match_key(wl, p))
        rr = cr = None
        if h is not None and s != ref:
            rr, cr = ratio(h.rps, c.rps), ratio(h.cpu, c.cpu)
        lines.append(
            f"| {PEER_NOTE.get(s, s)} | {p} | {fmt(c.rps)} | {fmt(c.spread, 0, '%')} | {fmt(c.cpu, 2)} "
            f"| {fmt(c.lat('p50_us'))} | {fmt(c.lat('p99_us'))} | {fmt(c.lat('p999_us'))} "
            f"| {fmt(rr, 2, '×')} | {fmt(cr, 2, '×')} | {c.errors or ''} |")
    lines.append("")
    return lines


def value_bytes(params):
    """The value size a W9 cell's params name ("256KiB h2c c16 m10" -> 262144)."""
    m = re.match(r"(\d+)KiB ", params)
    return int(m.group(1)) * 1024 if m else None


def w9_table(cells):
    """Throughput in GB/s (req/s x value size) and server CPU per MiB sent."""
    lines = [f"### {WL_TITLE['W9']}", "",
             "| server | params | GB/s (median) | spread | CPU µs/MiB | p99 µs | hkv/nginx GB/s | hkv/nginx CPU | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (s, p), c in sorted(cells.items(), key=lambda item: (value_bytes(item[0][1]) or 0, item[0][1], item[0][0])):
        size = value_bytes(p)
        gbs = c.rps * size / 1e9 if c.rps and size else None
        cpu = c.cpu * (1 << 20) / size if c.cpu is not None and size else None
        h = cells.get(("hkv", p))
        rr = cr = None
        if h is not None and s != "hkv":
            rr, cr = ratio(h.rps, c.rps), ratio(h.cpu, c.cpu)
        name = "nginx static file (sendfile)" if s == "nginx" else PEER_NOTE.get(s, s)
        lines.append(f"| {name} | {p} | {fmt(gbs, 2)} | {fmt(c.spread, 0, '%')} | {fmt(cpu, 0)} "
                     f"| {fmt(c.lat('p99_us'))} | {fmt(rr, 2, '×')} | {fmt(cr, 2, '×')} | {c.errors or ''} |")
    lines.append("")
    return lines


def get(all_cells, wl, server, params_pred):
    for (s, p), c in all_cells.get(wl, {}).items():
        if s == server and params_pred(p):
            return c
    return None


def targets(all_cells, mem):
    """Each target: (description, value, threshold, ok) with ok None when not measured."""
    out = []

    def add(desc, num, den, thr, lower_is_better=False):
        r = ratio(num, den)
        if r is None:
            out.append((desc, None, thr, None))
        else:
            ok = r <= thr if lower_is_better else r >= thr
            out.append((desc, r, thr, ok))

    w1h = get(all_cells, "W1", "hkv", lambda p: True)
    add("W1 req/s ≥ 0.97× baseline", w1h and w1h.rps, (get(all_cells, "W1", "baseline", lambda p: True) or Cell("", "")).rps, 0.97)
    add("W1 CPU/req ≤ 0.8× nginx", w1h and w1h.cpu, (get(all_cells, "W1", "nginx", lambda p: True) or Cell("", "")).cpu, 0.8, True)
    w2h = get(all_cells, "W2", "hkv", lambda p: True)
    add("W2 req/s ≥ 4× nginx", w2h and w2h.rps, (get(all_cells, "W2", "nginx", lambda p: True) or Cell("", "")).rps, 4.0)
    add("W2 req/s ≥ 0.6× baseline", w2h and w2h.rps, (get(all_cells, "W2", "baseline", lambda p: True) or Cell("", "")).rps, 0.6)
    for depth in ("c64 m10", "c16 m100"):
        pred = (lambda d: lambda p: p.endswith(d))(depth)
        h = get(all_cells, "W3", "hkv", pred)
        add(f"W3 {depth} req/s ≥ 1.0× h2o", h and h.rps, (get(all_cells, "W3", "h2o", pred) or Cell("", "")).rps, 1.0)
        add(f"W3 {depth} req/s ≥ 4× nginx", h and h.rps, (get(all_cells, "W3", "nginx", pred) or Cell("", "")).rps, 4.0)
    d1 = lambda p: p.endswith("d1") or p.endswith("P1")
    d10 = lambda p: p.endswith("d10") or p.endswith("P10")
    h = get(all_cells, "W4", "hkv", d1)
    add("W4 unpipelined req/s ≥ 2× webdis+Redis", h and h.rps, (get(all_cells, "W4", "webdis", d1) or Cell("", "")).rps, 2.0)
    h = get(all_cells, "W4", "hkv", d10)
    add("W4 pipelined (10) req/s ≥ 1.0× Redis native -P 10", h and h.rps,
        (get(all_cells, "W4", "redis-native", d10) or Cell("", "")).rps, 1.0)
    h5 = get(all_cells, "W5", "hkv", lambda p: True)
    h3 = get(all_cells, "W3", "hkv", lambda p: p.endswith("c64 m10"))
    add("W5 req/s ≥ 0.9× hkv's own W3 -c 64 -m 10", h5 and h5.rps, h3 and h3.rps, 0.9)
    for size in ("16KiB", "256KiB", "1024KiB"):
        pred = (lambda z: lambda p: p.startswith(z + " h2c"))(size)
        h = get(all_cells, "W9", "hkv", pred)
        add(f"W9 {size} over h2c GB/s ≥ 1.0× nginx", h and h.rps, (get(all_cells, "W9", "nginx", pred) or Cell("", "")).rps, 1.0)
    for depth in ("c64 m10", "c16 m100"):
        spread = get(all_cells, "W10", "hkv", (lambda d: lambda p: p == f"spread h2c {d}")(depth))
        one = get(all_cells, "W10", "hkv", (lambda d: lambda p: p == f"one key h2c {d}")(depth))
        add(f"W10 {depth} spread req/s ≥ 0.9× one key", spread and spread.rps, one and one.rps, 0.9)
    for vbytes, need in (("100", 0.75), ("10", 1.0), ("1024", 1.0), ("10240", 1.0)):
        mh = mem.get(("mem-hkv", vbytes))
        mm = mem.get(("mem-memcached", vbytes))
        items = f"{int(mh['items']):,}" if mh else "?"
        add(f"Memory: hkv RSS ({items} × {vbytes} B) ≤ {need:g}× memcached's", mh and fnum(mh["rss_kib"]),
            mm and fnum(mm["rss_kib"]), need, True)
    return out


def gnuplot(script, cwd):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        return True
    except (OSError, subprocess.SubprocessError) as e:
        sys.stderr.write(f"summarize.py: gnuplot failed: {e} {getattr(e, 'stderr', '')}\n")
        return False


def w7_section(out_dir, cells):
    pts = {}
    for (s, p), c in cells.items():
        m = re.match(r"(h1|h2c) c(\d+)", p)
        if s == "hkv" and m:
            pts.setdefault(int(m.group(2)), {})[m.group(1)] = c
    if not pts:
        return []
    lines = [f"### {WL_TITLE['W7']}", "",
             "| connections | h1 req/s | h1 p99 µs | h2c req/s | h2c p99 µs | h2c/h1 |",
             "|---:|---:|---:|---:|---:|---:|"]
    data = []
    crossover = None
    for c in sorted(pts):
        h1, h2 = pts[c].get("h1"), pts[c].get("h2c")
        r1, r2 = h1 and h1.rps, h2 and h2.rps
        rr = ratio(r2, r1)
        if crossover is None and rr is not None and rr > 1.0:
            crossover = c
        lines.append(f"| {c} | {fmt(r1)} | {fmt(h1 and h1.lat('p99_us'))} | {fmt(r2)} "
                     f"| {fmt(h2 and h2.lat('p99_us'))} | {fmt(rr, 2, '×')} |")
        data.append(f"{c} {r1 or 'NaN'} {r2 or 'NaN'} {(h1 and h1.lat('p99_us')) or 'NaN'} "
                    f"{(h2 and h2.lat('p99_us')) or 'NaN'}")
    h2label = next((p for (s, p) in cells if p.startswith("h2c")), "h2c")
    depth = re.search(r"m(\d+)", h2label)
    depth = depth.group(1) if depth else "?"
    stays = None
    for c in sorted(pts, reverse=True):
        h1, h2 = pts[c].get("h1"), pts[c].get("h2c")
        rr = ratio(h2 and h2.rps, h1 and h1.rps)
        if rr is None or rr < 1.0:
            break
        stays = c
    lines.append("")
    if crossover:
        lines.append(f"h2c (-m {depth}) first overtakes h1 at **{crossover} connections**"
                     + (f", and stays ahead from **{stays}** connections on." if stays
                        else ", but does not stay ahead up to the largest count measured."))
    else:
        lines.append(f"h2c (-m {depth}) never overtakes h1 in this range.")
    lines.append("")
    with open(os.path.join(out_dir, "W7.dat"), "w") as f:
        f.write("# conns h1_rps h2c_rps h1_p99_us h2c_p99_us\n" + "\n".join(data) + "\n")
    ok = gnuplot(f"""
set terminal pngcairo size 900,520 font "sans,10"
set output "W7-throughput.png"
set title "hkv: throughput by connection count (h1 unpipelined vs h2c -m {depth})"
set logscale x 2
set xlabel "connections"; set ylabel "req/s"
set y2label "p99 latency (µs)"; set y2tics; set ytics nomirror; set logscale y2
set key top left; set grid
plot "W7.dat" u 1:2 w lp lw 2 pt 7 t "h1 req/s", "W7.dat" u 1:3 w lp lw 2 pt 5 t "h2c req/s", \\
     "W7.dat" u 1:4 axes x1y2 w lp dt 2 pt 6 t "h1 p99", "W7.dat" u 1:5 axes x1y2 w lp dt 2 pt 4 t "h2c p99"
""", out_dir)
    if ok:
        lines += ["![W7 throughput](W7-throughput.png)", ""]
    return lines


def w6_plot(out_dir, cells):
    rows = []
    for (s, p), c in cells.items():
        m = re.search(r"(\d+)% \((\d+)/s\)", p)
        if m:
            rows.append((s, int(m.group(1)), int(m.group(2)), c.lat("p50_us"), c.lat("p99_us"), c.lat("p999_us")))
    if not rows:
        return []
    servers = sorted({r[0] for r in rows}, key=lambda s: (s != "hkv", s))
    plots = []
    for s in servers:
        with open(os.path.join(out_dir, f"W6-{s}.dat"), "w") as f:
            f.write("# load_pct rate p50_us p99_us p999_us\n")
            for r in sorted(x for x in rows if x[0] == s):
                f.write(" ".join(str(v if v is not None else "NaN") for v in r[1:]) + "\n")
        for col, name, dt in ((3, "p50", 1), (4, "p99", 2), (5, "p99.9", 3)):
            plots.append(f'"W6-{s}.dat" u 1:{col} w lp lw 2 dt {dt} t "{s} {name}"')
    ok = gnuplot(f"""
set terminal pngcairo size 900,520 font "sans,10"
set output "W6-latency.png"
set title "Latency at fixed request rates (% of hkv's W1 peak), h1, 64 connections"
set xlabel "offered load (% of hkv W1 peak)"; set ylabel "latency (µs)"
set logscale y; set grid; set key top left
set xtics 25,25,75; set xrange [20:80]
plot {", ".join(plots)}
""", out_dir)
    return ["![W6 latency](W6-latency.png)", ""] if ok else []


def read_env(out_dir):
    env = {}
    try:
        with open(os.path.join(out_dir, "run.env")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    env[k] = v
    except OSError:
        pass
    return env


def summarize(out_dir):
    all_cells = {}
    for wl in ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10"):
        rows = load(os.path.join(out_dir, f"{wl}.csv"))
        if rows:
            all_cells[wl] = cells_of(rows)
    mem = {(r["server"], r.get("value_bytes", "100")): r for r in load(os.path.join(out_dir, "MEM.csv"))}
    env = read_env(out_dir)

    L = ["# hkv benchmark summary", ""]
    if env:
        L.append(f"Run {env.get('date', '?')}, {env.get('elapsed_s', '?')} s; {env.get('flags', '')}.  ")
        L.append(f"Servers: {env.get('workers', '?')} worker(s) each; load generators: "
                 f"{env.get('client_threads', '?')} thread(s). Load average at start {env.get('load_start', '?')}, "
                 f"at end {env.get('load_end', '?')} (anything well above 0 means other work shared the machine).  ")
        exits = os.path.join(out_dir, "peer-exits.txt")
        if os.path.exists(exits):
            with open(exits) as f:
                for line in f:
                    L.append(f"**Server crash/exit:** {line.strip().lstrip('! ')}  ")
        if env.get("not_running"):
            L.append(f"**Not running (could not start): {env['not_running']}** — see raw/<name>.log.  ")
        L.append("")
    L += ["Medians over the interleaved rounds. *spread* = (max − min) / median of req/s over the rounds. "
          "CPU = server utime+stime per request. Latency: from a separate run with per-request logging "
          "(h2load `--log-file`) where the row has one, otherwise the median over the rounds "
          "(wrk: per request, or per pipelined batch, with wrk's coordinated-omission correction; "
          "redis-benchmark: the worse of SET and GET, no p99.9). See machine.md for versions.", ""]

    tg = targets(all_cells, mem)
    L += ["## Targets", "", "| target | hkv/peer | needed | met |", "|---|---:|---:|:---:|"]
    for desc, r, thr, ok in tg:
        L.append(f"| {desc} | {fmt(r, 2, '×')} | {'≤' if '≤' in desc else '≥'} {thr:g}× "
                 f"| {'–' if ok is None else ('✅' if ok else '❌')} |")
    met = sum(1 for t in tg if t[3])
    measured = sum(1 for t in tg if t[3] is not None)
    L += ["", f"{met} of {measured} measured targets met ({len(tg) - measured} not measured in this run).", ""]

    L += ["## Workloads", ""]
    for wl in ("W1", "W2", "W3", "W4", "W5", "W6", "W8", "W10"):
        if wl in all_cells:
            L += workload_table(wl, all_cells[wl])
            if wl == "W6":
                L += w6_plot(out_dir, all_cells[wl])
            if wl == "W8":
                L.append("In W8 the ratio column is lockfree/sharded.")
                L.append("")
    if "W9" in all_cells:
        L += w9_table(all_cells["W9"])
    if "W7" in all_cells:
        L += w7_section(out_dir, all_cells["W7"])

    if mem:
        L += ["### Memory: RSS after loading N keys (9 bytes each) of one value size", "",
              "| value bytes | server | items | RSS empty MiB | RSS loaded MiB | bytes/item | above raw (key+value) "
              "| loaded − empty, above raw | RSS ÷ memcached's |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for (name, vbytes), r in mem.items():
            mc = mem.get(("mem-memcached", vbytes))
            ratio = fnum(r["rss_kib"]) / fnum(mc["rss_kib"]) if mc and fnum(mc["rss_kib"]) else None
            L.append(f"| {vbytes} | {name.replace('mem-', '')} | {int(r['items']):,} | {fnum(r['rss_empty_kib']) / 1024:.1f} "
                     f"| {fnum(r['rss_kib']) / 1024:.1f} | {fnum(r['bytes_per_item']):.0f} "
                     f"| {fnum(r['overhead_per_item']):.0f} | {fnum(r['delta_overhead_per_item']):.0f} | {fmt(ratio, 2, '×')} |")
        L.append("")

    if os.path.exists(os.path.join(out_dir, "flamegraph-hkv-W4.svg")):
        L += ["## Flame graph", "",
              "[flamegraph-hkv-W4.svg](flamegraph-hkv-W4.svg): hkv's CPU under W4 (unpipelined), "
              "`perf record -e cpu-clock --call-graph dwarf`; open it in a browser (click to zoom). "
              "Folded stacks: flamegraph-hkv-W4.folded.", ""]

    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write("\n".join(L))
    print("\n".join(L[:12 + len(tg)]))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--median-rps":
        _, _, path, wl, server, params = sys.argv
        cells = cells_of(r for r in load(path) if r["workload"] == wl)
        c = cells.get((server, params))
        v = c.rps if c else None
        print(int(v) if v else 0)
        return 0
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    summarize(sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
