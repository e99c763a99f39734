#!/usr/bin/env python3
"""Collapse `perf script` output and render a self-contained flame graph SVG.

  perf script -i perf.data | flamegraph.py --title "hkv under W4" > flame.svg
  flamegraph.py --collapsed-out stacks.txt ...   also write the folded stacks

Each sample's stack becomes one line "root;...;leaf" (root = the command name),
weighted by sample count. The SVG has one box per frame, width proportional to
its samples; hover shows the name, samples and share. Clicking a box zooms into
it (a few lines of inline JavaScript); clicking the background resets the zoom.
"""
import argparse
import html
import re
import sys
import zlib
from collections import defaultdict

FRAME_RE = re.compile(r"^\s*[0-9a-fA-F]+\s+(.*?)\s+\((.*)\)\s*$")


def collapse(lines):
    stacks = defaultdict(int)
    comm, frames = None, []

    def flush():
        if comm is not None:
            stack = [comm] + list(reversed(frames))
            stacks[";".join(stack)] += 1

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            comm, frames = None, []
            continue
        if not line[0].isspace():
            flush()
            comm, frames = line.split()[0], []
            continue
        m = FRAME_RE.match(line)
        if not m:
            continue
        sym, dso = m.group(1), m.group(2)
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        if sym == "[unknown]" and dso != "[unknown]":
            sym = "[" + dso.rsplit("/", 1)[-1] + "]"
        frames.append(sym.replace(";", ":"))
    flush()
    return stacks


def build_tree(stacks):
    root = {"name": "all", "value": 0, "children": {}}
    for stack, n in stacks.items():
        root["value"] += n
        node = root
        for f in stack.split(";"):
            node = node["children"].setdefault(f, {"name": f, "value": 0, "children": {}})
            node["value"] += n
    return root


def color(name):
    h = zlib.crc32(name.encode()) & 0xFFFF
    if name.startswith(("entry_", "do_syscall", "__x64_sys", "tcp_", "ip_", "sock_", "__sys_")) \
            or "[kernel" in name or name.islower() and "_" in name and "::" not in name:
        r, g, b = 230, 120 + h % 70, 40 + (h >> 8) % 40          # kernel-ish: orange
    elif "::" in name:
        r, g, b = 220 + h % 35, 60 + (h >> 4) % 90, 50 + (h >> 9) % 40  # C++: red-ish
    else:
        r, g, b = 200 + h % 55, 170 + (h >> 5) % 60, 50 + (h >> 9) % 50  # C/libs: yellow
    return f"rgb({r},{g},{b})"


def render(root, title, width=1400, row=17):
    boxes = []
    total = root["value"] or 1

    def walk(node, x, depth):
        boxes.append((x, depth, node["value"], node["name"]))
        cx = x
        for child in sorted(node["children"].values(), key=lambda c: c["name"]):
            walk(child, cx, depth + 1)
            cx += child["value"]

    walk(root, 0, 0)
    maxdepth = max(b[1] for b in boxes) + 1
    height = (maxdepth + 3) * row
    out = [f'<?xml version="1.0" standalone="no"?>\n<svg version="1.1" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" onclick="bg(evt)">',
           "<style>text{font:11px monospace;pointer-events:none} rect{stroke:#fff;stroke-width:0.5}</style>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f4" stroke="none"/>',
           f'<text x="{width / 2}" y="{row}" text-anchor="middle" style="font-size:14px">{html.escape(title)}'
           f" ({total} samples)</text>"]
    for i, (x, depth, value, name) in enumerate(boxes):
        y = height - (depth + 1) * row
        label = f"{name} ({value} samples, {100.0 * value / total:.2f}%)"
        px, pw = x / total * width, value / total * width
        if pw < 0.3:
            continue  # too thin to see; still counted in its parents
        n = int((pw - 6) / 6.6)
        short = "" if n < 3 else (name if len(name) <= n else name[:n - 2] + "..")
        out.append(f'<g class="f" data-x="{x}" data-w="{value}" data-d="{depth}" onclick="zoom(evt,this)">'
                   f"<title>{html.escape(label)}</title>"
                   f'<rect x="{px:.2f}" y="{y}" width="{pw:.2f}" height="{row - 1}" fill="{color(name)}"/>'
                   f'<text x="{px + 3:.2f}" y="{y + row - 5}" data-n="{html.escape(name)}">'
                   f"{html.escape(short)}</text></g>")
    out.append(f"""<script><![CDATA[
var W={width}, T={total};
function layout(x0, w0, d0) {{
  var gs = document.querySelectorAll("g.f");
  for (var i = 0; i < gs.length; i++) {{
    var g = gs[i], x = +g.dataset.x, w = +g.dataset.w, d = +g.dataset.d;
    var r = g.querySelector("rect"), t = g.querySelector("text");
    var inside = x >= x0 && x + w <= x0 + w0 + 1e-9;
    var px = (x - x0) / w0 * W, pw = w / w0 * W;
    if (!inside && d >= d0) {{ g.style.display = "none"; continue; }}
    if (d < d0) {{ px = 0; pw = W; g.style.opacity = 0.5; }} else g.style.opacity = 1;
    g.style.display = "";
    r.setAttribute("x", px); r.setAttribute("width", Math.max(pw, 0));
    t.setAttribute("x", px + 3);
    var name = t.getAttribute("data-n");
    var n = Math.floor((pw - 6) / 6.6);
    t.textContent = n < 3 ? "" : (name.length > n ? name.slice(0, n - 2) + ".." : name);
  }}
}}
function zoom(e, g) {{ e.stopPropagation(); layout(+g.dataset.x, +g.dataset.w, +g.dataset.d); }}
function bg(e) {{ layout(0, T, 0); }}
]]></script>
</svg>""")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input", nargs="?", help="perf script output (default: stdin)")
    ap.add_argument("--title", default="CPU flame graph")
    ap.add_argument("--collapsed-out")
    a = ap.parse_args()
    f = open(a.input, errors="replace") if a.input else sys.stdin
    stacks = collapse(f)
    if not stacks:
        sys.exit("flamegraph.py: no samples in the input")
    if a.collapsed_out:
        with open(a.collapsed_out, "w") as o:
            for s, n in sorted(stacks.items()):
                o.write(f"{s} {n}\n")
    sys.stdout.write(render(build_tree(stacks), a.title))


if __name__ == "__main__":
    main()
