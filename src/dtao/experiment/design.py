"""From an :class:`Experiment` to its plan: the parameter points and one seed per run.

Points are the Cartesian product of the grid axes (file order, values in order), crossed with the
sampled design (``random``, Latin hypercube ``lhs`` or scrambled ``sobol``, from ``scipy.stats.qmc``).

Seeds all come from one ``numpy.random.SeedSequence(experiment.seed)``:

- the sampled design draws from its child ``spawn_key=(1,)``;
- run (point p, replication r) gets the child ``spawn_key=(0, p, r)``, i.e.
  ``SeedSequence(seed).spawn(2)[0].spawn(n_points)[p].spawn(replications)[r]``; with
  ``seeding = "common"`` it is ``spawn_key=(0, r)`` for every point (common random numbers).

A spawned child depends only on its key, never on how many siblings were spawned, so a run's seed
does not depend on the executor, on the order runs finish, or on later raising ``replications``
(resuming with more replications keeps every finished run valid).  The integer handed to the
simulator is the child's first 64-bit word shifted to 63 bits (fits SQL ``BIGINT``).
"""
from __future__ import annotations

import itertools
import math
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from dtao.experiment.spec import Experiment, ExperimentError, ParamRange, SampleSpec

PLAN_FORMAT = "dtao-experiment-plan/1"
_RUN_BRANCH = 0
_DESIGN_BRANCH = 1


@dataclass(frozen=True)
class RunSpec:
    """One planned run: its point, replication, the varied parameter values and its seed."""

    run_id: str
    point_id: int
    replication: int
    params: dict[str, Any]
    seed: int
    seed_spawn_key: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"run_id": self.run_id, "point_id": self.point_id, "replication": self.replication,
                "params": self.params, "seed": self.seed, "seed_spawn_key": list(self.seed_spawn_key)}


@dataclass(frozen=True)
class Plan:
    """The expanded experiment: ``points[p]`` maps each varied key to its value at point p, and
    ``runs`` lists every (point, replication) in a fixed order (point-major)."""

    experiment: Experiment
    seed: int
    points: tuple[dict[str, Any], ...]
    runs: tuple[RunSpec, ...] = field(repr=False)

    @property
    def n_runs(self) -> int:
        """Number of planned runs."""
        return len(self.runs)

    @cached_property
    def by_id(self) -> dict[str, RunSpec]:
        """Planned runs by run id."""
        return {r.run_id: r for r in self.runs}

    def run(self, run_id: str) -> RunSpec:
        """The planned run with this id (KeyError if none)."""
        return self.by_id[run_id]

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (``experiment.json`` stores it together with the experiment)."""
        return {"format": PLAN_FORMAT, "seed": self.seed, "points": list(self.points),
                "runs": [r.to_json() for r in self.runs]}


def run_seed(entropy: int, spawn_key: tuple[int, ...]) -> int:
    """The simulator seed for a run: first 64-bit word of ``SeedSequence(entropy, spawn_key=...)``,
    shifted right by one bit (a non-negative 63-bit integer)."""
    ss = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _unit_to_value(p: ParamRange, u: np.ndarray) -> list[Any]:
    """Map uniform draws in [0, 1) to parameter values."""
    u = np.clip(u, 0.0, np.nextafter(1.0, 0.0))
    if p.choices is not None:
        idx = np.floor(u * len(p.choices)).astype(np.int64)
        return [p.choices[i] for i in idx]
    lo, hi = float(p.low), float(p.high)  # type: ignore[arg-type]
    if p.type == "int":
        if p.scale == "log":
            v = np.floor(np.exp(math.log(lo) + u * (math.log(hi + 1.0) - math.log(lo))))
        else:
            v = np.floor(lo + u * (hi - lo + 1.0))
        return [int(x) for x in np.clip(v, lo, hi)]
    if p.scale == "log":
        v = np.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    else:
        v = lo + u * (hi - lo)
    return [float(x) for x in np.clip(v, lo, hi)]


def sample_design(sample: SampleSpec, seed_seq: np.random.SeedSequence) -> list[dict[str, Any]]:
    """The sampled points: ``sample.n`` dicts of parameter values, drawn from ``seed_seq``."""
    from scipy.stats import qmc

    d = len(sample.parameters)
    rng = np.random.Generator(np.random.PCG64(seed_seq))
    if sample.method == "random":
        u = rng.random((sample.n, d))
    else:
        cls = qmc.LatinHypercube if sample.method == "lhs" else qmc.Sobol
        try:
            engine = cls(d, scramble=True, rng=rng)
        except TypeError:  # scipy < 1.15 names it seed
            engine = cls(d, scramble=True, seed=rng)
        if sample.method == "sobol":
            u = engine.random_base2(int(math.log2(sample.n)))
        else:
            u = engine.random(sample.n)
    cols = [_unit_to_value(p, u[:, j]) for j, p in enumerate(sample.parameters)]
    return [{p.key: cols[j][i] for j, p in enumerate(sample.parameters)} for i in range(sample.n)]


def _run_id(p: int, r: int, n_points: int, reps: int) -> str:
    wp = max(4, len(str(max(n_points - 1, 0))))
    wr = max(3, len(str(max(reps - 1, 0))))
    return f"p{p:0{wp}d}-r{r:0{wr}d}"


def make_plan(experiment: Experiment) -> Plan:
    """Expand ``experiment`` into points and runs.  When ``experiment.seed`` is None a 63-bit seed is
    drawn from the OS and recorded in the plan (and in the returned plan's experiment)."""
    seed = experiment.seed
    if seed is None:
        seed = secrets.randbits(63)
        experiment = experiment.with_(seed=seed)
    if seed >= 2**63:
        raise ExperimentError(f"experiment seed must be below 2**63, got {seed}")
    grid_points: list[dict[str, Any]] = [dict(zip(experiment.grid, combo))
                                         for combo in itertools.product(*experiment.grid.values())]
    if experiment.sample is not None:
        design = sample_design(experiment.sample, np.random.SeedSequence(seed, spawn_key=(_DESIGN_BRANCH,)))
        points = [{**g, **s} for g in grid_points for s in design]
    else:
        points = grid_points
    reps = experiment.replications
    runs = []
    for p, params in enumerate(points):
        for r in range(reps):
            key = (_RUN_BRANCH, r) if experiment.seeding == "common" else (_RUN_BRANCH, p, r)
            runs.append(RunSpec(_run_id(p, r, len(points), reps), p, r, params, run_seed(seed, key), key))
    return Plan(experiment=experiment, seed=seed, points=tuple(points), runs=tuple(runs))
