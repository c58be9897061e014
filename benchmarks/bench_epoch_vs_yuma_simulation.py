"""Side-by-side speed of dtao's Yuma epoch and the public yuma-simulation's torch implementation.

Both run one subnet epoch at 64 validators x 256 UIDs on the same inputs (the validators' rows
of the same weights, stake and bonds; dtao's "stored consensus" figure also gets the consensus its
subnet stored at the last epoch on the same weights, as the chain always has one and
yuma-simulation's functions take the previous consensus ``C_old`` too), measured in this one
process, interleaved in rounds so that machine load hits both alike; the best round of each is
reported, with the ratios.

yuma-simulation (github.com/bactensor/yuma-simulation) is not published on PyPI.  To include it:
install ``torch`` (a CPU build is enough) in the environment that runs this script, together
with dtao's own dependencies, and put a checkout's ``src/`` directory on ``PYTHONPATH``.
Without it the script prints dtao's own figures only.

    python benchmarks/bench_epoch_vs_yuma_simulation.py [--seconds 1.0] [--rounds 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from typing import Any, Callable

import numpy as np

from dtao.bench.epoch import N_BATCH, N_UIDS, N_VALIDATORS, make_epoch_input
from dtao.chain.epoch import epoch, epoch_batch


def _rate(fn: Callable[[], Any], seconds: float, per_call: int = 1) -> float:
    calls = 0
    t0 = time.perf_counter()
    while True:
        fn()
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return calls * per_call / dt


def _yuma_simulation() -> dict[str, Callable[[], Any]] | None:
    """Closures running yuma-simulation's YumaRust and Yuma3 on the benchmark input, or None."""
    try:
        import torch
        from yuma_simulation._internal.yumas import SimulationHyperparameters, Yuma3, YumaConfig, YumaParams, YumaRust
    except ImportError as exc:
        print(f"yuma-simulation not importable ({exc}).")
        print("It is not on PyPI: install torch (CPU build) next to dtao's dependencies and put a checkout of")
        print("bactensor/yuma-simulation's src/ on PYTHONPATH to get the side-by-side figures.\n")
        return None
    inp = make_epoch_input(0)
    v = N_VALIDATORS
    w = torch.tensor(np.asarray(inp.weights)[:v].astype(np.float64), dtype=torch.float32)
    s = torch.tensor(inp.stake[:v], dtype=torch.float32)
    b = torch.tensor(np.asarray(inp.bonds)[:v].astype(np.float64) / 65535.0, dtype=torch.float32)
    c = torch.zeros(N_UIDS)
    config = YumaConfig(simulation=SimulationHyperparameters(kappa=0.5, bond_penalty=1.0),
                        yuma_params=YumaParams(bond_moving_avg=0.1, liquid_alpha=False))
    return {
        "YumaRust": lambda: YumaRust(w, s, N_UIDS, v, False, b, c, config),
        "Yuma3": lambda: Yuma3(w, s, N_UIDS, v, False, b, c, config),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    """Measure and print epochs per second of each implementation and dtao's speed-up over torch."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0, help="measuring time of each figure per round")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the best round is reported")
    args = ap.parse_args()

    dense = make_epoch_input(0)
    steady = make_epoch_input(0, stored_consensus=True)
    yuma3 = make_epoch_input(0)
    yuma3.hyper = type(yuma3.hyper)(**{**yuma3.hyper.__dict__, "yuma3_on": True})
    yuma3_steady = dataclasses.replace(yuma3, consensus=epoch(yuma3).consensus)
    batch = [make_epoch_input(100 + k, netuid=k + 1) for k in range(N_BATCH)]
    runs: dict[str, tuple[Callable[[], Any], int]] = {
        "dtao epoch (dense)": (lambda: epoch(dense), 1),
        "dtao epoch (dense, stored consensus)": (lambda: epoch(steady), 1),
        "dtao epoch (Yuma3)": (lambda: epoch(yuma3), 1),
        "dtao epoch (Yuma3, stored consensus)": (lambda: epoch(yuma3_steady), 1),
        f"dtao epoch_batch ({N_BATCH} subnets)": (lambda: epoch_batch(batch), N_BATCH),
    }
    ys = _yuma_simulation()
    if ys is not None:
        runs["yuma-simulation YumaRust (torch)"] = (ys["YumaRust"], 1)
        runs["yuma-simulation Yuma3 (torch)"] = (ys["Yuma3"], 1)
    for fn, _ in runs.values():  # warm up (numba compiles, torch allocates)
        fn()
    best = {name: 0.0 for name in runs}
    for _ in range(args.rounds):
        for name, (fn, per_call) in runs.items():
            best[name] = max(best[name], _rate(fn, args.seconds, per_call))

    print(f"Yuma epoch, {N_VALIDATORS} validators x {N_UIDS} UIDs, best of {args.rounds} rounds of "
          f"{args.seconds:g} s (epochs/second)")
    for name, rate in best.items():
        print(f"  {name:<40} {rate:>10,.0f}")
    result: dict[str, Any] = {"epochs_per_second": best}
    if ys is not None:
        torch_rate = best["yuma-simulation YumaRust (torch)"]
        torch3 = best["yuma-simulation Yuma3 (torch)"]
        ratios = {
            "dense_vs_YumaRust": best["dtao epoch (dense)"] / torch_rate,
            "dense_stored_consensus_vs_YumaRust": best["dtao epoch (dense, stored consensus)"] / torch_rate,
            "batched_vs_YumaRust": best[f"dtao epoch_batch ({N_BATCH} subnets)"] / torch_rate,
            "yuma3_vs_Yuma3": best["dtao epoch (Yuma3)"] / torch3,
            "yuma3_stored_consensus_vs_Yuma3": best["dtao epoch (Yuma3, stored consensus)"] / torch3,
            "batched_vs_Yuma3": best[f"dtao epoch_batch ({N_BATCH} subnets)"] / torch3,
        }
        print(f"Speed-up of dtao over yuma-simulation (torch {ys['torch_threads']} threads):")
        for name, r in ratios.items():
            print(f"  {name:<40} {r:>10.1f}x")
        result["ratios"] = ratios
    print(json.dumps(result))


if __name__ == "__main__":
    main()
