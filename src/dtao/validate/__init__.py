"""dtao.validate: does the simulator reproduce the real 2025 history?

* :mod:`~dtao.validate.history` loads the real record shipped in ``dtao/data/history`` and puts
  it on the simulator's clock;
* :mod:`~dtao.validate.events` holds the observer that samples the network figures of the facts
  (the timeline itself is in the scenario file ``launch-2025-history``);
* :mod:`~dtao.validate.run` runs the ``launch-2025-history`` scenario for one or several seeds;
* :mod:`~dtao.validate.facts` defines the checked stylised facts with their bands;
* :mod:`~dtao.validate.table` aggregates seeds into the validation table;
* :mod:`~dtao.validate.plots` draws simulated-against-real overlays;
* :mod:`~dtao.validate.calibrate` fits agent parameters with scipy over seed-averaged objectives.

Price data come from alexlange1/alphamind-transparency (MIT licence, (c) 2024 Alphamind).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from dtao.validate.history import ATTRIBUTION, History, HistoryDataError, load_history
from dtao.validate.run import SCENARIO, SeedRun, replicate_seeds, run_history, run_seeds
from dtao.validate.table import FactResult, Validation, evaluate

__all__ = ["ATTRIBUTION", "History", "HistoryDataError", "load_history", "SCENARIO", "SeedRun", "replicate_seeds",
           "run_history", "run_seeds", "FactResult", "Validation", "evaluate", "validate", "write_outputs"]


def validate(*, seeds: int = 3, base_seed: int | None = None, days: float | None = None, jobs: int | None = None,
             overrides: Mapping[str, Any] | None = None, history_folder: str | Path | None = None,
             keep_runs: Path | None = None) -> Validation:
    """Run the history scenario for ``seeds`` seeds spawned from ``base_seed`` (default: the
    scenario's seed) over ``days`` (default: its 300-day horizon) and evaluate every fact."""
    from dtao.validate.run import history_scenario

    history = load_history(history_folder)
    if base_seed is None:
        base_seed = history_scenario(overrides).seed
    seed_list = replicate_seeds(int(base_seed), int(seeds))
    runs = run_seeds(seed_list, days=days, overrides=overrides, jobs=jobs, history_folder=history_folder,
                     out_dir=keep_runs)
    return evaluate(runs, history, dict(overrides or {}))


def write_outputs(v: Validation, out: Path, history: History | None = None, plots: bool = True) -> list[str]:
    """Write the table (validation.json/.csv/.md), each seed's probe samples (probes/seed-N.parquet)
    and the overlay plots into ``out``; returns the file names written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    (out / "validation.json").write_text(json.dumps(v.to_json(), indent=2, allow_nan=False))
    v.frame().to_csv(out / "validation.csv", index=False)
    (out / "validation.md").write_text(
        f"# Validation against the 2025 record\n\n{len(v.seeds)} seed(s), {v.days:g} days; "
        f"{v.n_pass} pass, {v.n_fail} fail.\n\n" + v.markdown() + f"\n{ATTRIBUTION}.\n")
    files += ["validation.json", "validation.csv", "validation.md"]
    (out / "probes").mkdir(exist_ok=True)
    for r in v.runs:
        r.probe.to_parquet(out / "probes" / f"seed-{r.seed}.parquet", index=False)
        files.append(f"probes/seed-{r.seed}.parquet")
    if plots and v.runs:
        from dtao.validate.plots import plot_all

        files += plot_all(v.runs, history or load_history(), out)
    return files
