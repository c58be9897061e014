"""From seed runs to the validation table: each fact's real value, the simulated median and range
over seeds, its band and pass/fail; as rows, JSON, CSV and Markdown."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dtao.validate.facts import Fact, facts
from dtao.validate.history import History
from dtao.validate.run import SeedRun


@dataclass
class FactResult:
    """One fact over all seeds.  ``simulated`` is the median of the per-seed values (NaN if no seed
    reached the fact), ``low``/``high`` their range; ``passed`` is None when not measured."""

    fact: Fact
    real: float
    values: list[float]
    simulated: float
    low: float
    high: float
    passed: bool | None
    seeds_in_band: int
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        f = self.fact
        return {"id": f.id, "short": f.short, "name": f.name, "unit": f.unit, "real": _j(self.real), "simulated": _j(self.simulated),
                "range": [_j(self.low), _j(self.high)], "values": [_j(v) for v in self.values],
                "band": [f.band[0], f.band[1]], "pass": self.passed, "seeds_in_band": self.seeds_in_band,
                "fitted": f.fitted, "needs_day": round(f.needs_day, 3), "why_band": f.why_band,
                "if_fails": f.if_fails, "note": self.note}


def _j(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass
class Validation:
    """The table plus what produced it."""

    results: list[FactResult]
    seeds: list[int]
    days: float
    wall_seconds: list[float]
    overrides: dict[str, Any] = field(default_factory=dict)
    runs: list[SeedRun] = field(default_factory=list)

    @property
    def n_pass(self) -> int:
        return sum(r.passed is True for r in self.results)

    @property
    def n_fail(self) -> int:
        return sum(r.passed is False for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {"facts": [r.to_json() for r in self.results], "seeds": self.seeds, "days": self.days,
                "passed": self.n_pass, "failed": self.n_fail,
                "not_measured": sum(r.passed is None for r in self.results),
                "wall_seconds": [round(w, 1) for w in self.wall_seconds], "overrides": self.overrides,
                "runs": [{"seed": r.seed, "registrations": r.registrations, "locks_aligned": r.locks_aligned,
                          "rejected_orders": r.rejected} for r in self.runs]}

    def frame(self) -> pd.DataFrame:
        rows = []
        for r in self.results:
            f = r.fact
            rows.append({"id": f.id, "fact": f.name, "unit": f.unit, "real": r.real, "simulated": r.simulated,
                         "low": r.low, "high": r.high, "band_low": f.band[0], "band_high": f.band[1],
                         "pass": {True: "pass", False: "FAIL", None: "not reached"}[r.passed],
                         "seeds_in_band": r.seeds_in_band, "fitted": f.fitted})
        return pd.DataFrame(rows)

    def markdown(self) -> str:
        lines = ["| fact | real | simulated: median [range] | band | result |",
                 "| --- | --- | --- | --- | --- |"]
        for r in self.results:
            f = r.fact
            tag = " (fitted)" if f.fitted else ""
            res = {True: "pass", False: "**FAIL**", None: "not reached"}[r.passed]
            lines.append(f"| {f.id}: {f.name}{tag} | {fmt(r.real)} | {fmt(r.simulated)} [{fmt(r.low)}, {fmt(r.high)}] "
                         f"| [{fmt(f.band[0])}, {fmt(f.band[1])}] | {res} ({r.seeds_in_band}/{len(r.values)}) |")
        return "\n".join(lines) + "\n"


def fmt(x: float | None) -> str:
    """A figure for the table: 3 significant decimals, '-' when missing."""
    if x is None or not math.isfinite(x):
        return "-"
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def _measure(f: Fact, run: SeedRun, history: History) -> float:
    """The fact on one seed; NaN (not measured) when the run gives nothing to measure it on."""
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            v = float(f.simulated(run.probe, history))
        except ZeroDivisionError:
            return math.nan
    return v if math.isfinite(v) else math.nan


def evaluate(runs: list[SeedRun], history: History, overrides: dict[str, Any] | None = None) -> Validation:
    """Measure every fact on every seed and aggregate (median, range, pass if the median is in band)."""
    if not runs:
        raise ValueError("no runs to evaluate")
    out = []
    for f in facts(history):
        real = float(f.real(history))
        vals = [_measure(f, r, history) for r in runs]
        fin = np.array([v for v in vals if math.isfinite(v)])
        if fin.size == 0:
            out.append(FactResult(f, real, vals, math.nan, math.nan, math.nan, None, 0,
                                  note=f"needs {f.needs_day:.1f} days; the run has {runs[0].days:.1f}"))
            continue
        med = float(np.median(fin))
        inb = int(sum(f.passes(v) is True for v in fin))
        note = "" if fin.size == len(vals) else f"{len(vals) - fin.size} seed(s) did not measure it"
        out.append(FactResult(f, real, vals, med, float(fin.min()), float(fin.max()), f.passes(med), inb, note))
    return Validation(out, [r.seed for r in runs], runs[0].days, [r.wall_seconds for r in runs],
                      dict(overrides or {}), runs)
