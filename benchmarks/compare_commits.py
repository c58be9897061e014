"""Before/after figures of the speed work, measured in one run on this machine.

Extracts ``--before`` (a git revision; default: the commit before the speed work) into a temporary
directory and runs the same measurements with it and with the working tree, each in its own
process, alternating A/B ``--repeat`` times and keeping each side's best (thread CPU time, so other
load on the machine inflates the figures less; the ``*_wall_us`` copies of some take wall-clock time,
the honest figure for kernels that use more than one thread).  Prints one JSON object with both figures and their
ratio per measurement.  The first run of each side compiles its numba kernels (a minute or two).

    python benchmarks/compare_commits.py [--before REV] [--repeat 2] [--only NAME,...] [--record]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "ff8b9fa"  # main before the speed work (issue #6)

# The year benchmark's world (built for a one-day run), its validators' population and a market view: the
# start of the validators' measurements
_VALIDATORS_WORLD = """
import time, numpy as np
from dtao.agents import MarketView
from dtao.bench.year import year_scenario
from dtao.scenario.build import build
w = build(year_scenario(days=1.0), seed=0, n_blocks=7200)
st = w.state
pop = [p for p in w.populations if p.name == "validators"][0]
market = MarketView(st, 100, 14400)
market.update(st)
"""

def _stakers_world(days: int) -> str:
    """The year benchmark's world built for a ``days`` run, its staking populations (value investors,
    momentum traders, APY chasers) in ``pops`` and a market view: the start of the staking
    populations' measurements."""
    return f"""
import time
from dtao.agents import MarketView
from dtao.bench.year import year_scenario
from dtao.chain.coinbase import run_blocks
from dtao.scenario.build import build
w = build(year_scenario(days={float(days)}), seed=0, n_blocks={days * 7200})
st = w.state
pops = [p for p in w.populations if p.name in ("value", "momentum", "apy_chasers")]
market = MarketView(st, 300, 14400)
"""


