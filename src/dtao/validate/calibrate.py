"""Calibration of the history scenario's agent parameters to the record.

Two stages, each a scipy optimiser over a seed-averaged objective:

1. ``launch`` fits the launch-era demand and supply and the launch concentration (parameters
   :data:`LAUNCH_PARAMS`) to S1, S2a, S3a, S3b on 46-day runs with Nelder-Mead;
2. ``sn28`` then fits the hold-to-earn holders' money (:data:`SN28_PARAMS`) to S6a on 12.5-day
   runs with a bounded scalar search, the stage-1 values held fixed.  The pump on one small pool is
   much noisier across seeds than the network sums, so it gets more seeds and a shorter horizon.

The objective is the mean over a fixed set of seeds (common random numbers: every evaluation uses
the same seeds) of the sum over the stage's facts of squared band-scaled errors,
``z = (simulated - real) / (half band width)`` (log scale for ratio facts).  A fact a run cannot
measure counts as ``z = 5``.  Parameters are mapped to an unbounded space (logistic, on a log scale
where marked), so the bounds hold.

The fitted values' ranges reported are the bounds searched and the spread of the parameters over
the evaluations whose objective is within 1 of the best (about one band-scaled unit of error).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from dtao.validate.facts import Fact, facts
from dtao.validate.history import History, load_history
from dtao.validate.run import replicate_seeds, run_seeds

#: z of a fitted fact that a run could not measure
MISSING_Z: float = 5.0


@dataclass(frozen=True)
class CalParam:
    """One calibrated parameter: the scenario key (dotted), its bounds, scale, start, and keys tied
    to the same value."""

    key: str
    low: float
    high: float
    start: float
    log: bool = False
    tied: tuple[str, ...] = ()

    def value(self, u: float) -> float:
        """Parameter value for an unbounded coordinate ``u`` (logistic between the bounds)."""
        s = 1.0 / (1.0 + math.exp(-u))
        if self.log:
            v = math.exp(math.log(self.low) + s * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + s * (self.high - self.low)
        return float(min(max(v, self.low), self.high))

    def coord(self, v: float) -> float:
        """Inverse of :meth:`value`."""
        if self.log:
            s = (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            s = (v - self.low) / (self.high - self.low)
        s = min(max(s, 1e-6), 1 - 1e-6)
        return float(math.log(s / (1 - s)))


@dataclass(frozen=True)
class Stage:
    """One calibration stage: parameters, the facts they are fitted to, run length, seeds, budget."""

    name: str
    params: tuple[CalParam, ...]
    facts: tuple[str, ...]
    days: float
    seeds: int
    maxfev: int


#: stage 1: launch-era demand/supply and concentration (docs/calibration.md explains each choice)
LAUNCH_PARAMS: tuple[CalParam, ...] = (
    # starts: the values of the first fit (docs/calibration.md, "History of the fit")
    CalParam("initial.emission_sigma", 0.5, 2.5, 1.125),
    # root returners come back at the rate and below the yield that drew the root stakers out
    CalParam("agents.root_stakers.move_prob", 1e-3, 0.5, 0.0598, log=True, tied=("agents.root_returners.return_prob",)),
    CalParam("agents.root_stakers.min_apy", 0.2, 50.0, 1.472, log=True, tied=("agents.root_returners.exit_apy",)),
    CalParam("agents.miners.sell_fraction", 0.05, 1.0, 0.877, tied=("agents.owners.sell_fraction", "agents.new_owners.sell_fraction")),
)
#: stage 2: the SN28 hold-to-earn holders' money
SN28_PARAMS: tuple[CalParam, ...] = (
    CalParam("agents.holders.budget_tao", 2.0, 60.0, 28.94, log=True),
)
STAGES: tuple[Stage, ...] = (
    Stage("launch", LAUNCH_PARAMS, ("S1", "S2a", "S3a", "S3b"), days=46.0, seeds=6, maxfev=40),
    Stage("sn28", SN28_PARAMS, ("S6a",), days=12.5, seeds=8, maxfev=12),
)
#: every calibrated parameter
PARAMS: tuple[CalParam, ...] = LAUNCH_PARAMS + SN28_PARAMS


def overrides_for(values: dict[str, float], params: tuple[CalParam, ...] = PARAMS) -> dict[str, float]:
    """Scenario overrides for parameter values (tied keys get the same value)."""
    out: dict[str, float] = {}
    for p in params:
        if p.key in values:
            out[p.key] = float(values[p.key])
            for k in p.tied:
                out[k] = float(values[p.key])
    return out


def fact_z(f: Fact, real: float, sim: float) -> float:
    """Band-scaled error of a simulated value (log scale for ratio facts); MISSING_Z if unmeasured."""
    if sim is None or not math.isfinite(sim):
        return MISSING_Z
    lo, hi = f.band
    if f.unit == "ratio" and sim > 0 and real > 0 and lo > 0:
        return (math.log(sim) - math.log(real)) / ((math.log(hi) - math.log(lo)) / 2)
    return (sim - real) / ((hi - lo) / 2)


def seed_loss(probe: Any, h: History, fitted: list[Fact]) -> tuple[float, dict[str, float]]:
    """(sum of squared z over the fitted facts, the simulated value of each) for one seed."""
    vals = {f.id: float(f.simulated(probe, h)) for f in fitted}
    return float(sum(fact_z(f, float(f.real(h)), vals[f.id]) ** 2 for f in fitted)), vals


def calibrate_stage(stage: Stage, *, fixed: dict[str, float] | None = None, seeds: int | None = None,
                    days: float | None = None, maxfev: int | None = None, jobs: int | None = None,
                    base_seed: int = 7, history: History | None = None, history_folder: str | Path | None = None,
                    progress: Any = None) -> dict[str, Any]:
    """Fit one stage's parameters (``fixed`` values of earlier stages held); returns the fitted
    values, their ranges, the objective and every evaluation."""
    h = history or load_history(history_folder)
    days = stage.days if days is None else days
    n_seeds = stage.seeds if seeds is None else seeds
    maxfev = stage.maxfev if maxfev is None else maxfev
    byid = {f.id: f for f in facts(h)}
    fitted = [byid[i] for i in stage.facts if byid[i].needs_day <= days]
    if not fitted:
        raise ValueError(f"stage {stage.name}: no fitted fact is measurable within {days} days")
    seed_list = replicate_seeds(base_seed, n_seeds)
    params = stage.params
    fixed = dict(fixed or {})
    evals: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def objective(u: np.ndarray) -> float:
        u = np.atleast_1d(u)
        values = {p.key: p.value(float(x)) for p, x in zip(params, u)}
        t = time.perf_counter()
        ov = {**overrides_for(fixed), **overrides_for(values, params)}
        runs = run_seeds(seed_list, days=days, overrides=ov, jobs=jobs, history_folder=history_folder)
        losses, per = [], []
        for r in runs:
            loss, vals = seed_loss(r.probe, h, fitted)
            losses.append(loss)
            per.append({k: (v if math.isfinite(v) else None) for k, v in vals.items()})
        obj = float(np.mean(losses))
        evals.append({"values": values, "objective": obj, "seed_losses": losses, "facts": per,
                      "wall_seconds": round(time.perf_counter() - t, 1)})
        if progress is not None:
            progress(_result(stage, params, evals, seed_list, days, fitted, h, t0, fixed, done=False))
        return obj

    u0 = np.array([p.coord(p.start) for p in params])
    if len(params) == 1:
        p = params[0]
        lo, hi = p.coord(p.low * (1 + 1e-6) if p.log else p.low + 1e-9), p.coord(p.high * (1 - 1e-6))
        minimize_scalar(lambda x: objective(np.array([x])), bounds=(max(lo, -6.0), min(hi, 6.0)), method="bounded",
                        options={"maxiter": maxfev, "xatol": 0.05})
    else:
        simplex = np.vstack([u0] + [u0 + np.eye(len(params))[i] * 0.7 for i in range(len(params))])
        minimize(objective, u0, method="Nelder-Mead",
                 options={"maxfev": maxfev, "initial_simplex": simplex, "xatol": 0.05, "fatol": 0.05})
    return _result(stage, params, evals, seed_list, days, fitted, h, t0, fixed, done=True)


def calibrate(*, stages: tuple[Stage, ...] = STAGES, seeds: int | None = None, days: float | None = None,
              maxfev: int | None = None, jobs: int | None = None, base_seed: int = 7, out: Path | None = None,
              history_folder: str | Path | None = None, start: dict[str, float] | None = None) -> dict[str, Any]:
    """Run the stages in order, each holding the values fitted before it (and ``start`` values for
    parameters no stage fits); writes ``out/calibration.json`` as it goes.  ``seeds``/``days``/
    ``maxfev`` override every stage's own (for quick checks)."""
    h = load_history(history_folder)
    fixed = {p.key: p.start for p in PARAMS}
    fixed.update(start or {})
    done: list[dict[str, Any]] = []

    def save(partial: dict[str, Any] | None) -> None:
        if out is not None:
            _write(out, _combined(done + ([partial] if partial else []), fixed))

    for st in stages:
        res = calibrate_stage(st, fixed=fixed, seeds=seeds, days=days, maxfev=maxfev, jobs=jobs,
                              base_seed=base_seed, history=h, history_folder=history_folder, progress=save)
        done.append(res)
        fixed.update(res["fitted"])
        save(None)
    return _combined(done, fixed)


