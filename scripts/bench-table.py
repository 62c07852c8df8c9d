#!/usr/bin/env python3
"""Prints the criterion table of BENCHMARKS.md (and the README's ratios) from criterion's results.

Run `cargo bench --bench verify` first (or with `-- receive` and
`-- verify/464B/floor` for the receive rows), or give `--runs K`: this then
runs the benchmarks K times itself, pinned to CPU 1 with `taskset` (the
verification and receive rows), and prints after the last
run's table the median and range of each ratio over the K runs.
This reads criterion's estimate of
each function (the slope, which criterion prints as `time:`, else the mean)
from target/criterion/<group>/<function>/new/estimates.json (under
$CARGO_TARGET_DIR when set) and states every
figure as a ratio against the anchors measured in the same run.
"""
import json
import os
import pathlib
import sys

TARGET = os.environ.get("CARGO_TARGET_DIR") or pathlib.Path(__file__).resolve().parent.parent / "target"
ROOT = pathlib.Path(TARGET) / "criterion"


def estimate_ns(group: str, function: str) -> float:
    path = ROOT / group.replace("/", "_") / function / "new" / "estimates.json"
    try:
        estimates = json.loads(path.read_text())
    except FileNotFoundError:
        sys.exit(f"missing {path}: run `cargo bench --bench verify` first")
    return (estimates.get("slope") or estimates["mean"])["point_estimate"]


def fmt(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


import statistics
import subprocess


def table() -> tuple[list[str], dict[str, float]]:
    rows = ["| input | ours | ours, clock read | `standardwebhooks` | floor | ours ÷ floor | `standardwebhooks` ÷ ours |",
            "|---|---|---|---|---|---|---|"]
    for size in ("464B", "16KiB"):
        group = f"verify/{size}"
        ours, clock = estimate_ns(group, "yoco_webhooks"), estimate_ns(group, "yoco_webhooks_clock")
        theirs, floor = estimate_ns(group, "standardwebhooks"), estimate_ns(group, "floor")
        rows.append(f"| verify, {size} | {fmt(ours)} | {fmt(clock)} | {fmt(theirs)} | {fmt(floor)} "
                    f"| **{ours / floor:.2f}×** | **{theirs / ours:.1f}×** |")
    floor = estimate_ns("verify/464B", "floor")
    plain = estimate_ns("receive/464B", "owned_parse")
    for function, label in (("yoco_webhooks", "receive a processed event, 464B"),
                            ("yoco_webhooks_ignored", "receive a foreign event, 464B")):
        ns = estimate_ns("receive/464B", function)
        rows.append(f"| {label} | {fmt(ns)} | | | {fmt(floor)} | **{ns / floor:.2f}×** | |")
    rows.append(f"| floor + plain owned `serde_json` parse, 464B | {fmt(plain)} | | | {fmt(floor)} "
                f"| **{plain / floor:.2f}×** | |")
    for function, label in (("borrowed_parse", "floor + borrowed `serde_json` parse (no allocation), 464B"),
                            ("syntax_check", "floor + `serde_json` syntax check only, 464B"),
                            ("simd_borrowed_parse", "floor + borrowed `simd-json` parse (SIMD), 464B"),
                            ("simd_syntax_check", "floor + `simd-json` syntax check only (SIMD), 464B")):
        ns = estimate_ns("receive/464B", function)
        rows.append(f"| {label} | {fmt(ns)} | | | {fmt(floor)} | **{ns / floor:.2f}×** | |")
    processed = estimate_ns("receive/464B", "yoco_webhooks")
    rows.append("")
    rows.append(f"Processed event ÷ (floor + plain owned parse): **{processed / plain:.2f}×**.")
    ratios = {
        "verify ÷ floor": estimate_ns("verify/464B", "yoco_webhooks") / floor,
        "processed ÷ floor": processed / floor,
        "foreign ÷ floor": estimate_ns("receive/464B", "yoco_webhooks_ignored") / floor,
        "floor + owned parse ÷ floor": plain / floor,
        "processed ÷ (floor + owned parse)": processed / plain,
        "floor + borrowed parse ÷ floor": estimate_ns("receive/464B", "borrowed_parse") / floor,
        "floor + syntax check ÷ floor": estimate_ns("receive/464B", "syntax_check") / floor,
        "floor + simd-json borrowed parse ÷ floor": estimate_ns("receive/464B", "simd_borrowed_parse") / floor,
        "floor + simd-json syntax check ÷ floor": estimate_ns("receive/464B", "simd_syntax_check") / floor,
    }
    return rows, ratios


if len(sys.argv) == 3 and sys.argv[1] == "--runs":
    runs = []
    for run in range(int(sys.argv[2])):
        subprocess.run(["taskset", "-c", "1", "cargo", "bench", "--bench", "verify", "--",
                        "receive/|verify/"],
                       check=True, stdout=subprocess.DEVNULL)
        rows, ratios = table()
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.2f}×" for k, v in ratios.items()), file=sys.stderr)
        runs.append(ratios)
    print("\n".join(rows))
    print()
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"- {key}: median {statistics.median(values):.2f}× ({min(values):.2f}× to {max(values):.2f}×) over {len(values)} runs")
else:
    print("\n".join(table()[0]))
