#!/usr/bin/env python3
"""Compare two parktwin outputs (JSON or CSV; used by scripts/compare-outputs.sh) with a tolerance: numbers agree when
|a-b| <= REL*max(|a|,|b|) + ABS; closure statistics (keys with residual/relative/absolute)
only need both sides <= 1e-9 (they are rounding noise). Strings must match exactly.
Prints the count of disagreements and the largest relative difference seen (closure
statistics left out of that figure)."""
import csv, json, sys, math
REL, ABS = 1e-9, 1e-9
stats = {"n": 0, "bad": 0, "maxrel": 0.0, "where": ""}
def num(a, b, path):
    stats["n"] += 1
    if isinstance(a, float) and math.isnan(a) and isinstance(b, float) and math.isnan(b): return
    d = abs(a - b); s = max(abs(a), abs(b))
    rel = d / s if s > 0 else 0.0
    low = path.lower()
    # Closure statistics are rounding noise: small on both sides is enough.
    noise = any(k in low for k in ("residual", "relative", "/absolute", "closure"))
    if noise:
        if abs(a) <= 1e-9 and abs(b) <= 1e-9: return
        if low.startswith(("/balance", "/kpi/balance")) and "relative" not in low and abs(a) <= 1e-6 and abs(b) <= 1e-6: return
    if rel > stats["maxrel"] and s > ABS and not noise: stats["maxrel"], stats["where"] = rel, path
    if d > REL * s + ABS:
        stats["bad"] += 1
        if stats["bad"] <= 8: print("  DIFF", path, a, b, f"rel={rel:.3g}")
def walk(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict) and path.startswith("/balance") and ("item" in a or "step" in a):
        # where the worst closure residual sits is noise when the residuals are rounding
        a = {k: v for k, v in a.items() if k not in ("item", "step", "unit")}
        b = {k: v for k, v in b.items() if k not in ("item", "step", "unit")}
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) | set(b):
            if k in ("timing", "run_time_s", "elapsed_s", "timings", "wall_s"): continue
            if k not in a or k not in b: print("  MISSING", path + "/" + k); stats["bad"] += 1; continue
            walk(a[k], b[k], path + "/" + k)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): print("  LEN", path); stats["bad"] += 1; return
        for i, (x, y) in enumerate(zip(a, b)): walk(x, y, f"{path}[{i}]")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        num(float(a), float(b), path)
    elif a != b:
        stats["bad"] += 1
        if stats["bad"] <= 8: print("  DIFF", path, a, b)
def fl(x):
    try: return float(x)
    except ValueError: return None
def csvcmp(fa, fb):
    ra = list(csv.reader(open(fa))); rb = list(csv.reader(open(fb)))
    if len(ra) != len(rb): print("  ROWS", len(ra), len(rb)); stats["bad"] += 1; return
    head = ra[0] if ra else []
    for i, (x, y) in enumerate(zip(ra, rb)):
        if len(x) != len(y): print("  COLS row", i); stats["bad"] += 1; continue
        for j, (p, q) in enumerate(zip(x, y)):
            col = head[j] if j < len(head) else str(j)
            if col in ("elapsed_s", "run_time_s", "wall_s"): continue
            fp, fq = fl(p), fl(q)
            if fp is not None and fq is not None: num(fp, fq, f"{fa.split('/')[-1]}[{i}].{col}")
            elif p != q:
                stats["bad"] += 1
                if stats["bad"] <= 8: print("  DIFF", fa, i, col, p, q)
a, b = sys.argv[1], sys.argv[2]
if a.endswith(".csv"): csvcmp(a, b)
else: walk(json.load(open(a)), json.load(open(b)))
print(f"{b}: values {stats['n']}, beyond tolerance {stats['bad']}, largest relative difference {stats['maxrel']:.3g} at {stats['where']}")