# Each measurement is a script printing one number (microseconds per unit) and uses only APIs that
# exist on both sides.
MEASURE = {
    "coinbase_us_per_block": ("us per block, 128 subnets x 256 UIDs x 64 validators, epochs included", """
import time
from dtao.bench.chain import bench_network
from dtao.chain.coinbase import run_blocks
st = bench_network(128, 256, 64)
run_blocks(st, 400)
best = 1e9
for _ in range(3):
    t = time.thread_time(); run_blocks(st, 1083); best = min(best, time.thread_time() - t)
print(best / 1083 * 1e6)
"""),
    "coinbase_only_us_per_block": ("us per block, 128 subnets, no epochs (tempo 0)", """
import time
from dataclasses import replace
from dtao.bench.chain import bench_network
from dtao.chain.coinbase import run_blocks
st = bench_network(128, 16, 4)
for nu in st.subnet_netuids:
    st.set_hyper(int(nu), replace(st.hyper[int(nu)], tempo=0))
run_blocks(st, 100)
best = 1e9
for _ in range(3):
    t = time.thread_time(); run_blocks(st, 3000); best = min(best, time.thread_time() - t)
print(best / 3000 * 1e6)
"""),
    "epoch_cycling_us": ("us per epoch() call, 64x256, cycling over 128 different subnets", """
import time
from dtao.bench.epoch import make_epoch_input
from dtao.chain.epoch import epoch
inps = [make_epoch_input(100 + s, netuid=s + 1) for s in range(128)]
for i in inps: epoch(i)
best = 1e9
for _ in range(3):
    t = time.thread_time()
    for i in inps: epoch(i)
    best = min(best, time.thread_time() - t)
print(best / 128 * 1e6)
"""),
    "epoch_dense_us": ("us per epoch() call, 64x256, the same dense input again and again (dtao bench epoch's dense figure)", """
import time
from dtao.bench.epoch import make_epoch_input
from dtao.chain.epoch import epoch
inp = make_epoch_input(0)
for _ in range(200): epoch(inp)
best = 1e9
for _ in range(5):
    t = time.thread_time()
    for _ in range(500): epoch(inp)
    best = min(best, time.thread_time() - t)
print(best / 500 * 1e6)
"""),
    "epoch_kernel_us": ("us per compiled epoch kernel call (_epoch_core, no Python around it), 64x256, the same input again and again", """
import time
import numpy as np
from dtao.bench.epoch import make_epoch_input
from dtao.chain.epoch import _epoch_core, _prepare
a = _prepare(make_epoch_input(0))
if "cons_guess" in _epoch_core.py_func.__code__.co_varnames:  # (since d1353c3: no consensus guesses)
    a = (*a, np.zeros(0))
n = a[2].size
o = (np.empty((7, n), np.uint16), np.empty((2, n)), np.empty((n, n), np.uint16), np.empty(n, np.bool_))
for _ in range(200): _epoch_core(*a, *o)
best = 1e9
for _ in range(5):
    t = time.thread_time()
    for _ in range(500): _epoch_core(*a, *o)
    best = min(best, time.thread_time() - t)
print(best / 500 * 1e6)
"""),
    "epoch_kernel_cycling_us": ("us per compiled epoch kernel call (_epoch_core), 64x256, cycling over 128 different subnets", """
import time
import numpy as np
from dtao.bench.epoch import make_epoch_input
from dtao.chain.epoch import _epoch_core, _prepare
args = [_prepare(make_epoch_input(100 + s, netuid=s + 1)) for s in range(128)]
if "cons_guess" in _epoch_core.py_func.__code__.co_varnames:  # (since d1353c3: no consensus guesses)
    args = [(*a, np.zeros(0)) for a in args]
n = args[0][2].size
o = (np.empty((7, n), np.uint16), np.empty((2, n)), np.empty((n, n), np.uint16), np.empty(n, np.bool_))
for a in args: _epoch_core(*a, *o)
best = 1e9
for _ in range(5):
    t = time.thread_time()
    for _ in range(4):
        for a in args: _epoch_core(*a, *o)
    best = min(best, time.thread_time() - t)
print(best / 512 * 1e6)
"""),
    "epoch_yuma3_liquid_us": ("us per epoch() call with Yuma3 and liquid alpha on (sigmoid steepness 1000), 64x256, the same input again and again", """
import time
from dataclasses import replace
from dtao.bench.epoch import make_epoch_input
from dtao.chain.epoch import epoch
inp = make_epoch_input(0)
inp = replace(inp, hyper=replace(inp.hyper, yuma3_on=True, liquid_alpha_on=True))
for _ in range(100): epoch(inp)
best = 1e9
for _ in range(5):
    t = time.thread_time()
    for _ in range(200): epoch(inp)
    best = min(best, time.thread_time() - t)
print(best / 200 * 1e6)
"""),
    "epoch_yuma3_cycling_us": ("us per epoch() call with Yuma3 on, 64x256, cycling over 128 different subnets", """
import time
from dataclasses import replace
from dtao.bench.epoch import make_epoch_input
from dtao.chain.epoch import epoch
inps = [make_epoch_input(100 + s, netuid=s + 1) for s in range(128)]
for i in inps: i.hyper = replace(i.hyper, yuma3_on=True)
for i in inps: epoch(i)
best = 1e9
for _ in range(3):
    t = time.thread_time()
    for i in inps: epoch(i)
    best = min(best, time.thread_time() - t)
print(best / 128 * 1e6)
"""),
    "median_cycling_us": ("us per weighted_median_col, 64x192 heavy-tailed weights, cycling over 64 inputs", """
import time, numpy as np
from dtao.chain.epoch_math import weighted_median_col
rng = np.random.default_rng(0)
Ws = []
for k in range(64):
    w = np.zeros((64, 256)); w[:, 64:] = rng.pareto(1.5, (64, 192)); Ws.append(w / w.sum(1, keepdims=True))
S = rng.random(64)
for w in Ws: weighted_median_col(S, w, 0.5)
best = 1e9
for _ in range(3):
    t = time.thread_time()
    for w in Ws: weighted_median_col(S, w, 0.5)
    best = min(best, time.thread_time() - t)
print(best / 64 * 1e6)
"""),
    "set_weights_batch_us": ("us per set_weights_batch of 64 validators x 256 UIDs (one subnet's weight round)", """
import time, numpy as np
from dtao.bench.chain import bench_network
from dtao.chain.weights import set_weights_batch
st = bench_network(4, 256, 64)
rng = np.random.default_rng(0)
Ws = [rng.random((64, 256)) for _ in range(16)]
uids = np.arange(64)
set_weights_batch(st, 1, uids, Ws[0], enforce_rate_limit=False)
best = 1e9
for _ in range(3):
    t = time.thread_time()
    for i in range(512): set_weights_batch(st, 1 + (i & 3), uids, Ws[i & 15], enforce_rate_limit=False)
    best = min(best, time.thread_time() - t)
print(best / 512 * 1e6)
"""),
    "validators_round_us": ("us per weight round of the year benchmark's validators (128 subnets x 64 validators x 256 UIDs), noise redraws included (every 72nd round)", _VALIDATORS_WORLD + """
def rnd():
    st.block += 100
    pop.act(st, market, w.world)
for _ in range(4): rnd()
best = 1e9
for _ in range(3):
    t = time.thread_time()
    for _ in range(144): rnd()
    best = min(best, time.thread_time() - t)
assert not pop.rejected
print(best / 144 * 1e6)
"""),
    "validators_resend_evicted_us": ("us per weight round of the year benchmark's validators that resends unchanged rows (median round: no noise redraw), the caches evicted before each round (48 MB written between rounds, untimed) as between rounds in the year's loop", _VALIDATORS_WORLD + """
junk = np.zeros(6_000_000)
def rnd():
    st.block += 100
    junk[::8] += 1.0  # (every cache line of 48 MB)
    t = time.thread_time()
    pop.act(st, market, w.world)
    return time.thread_time() - t
for _ in range(4): rnd()
best = 1e9
for _ in range(3):
    best = min(best, float(np.median([rnd() for _ in range(100)])))
assert not pop.rejected
print(best * 1e6)
"""),
    "validators_redraw_us": ("us per weight round of the year benchmark's validators in which every subnet's noise is redrawn (128 plans of 64 x ~190 normal draws each)", _VALIDATORS_WORLD + """
def rnd():
    st.block += 100
    pop.act(st, market, w.world)
for _ in range(4): rnd()
best = 1e9
for _ in range(8):
    pop._until[:] = 0  # every plan's noise expired
    t = time.thread_time()
    rnd()
    best = min(best, time.thread_time() - t)
assert not pop.rejected
print(best * 1e6)
"""),
    "set_weights_rows_us": ("us per set_weights_rows call of a validators' round (8,192 u16 rows of 256 over 128 subnets, 4 MB; the population's own packed arrays, frozen since 0a056c8)", _VALIDATORS_WORLD + """
from dtao.chain.weights import set_weights_rows
st.block += 100
pop.act(st, market, w.world)
_, row_net, row_uid, values, offsets = pop._packed
best = 1e9
for _ in range(5):
    t = time.thread_time()
    for _ in range(100):
        ok = set_weights_rows(st, row_net, row_uid, values, offsets, enforce_rate_limit=False)
    best = min(best, time.thread_time() - t)
assert ok.all()
print(best / 100 * 1e6)
"""),
    "validator_table_us": ("us per market-view validator table (delegate and staked alpha of 128 subnets x 64 permit holders), fresh view each call", """
import time
from dtao.agents import MarketView
from dtao.bench.year import year_scenario
from dtao.scenario.build import build
st = build(year_scenario(days=1.0, agents=0), seed=0, n_blocks=7200).state
best = 1e9
for _ in range(5):
    t = time.thread_time()
    for _ in range(200):
        m = MarketView(st, 100, 1000)
        m.delegate
    best = min(best, time.thread_time() - t)
print(best / 200 * 1e6)
"""),
    "apy_chasers_round_us": ("us per round of the year benchmark's 3,334 APY chasers (held positions read for the stop-loss), day 1-2 of a run with the other staking populations and the chain running between rounds", _stakers_world(2) + """
spent = 0.0
for r in range(48):
    market.update(st)
    market.delegate  # the validator table, shared by the populations, not counted here
    for p in pops:
        t = time.thread_time()
        p.act(st, market, w.world)
        if r >= 24 and p.name == "apy_chasers":
            spent += time.thread_time() - t
    run_blocks(st, 300)
print(spent / 24 * 1e6)
"""),
    "staking_rounds_settled_us": ("us per tick of the year benchmark's value investors, momentum traders and APY chasers together (their act() thread CPU; few orders by then), days 20-21 of a run with the chain running between rounds", _stakers_world(21) + """
spent = 0.0
for r in range(21 * 24):
    market.update(st)
    market.delegate  # the validator table, shared by the populations, not counted here
    for p in pops:
        t = time.thread_time()
        p.act(st, market, w.world)
        if r >= 20 * 24:
            spent += time.thread_time() - t
    run_blocks(st, 300)
print(spent / 24 * 1e6)
"""),
    "staking_order_us": ("us per order of the year benchmark's value investors, momentum traders and APY chasers (their act() thread CPU over their orders), day 0-1 of a run with the chain running between rounds", _stakers_world(1) + """
spent = 0.0
for r in range(24):
    market.update(st)
    market.delegate  # the validator table, shared by the populations, not counted here
    for p in pops:
        t = time.thread_time()
        p.act(st, market, w.world)
        spent += time.thread_time() - t
    run_blocks(st, 300)
assert sum(p.orders for p in pops) == 129279
print(spent / sum(p.orders for p in pops) * 1e6)
"""),
    "run_setup_us": ("us of Python set-up per run_blocks call (_Run: the call's arrays, the subnets due in its 100 blocks, the kernel view's sync), 128 subnets x 256 UIDs", """
import time
from dtao.bench.chain import bench_network
from dtao.chain.coinbase import _Run, run_blocks
st = bench_network(128, 256, 64)
run_blocks(st, 10)
_Run(st, 100, float("nan"), True, 1, True, False)
best = 1e9
for _ in range(5):
    t = time.thread_time()
    for _ in range(2000): _Run(st, 100, float("nan"), True, 1, True, False)
    best = min(best, time.thread_time() - t)
print(best / 2000 * 1e6)
"""),
    "sim_swap_us": ("us per sim_swap_tao_for_alpha call", """
import time
from dtao.bench.chain import bench_network
from dtao.chain.swap import sim_swap_tao_for_alpha
st = bench_network(4, 8, 2)
sim_swap_tao_for_alpha(st, 1, 1.0)
best = 1e9
for _ in range(3):
    t = time.thread_time()
    for i in range(20000): sim_swap_tao_for_alpha(st, 1 + (i & 3), 1.0)
    best = min(best, time.thread_time() - t)
print(best / 20000 * 1e6)
"""),
}

