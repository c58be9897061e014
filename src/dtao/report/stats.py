"""Statistics over replications: means, 95% confidence intervals and quantile bands by group.

A "band over seeds" is the spread of a metric across the replications of one parameter point (10th
to 90th percentile); the confidence interval is Student's t interval of the mean.  Paired
differences compare two groups run by run on the same seed (``seeding = "common"``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

#: the questions the mechanism comparison answers: summary metric -> (question, unit)
QUESTIONS: dict[str, tuple[str, str]] = {
    "h2e_emission_share_mean": ("Share of emission captured by the hold-to-earn subnet", "share of block emission"),
    "attacker_profit_tao": ("Attacker's profit", "TAO"),
    "quality_emission_corr": ("Correlation of subnets' latent quality with their emission share", "Spearman rank correlation"),
    "root_stakers_apy": ("Root stakers' yield", "APY (fraction per year)"),
}

#: units and meaning of summary metrics, for tables and axis titles
METRIC_INFO: dict[str, tuple[str, str]] = {
    **QUESTIONS,
    "h2e_emission_share_max": ("Peak emission share of the hold-to-earn subnet", "share of block emission"),
    "root_proportion_mean_final": ("Root proportion at the end (mean over subnets)", "fraction"),
    "final_total_issuance": ("Total TAO issuance at the end", "TAO"),
    "price_peak_ratio": ("Peak price over starting price", "ratio"),
    "price_drop_after_intervention": ("Price drop after the intervention", "fraction"),
    "days": ("Horizon", "days"),
    "blocks": ("Horizon", "blocks"),
    "n_subnets": ("Subnets", "count"),
}


def metric_label(name: str) -> str:
    """Axis/table label of a metric: its meaning and unit when known."""
    info = METRIC_INFO.get(name)
    return f"{info[0]} ({info[1]})" if info else name


@dataclass(frozen=True)
class Summary:
    """Spread of a metric over the runs of one group."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    q10: float
    q50: float
    q90: float
    lo: float
    hi: float


def summarize(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Summary:
    """Mean, t-interval of the mean at ``level``, 10/50/90th percentiles, min and max of the finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    if n > 1:
        half = float(_st.t.ppf(0.5 + level / 2, n - 1) * std / np.sqrt(n))
    else:
        half = float("nan")
    q10, q50, q90 = (float(x) for x in np.quantile(v, [0.1, 0.5, 0.9]))
    return Summary(n, mean, std, mean - half, mean + half, q10, q50, q90, float(v.min()), float(v.max()))


def group_summary(df: pd.DataFrame, by: str | list[str], metric: str) -> pd.DataFrame:
    """One row per group with the :class:`Summary` fields of ``metric`` (groups in sorted order)."""
    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    for gkey, g in df.groupby(keys, sort=True, dropna=False):
        s = summarize(pd.to_numeric(g[metric], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
        gvals = gkey if isinstance(gkey, tuple) else (gkey,)
        rows.append({**dict(zip(keys, gvals)), **s.__dict__})
    return pd.DataFrame(rows)


def paired_difference(df: pd.DataFrame, group_col: str, metric: str, baseline: object,
                      pair_cols: Sequence[str] = ("seed",)) -> pd.DataFrame:
    """Per group, the metric minus the baseline group's in the run with the same ``pair_cols`` (the
    same seed, and the same values of any other varied parameter): mean and 95% t-interval of the
    differences, and how many pairs there were."""
    keys = list(pair_cols)
    base = df[df[group_col] == baseline].set_index(keys)[metric]
    rows = []
    for g, sub in df[df[group_col] != baseline].groupby(group_col, sort=True):
        s = sub.set_index(keys)[metric]
        common = s.index.intersection(base.index)
        d = pd.to_numeric(s.loc[common], errors="coerce") - pd.to_numeric(base.loc[common], errors="coerce")
        sm = summarize(d.to_numpy(dtype=np.float64, na_value=np.nan))
        rows.append({group_col: g, "n_pairs": sm.n, "mean_diff": sm.mean, "ci_low": sm.ci_low, "ci_high": sm.ci_high})
    return pd.DataFrame(rows)


def numeric_metric_columns(runs: pd.DataFrame, exclude: set[str]) -> list[str]:
    """Summary-metric columns of a runs table that hold numbers for at least one run."""
    skip = exclude | {"run_id", "point_id", "replication", "status", "seed", "seed_entropy", "seed_spawn_key",
                      "params", "wall_s", "started_at", "finished_at", "executor", "worker", "error", "traceback"}
    out = []
    for c in runs.columns:
        if c in skip:
            continue
        col = pd.to_numeric(runs[c], errors="coerce")
        if col.notna().any() and runs[c].map(lambda x: isinstance(x, (int, float, np.number)) or x is None).all():
            out.append(c)
    return out
