#!/usr/bin/env python3
"""A 10,000-case sweep with injected failures, and the checks that no healthy result is lost.

    python3 scripts/reliability-sweep.py [WORKDIR] [--cases N] [--bin target/release/parktwin]

Writes into WORKDIR (default target/reliability): `park.ron` (six units with a recycle through
a tank, a week of hourly steps), `nonfinite.csv` (a driver column holding `inf`),
`sweep.ron` (a List sweep of N cases) and `healthy.ron` (the same sweep without the injected
cases). Every hundredth block of cases injects six kinds of failure at fixed positions:

    i % 100 == 7   units.ro.recovery = 1.5              (out of range)
    i % 100 == 23  units.nope.cycles = 4.0              (bad override path)
    i % 100 == 41  units.ct.cycles = "many"             (wrong type)
    i % 100 == 59  production from nonfinite.csv        (non-finite driver: inf at step 5)
    i % 100 == 73  production Hourly([1.0, NaN, ...])   (NaN in a driver list)
    i % 100 == 89  units.p.water_m3_per_unit = 1e300    (absurd magnitude)

Then it runs both sweeps, and checks: every injected case failed with the expected reason;
every healthy case is `ok` with finite metrics and a closing balance; and each healthy case's
metrics equal, bit for bit, those of the same case in the healthy-only sweep. It prints the
counts and timings; run it under `/usr/bin/time -v` for peak RSS.
"""
import csv
import math
import os
import subprocess
import sys
import time

args = sys.argv[1:]
work = "target/reliability"
n = 10_000
binary = "target/release/parktwin"
i = 0
while i < len(args):
    if args[i] == "--cases":
        n = int(args[i + 1]); i += 2
    elif args[i] == "--bin":
        binary = args[i + 1]; i += 2
    else:
        work = args[i]; i += 1
binary = os.path.abspath(binary)
os.makedirs(work, exist_ok=True)

PARK = """Park(
    name: "reliability park",
    time: (steps: 168),
    species: ["tds"],
    units: [
        Source(id: "city", kind: Municipal, quality_mg_per_l: {"tds": 400.0}, cap_m3_per_h: 500.0, price_yuan_per_m3: 4.0),
        Process(id: "p", production_per_h: Const(20.0), water_m3_per_unit: 5.0, consumptive_fraction: 0.1, adds_kg_per_m3: {"tds": 0.5}),
        CoolingTower(id: "ct", heat_load_mw: Const(30.0), range_c: 8.0, cycles: 4.0, holding_volume_m3: 600.0, initial_mg_per_l: {"tds": 1600.0}),
        Treatment(id: "ro", recovery: 0.75, removal_to_reject: {"tds": 0.95}, kwh_per_m3: 1.2),
        Tank(id: "reuse", capacity_m3: 400.0, initial_m3: 200.0, initial_mg_per_l: {"tds": 100.0}),
        Discharge(id: "out"),
    ],
    links: [
        (from: "city", to: "p", priority: 10, head_m: 30.0),
        (from: "city", to: "ct", priority: 10, head_m: 30.0),
        (from: "reuse.out", to: "ct", priority: 0),
        (from: "p.waste", to: "ro"),
        (from: "ct.blowdown", to: "out"),
        (from: "ro.product", to: "reuse"),
        (from: "ro.reject", to: "out"),
        (from: "reuse.overflow", to: "out"),
    ],
)
"""

INJECTED = {
    7: ('{"units.ro.recovery": 1.5}', 'units[3] "ro".recovery: 1.5 is out of range'),
    23: ('{"units.nope.cycles": 4.0}', 'no item "nope" at "units"'),
    41: ('{"units.ct.cycles": "many"}', 'invalid type: string "many", expected f64'),
    59: ('{"units.p.production_per_h": {"Csv": {"file": "nonfinite.csv", "column": "x", "scale": 1.0}}}',
         'units[1] "p".production_per_h: value inf at step 5 is not finite'),
    73: ('{"units.p.production_per_h": {"Hourly": [1.0, NaN, ' + ", ".join(["1.0"] * 166) + ']}}',
         '"units.p.production_per_h": the value holds NaN'),
    89: ('{"units.p.water_m3_per_unit": 1e300}', 'units[1] "p".water_m3_per_unit: 1e300 is out of range'),
}


def healthy(i):
    cycles = 3.0 + (i * 0.37) % 4.0
    recovery = 0.6 + (i * 0.013) % 0.25
    return '{"units.ct.cycles": %r, "units.ro.recovery": %r}' % (cycles, recovery)


with open(os.path.join(work, "park.ron"), "w") as f:
    f.write(PARK)
with open(os.path.join(work, "nonfinite.csv"), "w") as f:
    f.write("x\n" + "".join("inf\n" if k == 5 else "20.0\n" for k in range(168)))
cases = [INJECTED[i % 100][0] if i % 100 in INJECTED else healthy(i) for i in range(n)]
healthy_idx = [i for i in range(n) if i % 100 not in INJECTED]
for name, items in [("sweep", cases), ("healthy", [healthy(i) for i in healthy_idx])]:
    with open(os.path.join(work, name + ".ron"), "w") as f:
        f.write('Scenario(name: "%s", park: "park.ron", seed: 8, sweep: List([\n' % name)
        f.write(",\n".join(items))
        f.write("\n]))\n")


def sweep(name):
    out = os.path.join(work, "out_" + name)
    if os.path.exists(out):
        subprocess.run(["rm", "-rf", out], check=True)
    t0 = time.time()
    subprocess.run([binary, "sweep", os.path.join(work, name + ".ron"), "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    dt = time.time() - t0
    with open(os.path.join(out, "results.csv")) as f:
        return list(csv.DictReader(f)), dt


rows, t_all = sweep("sweep")
ref, t_healthy = sweep("healthy")
assert len(rows) == n, len(rows)
metrics = [k for k in rows[0] if k not in ("index", "id", "status", "error")
           and not k.startswith("units.")]
failed = [r for r in rows if r["status"] != "ok"]
bad = []
for r in rows:
    i = int(r["index"])
    if i % 100 in INJECTED:
        want = INJECTED[i % 100][1]
        if r["status"] != "failed" or want not in r["error"]:
            bad.append((i, "injected case not failed with its reason", r["error"][:200]))
    else:
        if r["status"] != "ok":
            bad.append((i, "healthy case lost", r["error"][:200]))
            continue
        vals = [float(r[m]) for m in metrics]
        if not all(math.isfinite(v) for v in vals):
            bad.append((i, "non-finite metric", ""))
        if float(r["max_relative_residual"]) > 1e-9:
            bad.append((i, "balance does not close", r["max_relative_residual"]))
for r, k in zip(ref, healthy_idx):
    mine = rows[k]
    if any(mine[m] != r[m] for m in metrics):
        bad.append((k, "differs from the healthy-only run", ""))
print(f"cases {n}: ok {n - len(failed)}, failed {len(failed)} "
      f"(injected {sum(1 for i in range(n) if i % 100 in INJECTED)}); "
      f"sweep {t_all:.1f} s, healthy-only sweep ({len(ref)} cases) {t_healthy:.1f} s")
kinds = {}
for r in failed:
    kinds[int(r["index"]) % 100] = kinds.get(int(r["index"]) % 100, 0) + 1
for k in sorted(kinds):
    print(f"  i % 100 == {k}: {kinds[k]} failed, e.g. {rows[k]['error'][:110]}")
if bad:
    for b in bad[:20]:
        print("PROBLEM", b)
    sys.exit(1)
print("no healthy result lost; every failure recorded with its reason")