def _combined(stages: list[dict[str, Any]], fixed: dict[str, float]) -> dict[str, Any]:
    fitted: dict[str, float] = {}
    ranges: dict[str, list[float]] = {}
    for s in stages:
        fitted.update(s["fitted"])
        ranges.update(s["ranges_within_1_of_best"])
    return {"done": bool(stages) and all(s["done"] for s in stages),
            "method": "stages of scipy optimisers (Nelder-Mead; bounded scalar search for one parameter) on "
                      "logistic-mapped parameters; objective = mean over common seeds of the sum of squared "
                      "band-scaled errors of the stage's facts",
            "fitted": fitted, "ranges_within_1_of_best": ranges,
            "objective": {s["stage"]: s["objective"] for s in stages},
            "overrides": overrides_for({**fixed, **fitted}), "stages": stages}


def _result(stage: Stage, params: tuple[CalParam, ...], evals: list[dict[str, Any]], seeds: list[int], days: float,
            fitted: list[Fact], h: History, t0: float, fixed: dict[str, float], done: bool) -> dict[str, Any]:
    best = min(evals, key=lambda e: e["objective"])
    near = [e for e in evals if e["objective"] <= best["objective"] + 1.0]
    ranges = {p.key: [min(e["values"][p.key] for e in near), max(e["values"][p.key] for e in near)] for p in params}
    med: dict[str, float | None] = {}
    for f in fitted:
        xs = [v[f.id] for v in best["facts"] if v[f.id] is not None]
        med[f.id] = float(np.median(xs)) if xs else None
    return {
        "stage": stage.name, "done": done, "seeds": seeds, "days": days, "held_fixed": dict(fixed),
        "fitted_facts": [{"id": f.id, "real": float(f.real(h)), "simulated_median": med[f.id], "band": list(f.band)}
                         for f in fitted],
        "params": [{"key": p.key, "low": p.low, "high": p.high, "start": p.start, "log": p.log, "tied": list(p.tied)}
                   for p in params],
        "fitted": best["values"], "objective": best["objective"], "ranges_within_1_of_best": ranges,
        "evaluations": evals, "wall_seconds": round(time.perf_counter() - t0, 1),
    }


def _write(out: Path, res: dict[str, Any]) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".calibration.json.tmp"
    tmp.write_text(json.dumps(res, indent=2, allow_nan=False, default=float))
    tmp.replace(out / "calibration.json")
