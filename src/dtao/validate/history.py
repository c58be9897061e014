"""The real 2025 dTAO record shipped with dtao (``dtao/data/history``), loaded and put on the
simulator's clock.

Clock: the launch block is :data:`LAUNCH_BLOCK` (4,920,000, 13 Feb 2025; the daily-stats table
puts 00:00 UTC of 20 Feb at block 4,964,237, 6.14 days of 7,200 blocks later).  A real block ``b``
is simulated block ``start + (b - LAUNCH_BLOCK)`` of a run that starts from the launch state, and
day ``(b - LAUNCH_BLOCK) / 7200`` since launch.

Price data come from alexlange1/alphamind-transparency (MIT licence, (c) 2024 Alphamind).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dtao.chain.units import BLOCKS_PER_DAY

#: mainnet block of the dTAO launch (v2.0.0 ``migrate_rao``), 13 Feb 2025
LAUNCH_BLOCK: int = 4_920_000
#: calendar date of the launch
LAUNCH_DATE: str = "2025-02-13"
#: number of subnets at launch (netuids 1-64)
LAUNCH_SUBNETS: int = 64
#: the attribution every shipped slice of the price data carries
ATTRIBUTION: str = ("Price data come from alexlange1/alphamind-transparency (MIT licence, (c) 2024 Alphamind)")

#: file name -> columns it must have
FILES: dict[str, tuple[str, ...]] = {
    "subnet_price_daily_stats_2025.csv": (
        "date", "block", "n_subnets", "n_price_lt_1", "n_price_ge_1", "sum_prices_all", "sum_prices_lt_1",
        "top_netuid", "top_price", "top10_share_of_sum_lt_1", "hhi_price_share_lt_1", "effective_n_subnets"),
    "sn28_price_2025-02-24_to_26_10min.csv": (
        "utc_time", "block", "sn28_price_tao_per_alpha", "sn28_price_rank", "n_subnets_price_lt_1"),
    "sn28_daily_midnight_price_2025.csv": ("date", "block", "sn28_price_tao_per_alpha"),
    "root_proportion_official_curve_digitized.csv": (
        "day_since_launch", "root_prop_pct_digitized", "alpha_prop_pct_digitized", "formula_root_prop_pct_R5M",
        "formula_root_prop_pct_R6M"),
    "subnet_registrations_post_dtao_2025.csv": ("netuid", "block", "date", "registration_cost_tao"),
    "timeline.csv": ("date", "event", "confidence", "source"),
}
PARAMS_FILE = "chain_params_at_launch.json"


class HistoryDataError(ValueError):
    """A history slice is missing or malformed; the message names the file and the problem."""


def history_dir() -> Path:
    """Folder of the shipped history slices (package data ``dtao/data/history``)."""
    return Path(str(resources.files("dtao") / "data" / "history"))


def day_of_block(block: Any) -> Any:
    """Days since launch of a mainnet block (7,200 blocks a day); float for a scalar, array for an array."""
    d = (np.asarray(block, np.float64) - LAUNCH_BLOCK) / BLOCKS_PER_DAY
    return float(d) if d.ndim == 0 else d


def offset_of_block(block: int) -> int:
    """Blocks after the launch (= blocks after the start of a launch-state run) of a mainnet block."""
    return int(block) - LAUNCH_BLOCK


@dataclass(frozen=True)
class History:
    """The real record, one table per slice (``day`` = days since launch, from each row's block).

    * ``daily``: one row per day 2025-02-20 .. 2025-10-29 at 00:00 UTC: ``date, block, day,
      n_subnets, n_price_lt_1, n_price_ge_1, sum_prices_lt_1`` (sum of spot prices of pools priced
      below 1 TAO/alpha, i.e. started subnets), ``top10_share`` and ``effective_n`` of those prices.
    * ``sn28``: SN28 every 10 minutes, 24-26 Feb 2025: ``time, block, day, price, rank``.
    * ``sn28_daily``: SN28 at 00:00 UTC each day: ``date, block, day, price``.
    * ``root_curve``: the official root-proportion curve: ``day, root_prop`` (fraction, digitised
      +-1 pp), ``formula_5m``, ``formula_6m`` (fractions, closed form for R = 5M / 6M TAO).
    * ``registrations``: SN65-SN128: ``netuid, block, day, date, lock_tao``.
    * ``timeline``: dated protocol changes: ``date, event, confidence, source``.
    * ``params``: ``chain_params_at_launch.json`` as a dict.
    """

    daily: pd.DataFrame
    sn28: pd.DataFrame
    sn28_daily: pd.DataFrame
    root_curve: pd.DataFrame
    registrations: pd.DataFrame
    timeline: pd.DataFrame
    params: dict[str, Any]
    folder: Path

    # ------------------------------------------------------------------------------ clock helpers
    def block_of_date(self, date: str) -> int:
        """Mainnet block at 00:00 UTC of ``date`` (YYYY-MM-DD): from the daily table where it has
        the date, else extrapolated at 7,200 blocks a day from its nearest row."""
        ts = pd.Timestamp(date)
        d = self.daily
        hit = d.index[d["date"] == ts]
        if len(hit):
            return int(d.loc[hit[0], "block"])
        k = int(np.argmin(np.abs((d["date"] - ts).dt.days.to_numpy())))
        return int(d["block"].iloc[k] + (ts - d["date"].iloc[k]).days * BLOCKS_PER_DAY)

    def block_of_time(self, when: str) -> int:
        """Mainnet block at a UTC time ``YYYY-MM-DD HH:MM`` (00:00 block of the day + 600 blocks an hour)."""
        ts = pd.Timestamp(when)
        base = self.block_of_date(ts.strftime("%Y-%m-%d"))
        return int(base + round((ts - ts.normalize()).total_seconds() / 12.0))

    def day_of_date(self, date: str) -> float:
        """Days since launch at 00:00 UTC of ``date``."""
        return float(day_of_block(self.block_of_date(date)))

    def daily_between(self, first: str, last: str) -> pd.DataFrame:
        """Rows of the daily table with ``first <= date <= last``."""
        d = self.daily
        return d[(d["date"] >= pd.Timestamp(first)) & (d["date"] <= pd.Timestamp(last))]

    def start_call_wait_days(self, first: str = "2025-04-05", last: str = "2025-06-25") -> float:
        """Mean days from registration to ``start_call`` after start_call existed, by Little's law on
        the record: mean number of not-yet-started pools (priced >= 1 TAO) over ``first..last``
        divided by the registration rate (per day) over the same window."""
        w = self.daily_between(first, last)
        r = self.registrations
        days = (pd.Timestamp(last) - pd.Timestamp(first)).days + 1
        n = int(((r["date"] >= pd.Timestamp(first)) & (r["date"] <= pd.Timestamp(last))).sum())
        if n == 0 or w.empty:
            raise HistoryDataError(f"no registrations or daily rows between {first} and {last}")
        return float(w["n_price_ge_1"].mean() / (n / days))


def _read_csv(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    if not path.is_file():
        raise HistoryDataError(f"history slice {name} not found in {folder}")
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise HistoryDataError(f"history slice {name}: cannot read ({exc})") from None
    missing = [c for c in FILES[name] if c not in df.columns]
    if missing:
        raise HistoryDataError(f"history slice {name}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise HistoryDataError(f"history slice {name}: no rows")
    return df


def _finite(df: pd.DataFrame, name: str, cols: list[str]) -> None:
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64)
        if not np.all(np.isfinite(v)):
            bad = int(np.flatnonzero(~np.isfinite(v))[0])
            raise HistoryDataError(f"history slice {name}: column {c} row {bad + 2} is not a number")


def load_history(folder: str | Path | None = None) -> History:
    """Load every slice from ``folder`` (default: the shipped copies); HistoryDataError naming the
    file and the problem if one is missing or malformed."""
    folder = history_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        raise HistoryDataError(f"history folder {folder} not found")
    raw = {name: _read_csv(folder, name) for name in FILES}

    d = raw["subnet_price_daily_stats_2025.csv"]
    _finite(d, "subnet_price_daily_stats_2025.csv", ["block", "n_subnets", "sum_prices_lt_1",
                                                     "top10_share_of_sum_lt_1", "effective_n_subnets"])
    daily = pd.DataFrame({
        "date": pd.to_datetime(d["date"]), "block": d["block"].astype(np.int64),
        "n_subnets": d["n_subnets"].astype(np.int64), "n_price_lt_1": d["n_price_lt_1"].astype(np.int64),
        "n_price_ge_1": d["n_price_ge_1"].astype(np.int64), "sum_prices_lt_1": d["sum_prices_lt_1"].astype(float),
        "top10_share": d["top10_share_of_sum_lt_1"].astype(float),
        "effective_n": d["effective_n_subnets"].astype(float)})
    daily["day"] = day_of_block(daily["block"].to_numpy())
    if not np.all(np.diff(daily["block"].to_numpy()) > 0):
        raise HistoryDataError("history slice subnet_price_daily_stats_2025.csv: blocks are not increasing")

    s = raw["sn28_price_2025-02-24_to_26_10min.csv"]
    _finite(s, "sn28_price_2025-02-24_to_26_10min.csv", ["block", "sn28_price_tao_per_alpha"])
    sn28 = pd.DataFrame({"time": pd.to_datetime(s["utc_time"]), "block": s["block"].astype(np.int64),
                         "price": s["sn28_price_tao_per_alpha"].astype(float),
                         "rank": s["sn28_price_rank"].astype(np.int64)})
    sn28["day"] = day_of_block(sn28["block"].to_numpy())

    s2 = raw["sn28_daily_midnight_price_2025.csv"]
    _finite(s2, "sn28_daily_midnight_price_2025.csv", ["block", "sn28_price_tao_per_alpha"])
    sn28_daily = pd.DataFrame({"date": pd.to_datetime(s2["date"]), "block": s2["block"].astype(np.int64),
                               "price": s2["sn28_price_tao_per_alpha"].astype(float)})
    sn28_daily["day"] = day_of_block(sn28_daily["block"].to_numpy())

    c = raw["root_proportion_official_curve_digitized.csv"]
    _finite(c, "root_proportion_official_curve_digitized.csv", ["day_since_launch", "root_prop_pct_digitized"])
    root_curve = pd.DataFrame({"day": c["day_since_launch"].astype(float),
                               "root_prop": c["root_prop_pct_digitized"].astype(float) / 100.0,
                               "formula_5m": c["formula_root_prop_pct_R5M"].astype(float) / 100.0,
                               "formula_6m": c["formula_root_prop_pct_R6M"].astype(float) / 100.0})

    r = raw["subnet_registrations_post_dtao_2025.csv"]
    _finite(r, "subnet_registrations_post_dtao_2025.csv", ["netuid", "block", "registration_cost_tao"])
    regs = pd.DataFrame({"netuid": r["netuid"].astype(np.int64), "block": r["block"].astype(np.int64),
                         "date": pd.to_datetime(r["date"]), "lock_tao": r["registration_cost_tao"].astype(float)})
    regs["day"] = day_of_block(regs["block"].to_numpy())
    if not np.all(np.diff(regs["block"].to_numpy()) > 0):
        raise HistoryDataError("history slice subnet_registrations_post_dtao_2025.csv: blocks are not increasing")
    if (regs["lock_tao"] <= 0).any():
        raise HistoryDataError("history slice subnet_registrations_post_dtao_2025.csv: a lock cost is not positive")

    timeline = raw["timeline.csv"].copy()
    ppath = folder / PARAMS_FILE
    if not ppath.is_file():
        raise HistoryDataError(f"history slice {PARAMS_FILE} not found in {folder}")
    try:
        params = json.loads(ppath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HistoryDataError(f"history slice {PARAMS_FILE}: cannot read ({exc})") from None
    return History(daily=daily, sn28=sn28, sn28_daily=sn28_daily, root_curve=root_curve, registrations=regs,
                   timeline=timeline, params=params, folder=folder)


def price_concentration(prices: np.ndarray) -> tuple[float, float, float, int]:
    """(sum, top-10 share, effective N, count) of the prices below 1 TAO/alpha, as the daily table
    computes them: shares ``s = p / sum(p)``, top-10 share = sum of the 10 largest ``s``, effective
    N = ``1 / sum(s^2)``.  NaN for an empty set."""
    p = np.asarray(prices, np.float64)
    p = p[(p < 1.0) & (p > 0.0)]
    if p.size == 0:
        return 0.0, math.nan, math.nan, 0
    tot = float(p.sum())
    s = p / tot
    top = float(np.sort(s)[::-1][:10].sum())
    return tot, top, float(1.0 / np.sum(s * s)), int(p.size)