# The same measurements in wall-clock time, for the kernels that split their work over threads (the
# epoch's column blocks, a weight round's subnets): thread CPU time counts only the calling thread's
# share of that work.
for _name in ("coinbase_us_per_block", "epoch_kernel_cycling_us", "set_weights_rows_us", "validators_round_us",
              "validators_resend_evicted_us"):
    _what, _code = MEASURE[_name]
    MEASURE[_name.replace("_us", "_wall_us")] = (_what + " (wall clock)",
                                                  _code.replace("time.thread_time()", "time.perf_counter()"))


def run(src: Path, code: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(src))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=src.parent)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return float(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--record", action="store_true", help="append the result to benchmarks/results.jsonl")
    a = ap.parse_args()
    names = [n for n in MEASURE if not a.only or n in a.only.split(",")]
    rev = subprocess.run(["git", "rev-parse", "--short", a.before], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        arch = subprocess.run(["git", "archive", a.before], capture_output=True, cwd=ROOT, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=arch, check=True)
        sides = {"before": old / "src", "after": ROOT / "src"}
        out: dict[str, object] = {"benchmark": "compare_commits", "before": rev, "after": f"{head} (working tree)",
                                  "cpus": os.cpu_count(),
                                  "unit": "thread CPU microseconds (best of runs); *_wall_us: wall-clock microseconds"}
        for n in names:
            what, code = MEASURE[n]
            best = {"before": float("inf"), "after": float("inf")}
            for _ in range(a.repeat):
                for side in ("before", "after"):
                    best[side] = min(best[side], run(sides[side], code))
            out[n] = {"what": what, "before": round(best["before"], 2), "after": round(best["after"], 2),
                      "speedup": round(best["before"] / best["after"], 2)}
            print(json.dumps({n: out[n]}), file=sys.stderr)
    print(json.dumps(out))
    if a.record:
        import platform
        import time

        row = {**out, "machine": platform.machine(), "python": platform.python_version(),
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with (ROOT / "benchmarks" / "results.jsonl").open("a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
