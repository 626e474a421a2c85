#!/usr/bin/env python3
"""Prints the tables of docs/RESULTS.md from the experiment logs (runs/<plan>/<run>/log.jsonl).

Usage: python3 scripts/results_tables.py [RUNS_DIR]. Step times for time-to-target come from
an idle-machine `spectra bench train --preset small --batch 8 --seq 256` run (STEP_MS below:
edit when you re-measure), because the runs themselves shared the machine."""
import json, os, statistics, sys

RUNS = sys.argv[1] if len(sys.argv) > 1 else "runs"
STEP_MS = {"adamw": 387.4, "spectra": 380.6, "muon": 536.5, "dion": 437.5}


def curve(plan, run):
    path = os.path.join(RUNS, plan, run, "log.jsonl")
    if not os.path.exists(path):
        return None
    pts = []
    with open(path) as f:
        for line in f:
            if line.startswith('{"step"'):
                d = json.loads(line)
                if "val_loss" in d:
                    pts.append((d["step"], d["val_loss"]))
    return pts


def peak(plan, run):
    path = os.path.join(RUNS, plan, run, "done.json")
    try:
        return json.load(open(path)).get("peak_rss_mb")
    except (OSError, ValueError):
        return None


def first_below(pts, target):
    for s, v in pts:
        if v <= target:
            return s
    return None


best = {"adamw": ("lr-sweep", "adamw-1e-3"), "spectra": ("lr-sweep", "spectra-5e-4"),
        "muon": ("lr-sweep", "muon-1e-2"), "dion": ("lr-sweep", "dion-5e-3")}
targets = {"AdamW, all parameters (lr-sweep adamw-1e-3)": curve("lr-sweep", "adamw-1e-3")[-1][1],
           "AdamW, two-group split (controls adamw-split)": (curve("controls", "adamw-split") or [(0, float("nan"))])[-1][1]}

print("## time to target (seed 1, best rate of each)\n")
print("| target | optimizer | final val | steps to target | s to target (idle step time) | vs AdamW's |")
print("|---|---|---:|---:|---:|---:|")
for tname, tval in targets.items():
    base = 500 * STEP_MS["adamw"] / 1000
    for opt, (plan, run) in best.items():
        pts = curve(plan, run)
        s = first_below(pts, tval)
        secs = s * STEP_MS[opt] / 1000 if s else None
        rel = f"{100 * (secs / base - 1):+.0f}%" if secs else "—"
        print(f"| {tname} = {tval:.4f} | {opt} | {pts[-1][1]:.4f} | {s or '—'} | {f'{secs:.0f}' if secs else '—'} | {rel} |")

print("\n## seeds\n")
print("| optimizer | rate | seed 1 | seed 2 | mean | spread (max-min) | peak RSS MB (seed 2) |")
print("|---|---|---:|---:|---:|---:|---:|")
for opt, (plan, run) in best.items():
    a = curve(plan, run)[-1][1]
    c = curve("seeds", f"{opt}-s2")
    b = c[-1][1] if c and c[-1][0] == 500 else None
    vals = [a] + ([b] if b is not None else [])
    print(f"| {opt} | {run.split('-', 1)[1]} | {a:.4f} | {f'{b:.4f}' if b is not None else '—'} | {statistics.mean(vals):.4f} | "
          f"{(max(vals) - min(vals)):.4f} | {peak('seeds', f'{opt}-s2') or '—'} |")

for plan, runs, label in (("ablation-rank", ["rank-1.5pct", "rank-5pct", "rank-10pct", "rank-15pct"], "rank ratio"),
                          ("ablation-power", ["power-1", "power-2", "power-4", "power-8"], "power iterations T")):
    print(f"\n## {plan}\n")
    print(f"| {label} | final val | val at step 250 | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for r in runs:
        pts = curve(plan, r)
        if not pts:
            print(f"| {r} | — | — | — |")
            continue
        mid = dict(pts).get(250)
        fin = f"{pts[-1][1]:.4f}" if pts[-1][0] == 500 else f"(step {pts[-1][0]}: {pts[-1][1]:.4f})"
        print(f"| {r} | {fin} | {f'{mid:.4f}' if mid else '—'} | {peak(plan, r) or '—'} |")
