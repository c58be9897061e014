"""Scaling of the simulation's cost: subnets, UIDs, agents, horizon (the tables of docs/performance.md).

Each point runs in its own process (so its peak RSS is its own) and prints one JSON line:

* ``subnets``: chain only (``run_blocks``), 8..256 subnets x 256 UIDs x 64 validators, ``--blocks``
  blocks after 400 warm-up blocks: microseconds per block, per epoch, year seconds (chain only), RSS;
* ``uids``: chain only, 128 subnets x 16..256 UIDs (validators = min(64, UIDs/4));
* ``agents``: the ``year`` benchmark (128 x 256 x 64) with 1k..100k agents, a ``--days`` slice;
* ``horizon``: the ``year`` benchmark at 10k agents for several slice lengths (is cost linear in days?).

    python benchmarks/scaling.py [--only subnets,uids,agents,horizon] [--blocks 3610] [--days 0.5] [--record]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHAIN = """
import json, resource, sys, time
from dtao.bench.chain import bench_network
from dtao.chain.coinbase import run_blocks
s, u, v, n = (int(x) for x in sys.argv[1:5])
t = time.perf_counter(); st = bench_network(s, u, v); build = time.perf_counter() - t
run_blocks(st, 400)
t = time.perf_counter(); c = time.thread_time(); e = run_blocks(st, n)
wall, cpu = time.perf_counter() - t, time.thread_time() - c
print(json.dumps({"subnets": s, "uids": u, "validators": v, "blocks": n, "epochs": e,
                  "us_per_block": round(wall / n * 1e6, 2), "us_per_epoch": round(wall / max(e, 1) * 1e6, 1),
                  "cpu_us_per_block": round(cpu / n * 1e6, 2),
                  "year_seconds_chain_only": round(wall / n * 365 * 7200, 1), "build_seconds": round(build, 1),
                  "hotkeys": int(st.n_hotkeys),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""

YEAR = """
import json, sys
from dtao.bench.year import bench_year
days, agents = float(sys.argv[1]), int(sys.argv[2])
r = bench_year(days=days, agents=agents)
print(json.dumps({k: r[k] for k in ("agents", "days_run", "seconds", "year_seconds", "blocks_per_second", "epochs",
                                    "agent_orders", "setup_seconds", "peak_rss_mb", "time_split")}))
"""


def point(code: str, *args: object) -> dict:
    p = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    if p.returncode != 0:
        return {"args": list(map(str, args)), "error": p.stderr.strip()[-800:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="subnets,uids,agents,horizon")
    ap.add_argument("--blocks", type=int, default=3610)
    ap.add_argument("--days", type=float, default=0.5)
    ap.add_argument("--record", action="store_true")
    a = ap.parse_args()
    parts = a.only.split(",")
    rows = []
    if "subnets" in parts:
        for s in (8, 16, 32, 64, 128, 256):
            rows.append({"table": "subnets", **point(CHAIN, s, 256, 64, a.blocks)})
            print(json.dumps(rows[-1]), flush=True)
    if "uids" in parts:
        for u in (16, 32, 64, 128, 256):
            rows.append({"table": "uids", **point(CHAIN, 128, u, min(64, u // 4), a.blocks)})
            print(json.dumps(rows[-1]), flush=True)
    if "agents" in parts:
        for n in (1_000, 3_000, 10_000, 30_000, 100_000):
            rows.append({"table": "agents", **point(YEAR, a.days, n)})
            print(json.dumps(rows[-1]), flush=True)
    if "horizon" in parts:
        for d in (0.25, 0.5, 1.0, 2.0):
            rows.append({"table": "horizon", **point(YEAR, d, 10_000)})
            print(json.dumps(rows[-1]), flush=True)
    if a.record:
        import platform
        import time

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()
        with (ROOT / "benchmarks" / "results.jsonl").open("a") as fh:
            for r in rows:
                fh.write(json.dumps({"benchmark": "scaling", **r, "machine": platform.machine(),
                                     "cpus": os.cpu_count(), "commit": commit,
                                     "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")


if __name__ == "__main__":
    main()
