#!/usr/bin/env python3
"""Prints the README's performance table from criterion's results.

Run `cargo bench --bench verify` first; this reads the mean of each function
from target/criterion/<group>/<function>/new/estimates.json and states every
figure as a ratio against the anchors measured in the same run.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"


def mean_ns(group: str, function: str) -> float:
    path = ROOT / group.replace("/", "_") / function / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["mean"]["point_estimate"]
    except FileNotFoundError:
        sys.exit(f"missing {path}: run `cargo bench --bench verify` first")


def fmt(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


rows = ["| input | ours | ours, clock read | `standardwebhooks` | floor | ours ÷ floor | `standardwebhooks` ÷ ours |",
        "|---|---|---|---|---|---|---|"]
for size in ("464B", "16KiB"):
    group = f"verify/{size}"
    ours, clock = mean_ns(group, "yoco_webhooks"), mean_ns(group, "yoco_webhooks_clock")
    theirs, floor = mean_ns(group, "standardwebhooks"), mean_ns(group, "floor")
    rows.append(f"| verify, {size} | {fmt(ours)} | {fmt(clock)} | {fmt(theirs)} | {fmt(floor)} "
                f"| **{ours / floor:.2f}×** | **{theirs / ours:.1f}×** |")
receive, floor = mean_ns("receive/464B", "yoco_webhooks"), mean_ns("verify/464B", "floor")
rows.append(f"| verify + parse + filter, 464B | {fmt(receive)} | | | {fmt(floor)} | **{receive / floor:.2f}×** | |")
print("\n".join(rows))
