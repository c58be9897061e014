"""PNG plots of a run (matplotlib, Agg backend): price paths, emission shares, root proportion and
population PnL."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dtao.sim.recorder import Recorder


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _highlight(rec: Recorder, highlight: dict[int, str]) -> list[int]:
    return [nu for nu in highlight if nu < rec.cap and rec.exists[: rec.n, nu].any()]


def plot_all(rec: Recorder, out_dir: Path, title: str, highlight: dict[int, str],
             interventions: list[tuple[int, int]]) -> list[str]:
    """Write prices.png, emission_shares.png, root_proportion.png, population_pnl.png; return names."""
    plt = _plt()
    n = rec.n
    if n < 2:
        return []
    days = rec.days()
    ids = np.flatnonzero(rec.exists[:n].any(axis=0))
    hl = _highlight(rec, highlight)
    t_int = [(b - rec.start) / 7200 for b, _ in interventions]
    files = []

    def finish(fig, ax, name: str, ylabel: str, subtitle: str) -> None:
        ax.set_xlabel("day since start (7200 blocks/day)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}: {subtitle}")
        for t in t_int:
            ax.axvline(t, color="crimson", ls="--", lw=1, label="intervention")
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            uniq = dict(zip(labels, handles))
            ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="best")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        files.append(name)

    # prices
    fig, ax = plt.subplots(figsize=(9, 5))
    for nu in ids:
        if nu in hl:
            continue
        ax.plot(days, rec.series("price", nu), color="0.6", lw=0.6, alpha=0.6)
    ax.plot([], [], color="0.6", lw=0.6, label="other subnets")
    for nu in hl:
        ax.plot(days, rec.series("price", nu), lw=2, label=f"SN{nu} ({highlight[nu]})")
    ax.set_yscale("log")
    finish(fig, ax, "prices.png", "spot price (TAO per alpha, log scale)", "alpha price paths")
    # emission shares
    fig, ax = plt.subplots(figsize=(9, 5))
    for nu in ids:
        if nu in hl:
            continue
        ax.plot(days, rec.series("emission_share", nu), color="0.6", lw=0.6, alpha=0.6)
    ax.plot([], [], color="0.6", lw=0.6, label="other subnets")
    for nu in hl:
        ax.plot(days, rec.series("emission_share", nu), lw=2, label=f"SN{nu} ({highlight[nu]})")
    finish(fig, ax, "emission_shares.png", "share of block TAO emission", "emission shares")
    # root proportion
    fig, ax = plt.subplots(figsize=(9, 5))
    rp = np.where(rec.exists[:n][:, ids], rec.sub["root_proportion"][:n][:, ids], np.nan)
    rp = np.where(rec.sub["started"][:n][:, ids] > 0, rp, np.nan)
    if np.isfinite(rp).any():
        lo, med, hi = (np.nanpercentile(rp, q, axis=1) * 100 for q in (5, 50, 95))
        ax.fill_between(days, lo, hi, alpha=0.25, label="5-95% of subnets")
        ax.plot(days, med, lw=2, label="median subnet")
    for nu in hl:
        ax.plot(days, rec.series("root_proportion", nu) * 100, lw=1.5, label=f"SN{nu} ({highlight[nu]})")
    ax.set_ylim(0, 100)
    finish(fig, ax, "root_proportion.png", "root proportion (%)", "root proportion tw*R/(tw*R + alpha issuance)")
    # population pnl, liquid-valued: each alpha position priced at what selling it into its pool
    # would fetch (spot valuation of thin pools spikes by orders of magnitude on a single trade)
    fig, ax = plt.subplots(figsize=(9, 5))
    for j, p in enumerate(rec.pops):
        y = rec.agent["pnl_liquid_tao"][:n, j]
        if p.coldkeys.size and np.isfinite(y).any():
            ax.plot(days, y, lw=1.5, label=f"{p.name} ({p.kind})")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_yscale("symlog", linthresh=1.0)
    finish(fig, ax, "population_pnl.png", "PnL (TAO, liquid value: positions sold into their pools; symlog scale)", "population PnL (pnl_liquid_tao)")
    return files
