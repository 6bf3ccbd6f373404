#!/usr/bin/env bash
# Regenerates the BENCHMARKS.md tables from criterion's output of the last `cargo bench` run
# (target/criterion/*/.../new/{benchmark,estimates}.json and target/criterion/memory.json).
# Usage: benches/report.sh [criterion-dir] > table.md     (needs python3)
set -euo pipefail
dir="${1:-${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/criterion}"
[ -d "$dir" ] || { echo "no criterion output in $dir: run 'cargo bench' first" >&2; exit 1; }
exec python3 - "$dir" <<'PY'
import json, os, sys
from collections import defaultdict

root = sys.argv[1]
rows = defaultdict(dict)      # (group, param) -> {function: (median_ns, throughput)}
for dirpath, _, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
        continue
    b = json.load(open(os.path.join(dirpath, "benchmark.json")))
    e = json.load(open(os.path.join(dirpath, "estimates.json")))
    rows[(b["group_id"], b.get("value_str") or "")][b["function_id"]] = (
        e["median"]["point_estimate"], b.get("throughput") or {})

def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"

def per_item(ns, tp):
    if "Elements" in tp and tp["Elements"] > 1:
        return f"{fmt_time(ns / tp['Elements'])}/item"
    if "Bytes" in tp:
        return f"{tp['Bytes'] / ns:.2f} GB/s"
    return ""

def key(k):
    group, param = k
    return (group, int(param) if param.isdigit() else 0, param)

print("| workload | backend | median time | per item | memfs vs this backend |")
print("|---|---|---:|---:|---:|")
for (group, param) in sorted(rows, key=key):
    funcs = rows[(group, param)]
    name = f"{group}/{param}" if param else group
    mine = sorted(f for f in funcs if f == "memfs" or f.startswith("memfs_"))
    peers = sorted(f for f in funcs if f not in mine)
    for f in mine + peers:
        ns, tp = funcs[f]
        ratio = ""
        if f in peers:
            suffix = f.split("_", 1)[1] if "_" in f else ""
            base = f"memfs_{suffix}" if f"memfs_{suffix}" in funcs else "memfs"
            if base in funcs:
                bns, btp = funcs[base]
                # Rows measured on different counts (e.g. a tenth of the files on a slow disk)
                # are compared per item.
                if tp.get("Elements") and btp.get("Elements") and tp != btp:
                    r = (ns / tp["Elements"]) / (bns / btp["Elements"])
                else:
                    r = ns / bns
                ratio = f"{r:.2f}× faster" if r >= 1 else f"{1 / r:.2f}× slower"
                if base != "memfs":
                    ratio += f" ({base})"
        print(f"| {name} | {f} | {fmt_time(ns)} | {per_item(ns, tp)} | {ratio} |")

mem = os.path.join(root, "memory.json")
if os.path.exists(mem):
    print()
    print("| memory | backend | bytes per 1 KiB file | bytes for 100 identical 1 MiB files | counted as |")
    print("|---|---|---:|---:|---|")
    for r in json.load(open(mem)):
        print(f"| 8_memory | {r['backend']} | {r['bytes_per_1KiB_file']:,} | "
              f"{r['bytes_for_100_identical_1MiB']:,} | {r['note']} |")
PY
