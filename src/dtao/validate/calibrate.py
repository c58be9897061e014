"""Calibration of the history scenario's agent parameters to the record.

The objective is the mean over a fixed set of seeds (common random numbers: every evaluation uses
the same seeds) of the sum over the *fitted* facts of squared band-scaled errors,
``z = (simulated - real) / (half band width)`` (log scale for ratio facts).  A fact a run cannot
measure counts as ``z = 5``.  scipy's Nelder-Mead minimises it over the parameters mapped to an
unbounded space (logistic, on a log scale where marked), so the bounds hold.  Each evaluation runs
every seed of the scenario over ``days``.

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
from scipy.optimize import minimize

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


#: the calibrated parameters (docs/calibration.md explains each choice)
PARAMS: tuple[CalParam, ...] = (
    CalParam("initial.emission_sigma", 0.5, 2.5, 1.7),
    CalParam("agents.root_stakers.move_prob", 1e-3, 0.3, 0.03, log=True),
    CalParam("agents.miners.sell_fraction", 0.05, 1.0, 0.6, tied=("agents.owners.sell_fraction",)),
    CalParam("agents.chasers.budget_tao", 10.0, 5000.0, 300.0, log=True),
    CalParam("agents.holders.budget_tao", 0.5, 200.0, 4.0, log=True),
)


def overrides_for(values: dict[str, float], params: tuple[CalParam, ...] = PARAMS) -> dict[str, float]:
    """Scenario overrides for parameter values (tied keys get the same value)."""
    out: dict[str, float] = {}
    for p in params:
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


def calibrate(*, seeds: int = 2, days: float = 46.0, maxfev: int = 40, jobs: int | None = None,
              base_seed: int = 7, out: Path | None = None, params: tuple[CalParam, ...] = PARAMS,
              history_folder: str | Path | None = None) -> dict[str, Any]:
    """Fit ``params`` to the fitted facts measurable within ``days``; returns (and writes to
    ``out/calibration.json``) the fitted values, their ranges, the objective and every evaluation."""
    h = load_history(history_folder)
    fitted = [f for f in facts(h) if f.fitted and f.needs_day <= days]
    if not fitted:
        raise ValueError(f"no fitted fact is measurable within {days} days")
    seed_list = replicate_seeds(base_seed, seeds)
    evals: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def objective(u: np.ndarray) -> float:
        values = {p.key: p.value(float(x)) for p, x in zip(params, u)}
        t = time.perf_counter()
        runs = run_seeds(seed_list, days=days, overrides=overrides_for(values, params), jobs=jobs,
                         history_folder=history_folder)
        losses, per = [], []
        for r in runs:
            loss, vals = seed_loss(r.probe, h, fitted)
            losses.append(loss)
            per.append({k: (v if math.isfinite(v) else None) for k, v in vals.items()})
        obj = float(np.mean(losses))
        evals.append({"values": values, "objective": obj, "seed_losses": losses, "facts": per,
                      "wall_seconds": round(time.perf_counter() - t, 1)})
        if out is not None:
            _write(out, _result(params, evals, seed_list, days, fitted, h, t0, done=False))
        return obj

    u0 = np.array([p.coord(p.start) for p in params])
    simplex = np.vstack([u0] + [u0 + np.eye(len(params))[i] * 1.0 for i in range(len(params))])
    minimize(objective, u0, method="Nelder-Mead",
             options={"maxfev": maxfev, "initial_simplex": simplex, "xatol": 0.05, "fatol": 0.05})
    res = _result(params, evals, seed_list, days, fitted, h, t0, done=True)
    if out is not None:
        _write(out, res)
    return res


def _result(params: tuple[CalParam, ...], evals: list[dict[str, Any]], seeds: list[int], days: float,
            fitted: list[Fact], h: History, t0: float, done: bool) -> dict[str, Any]:
    best = min(evals, key=lambda e: e["objective"])
    near = [e for e in evals if e["objective"] <= best["objective"] + 1.0]
    ranges = {p.key: [min(e["values"][p.key] for e in near), max(e["values"][p.key] for e in near)] for p in params}
    med = {}
    for f in fitted:
        xs = [v[f.id] for v in best["facts"] if v[f.id] is not None]
        med[f.id] = float(np.median(xs)) if xs else None
    return {
        "done": done,
        "method": "scipy.optimize.minimize(Nelder-Mead) on logistic-mapped parameters; objective = mean over "
                  "common seeds of sum of squared band-scaled errors of the fitted facts",
        "seeds": seeds, "days": days,
        "fitted_facts": [{"id": f.id, "real": float(f.real(h)), "simulated_median": med[f.id], "band": list(f.band)}
                         for f in fitted],
        "params": [{"key": p.key, "low": p.low, "high": p.high, "start": p.start, "log": p.log, "tied": list(p.tied)}
                   for p in params],
        "fitted": best["values"],
        "objective": best["objective"],
        "ranges_within_1_of_best": ranges,
        "evaluations": evals,
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }


def _write(out: Path, res: dict[str, Any]) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".calibration.json.tmp"
    tmp.write_text(json.dumps(res, indent=2, allow_nan=False, default=float))
    tmp.replace(out / "calibration.json")
