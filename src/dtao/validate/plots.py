"""Overlay plots of the validation: simulated (median and min-max over seeds, each seed faint)
against the real record.  PNG files written with matplotlib's Agg backend."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dtao.validate.history import ATTRIBUTION, LAUNCH_BLOCK, History, day_of_block
from dtao.validate.run import SeedRun

REAL = "#111111"
SIM = "#1f77b4"


def _date_of_day(h: History, day: np.ndarray) -> pd.DatetimeIndex:
    """Calendar time of days since launch (anchored on the daily table's first 00:00 UTC row)."""
    t0 = h.daily["date"].iloc[0]
    d0 = float(h.daily["day"].iloc[0])
    return pd.DatetimeIndex(t0 + pd.to_timedelta(np.asarray(day, np.float64) - d0, unit="D"))


def _stack(runs: list[SeedRun], column: str, targets: np.ndarray) -> np.ndarray:
    """(seeds, targets) array of a probe column at the requested blocks (NaN where missing)."""
    out = np.full((len(runs), targets.size), np.nan)
    for i, r in enumerate(runs):
        s = r.probe.drop_duplicates("target").set_index("target")[column]
        out[i] = s.reindex(targets.astype(float)).to_numpy()
    return out


def _band(ax, x, Y: np.ndarray, label: str) -> None:
    ok = np.isfinite(Y).any(axis=0)
    if not ok.any():
        return
    x = np.asarray(x)[ok]
    Y = Y[:, ok]
    for row in Y:
        ax.plot(x, row, color=SIM, alpha=0.25, lw=0.6)
    with np.errstate(all="ignore"):
        ax.fill_between(x, np.nanmin(Y, axis=0), np.nanmax(Y, axis=0), color=SIM, alpha=0.15, lw=0)
        ax.plot(x, np.nanmedian(Y, axis=0), color=SIM, lw=1.6, label=label)


def _finish(fig, ax, path: Path, title: str, h: History) -> None:
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.text(0.01, 0.005, ATTRIBUTION, fontsize=6, color="#666666")
    fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=110)


def _daily_targets(h: History, runs: list[SeedRun]) -> np.ndarray:
    t = (h.daily["block"].to_numpy() - LAUNCH_BLOCK).astype(np.int64)
    horizon = max(int(r.probe["target"].max()) for r in runs)
    return t[t <= horizon]


def plot_all(runs: list[SeedRun], h: History, out: Path) -> list[str]:
    """Write the five overlay plots into ``out``; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = len(runs)
    lab = f"simulated (median, range over {n} seed{'s' if n != 1 else ''})"
    files = []
    # whole-day samples of the runs (for curves beyond the daily table)
    horizon = max(int(r.probe["target"].max()) for r in runs)
    whole = np.arange(0, horizon + 1, 7200)
    daily_t = _daily_targets(h, runs)
    x_daily_real = h.daily["date"]
    x_sim = _date_of_day(h, day_of_block(daily_t + LAUNCH_BLOCK))

    # 1. sum of prices
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.plot(x_daily_real, h.daily["sum_prices_lt_1"], color=REAL, lw=1.4, label="real (pools priced < 1 TAO)")
    early = whole[whole < (daily_t[0] if daily_t.size else horizon + 1)][1:]  # whole days before the table
    t_sum = np.concatenate([early, daily_t])
    _band(ax, _date_of_day(h, day_of_block(t_sum + LAUNCH_BLOCK)), _stack(runs, "sum_lt1", t_sum), lab)
    ax.set_ylabel("sum of started-subnet prices (TAO)")
    ax.set_ylim(0, max(3.0, float(np.nanmax(h.daily["sum_prices_lt_1"])) * 1.3))
    _finish(fig, ax, out / "sum_of_prices.png", "Sum of alpha prices (S1, S2)", h)
    plt.close(fig)
    files.append("sum_of_prices.png")

    # 2. concentration
    fig, axes = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True)
    for ax, col, real, ylab in ((axes[0], "top10_share", "top10_share", "top-10 share of price sum"),
                                (axes[1], "effective_n", "effective_n", "effective N (1/HHI)")):
        ax.plot(x_daily_real, h.daily[real], color=REAL, lw=1.4, label="real")
        _band(ax, x_sim, _stack(runs, col, daily_t), lab)
        ax.set_ylabel(ylab)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("Concentration of alpha prices (S3)", fontsize=10)
    fig.text(0.01, 0.005, ATTRIBUTION, fontsize=6, color="#666666")
    fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(out / "concentration.png", dpi=110)
    plt.close(fig)
    files.append("concentration.png")

    # 3. SN28 price path
    fig, ax = plt.subplots(figsize=(9, 4.2))
    lo, hi = h.block_of_date("2025-02-19"), h.block_of_date("2025-02-28")
    rd = h.sn28_daily[(h.sn28_daily["block"] >= lo) & (h.sn28_daily["block"] <= hi)]
    ax.plot(rd["date"], rd["price"], "o", color=REAL, ms=4, label="real, 00:00 UTC")
    ax.plot(h.sn28["time"], h.sn28["price"], color=REAL, lw=1.2, label="real, every 10 min")
    win = [r.probe[(r.probe["target"] >= lo - LAUNCH_BLOCK) & (r.probe["target"] <= hi - LAUNCH_BLOCK)]
           for r in runs]
    if any(len(w) for w in win):
        t = np.unique(np.concatenate([w["target"].to_numpy() for w in win]))
        _band(ax, _date_of_day(h, day_of_block(t + LAUNCH_BLOCK)), _stack(runs, "watch_price", t.astype(np.int64)), lab)
    ax.axvline(pd.Timestamp("2025-02-25 12:30"), color="#d62728", ls="--", lw=1, label="intervention")
    ax.set_yscale("log")
    ax.set_ylabel("SN28 price (TAO/alpha)")
    _finish(fig, ax, out / "sn28_price.png", "SN28 through the hold-to-earn pump and the intervention (S6)", h)
    plt.close(fig)
    files.append("sn28_price.png")

    # 4. root proportion
    fig, ax = plt.subplots(figsize=(9, 4.2))
    c = h.root_curve
    ax.plot(c["day"], c["root_prop"], color=REAL, lw=1.4, label="official curve (digitised)")
    ax.plot(c["day"], c["formula_5m"], color=REAL, lw=0.8, ls=":", label="closed form, R = 5M / 6M TAO")
    ax.plot(c["day"], c["formula_6m"], color=REAL, lw=0.8, ls=":")
    _band(ax, whole / 7200.0, _stack(runs, "root_prop_launch", whole), lab + ", launch subnets")
    ax.set_xlim(0, max(320.0, horizon / 7200.0 + 10))
    ax.set_xlabel("days since launch")
    ax.set_ylabel("root proportion")
    ax.set_title("Root proportion (S5)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "root_proportion.png", dpi=110)
    plt.close(fig)
    files.append("root_proportion.png")

    # 5. subnet count
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.step(x_daily_real, h.daily["n_subnets"], where="post", color=REAL, lw=1.4, label="real (daily dumps)")
    _band(ax, x_sim, _stack(runs, "n_subnets", daily_t), lab)
    ax.set_ylabel("subnets (excluding root)")
    _finish(fig, ax, out / "subnet_count.png", "Subnet count (S8)", h)
    plt.close(fig)
    files.append("subnet_count.png")
    return files
