"""Recording a run: preallocated arrays filled every ``record_every`` blocks, written to Parquet at
the end.  Column names are an interface (docs/scenarios.md); amounts are TAO units (alpha for
alpha quantities), prices TAO per alpha."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dtao.agents import Population, World
from dtao.chain.block_emission import block_emission_for_issuance
from dtao.chain.coinbase import emitting_subnets, root_proportion
from dtao.chain.subnet_emissions import subnet_emission_shares
from dtao.chain.state import ROOT, ChainState
from dtao.chain.units import BLOCKS_PER_DAY

#: per (recorded step, subnet) columns besides block/day/netuid, in file order
SUBNET_COLUMNS: tuple[str, ...] = (
    "price", "moving_price", "tao_reserve", "alpha_reserve", "alpha_out", "alpha_issuance", "emission_share",
    "tao_in", "alpha_in", "alpha_out_emission", "root_proportion", "market_cap", "stake_tao", "volume", "price_rank",
    "quality", "started")
#: per (recorded step, population) numeric columns
AGENT_COLUMNS: tuple[str, ...] = (
    "agents", "free_tao", "root_tao", "alpha_value_tao", "value_tao", "liquid_value_tao", "pnl_tao", "pnl_liquid_tao",
    "main_alpha", "orders", "rejected")
#: per recorded step network columns
NETWORK_COLUMNS: tuple[str, ...] = (
    "total_issuance", "root_tao", "sum_prices", "sum_prices_started", "n_subnets", "n_started", "block_emission",
    "root_proportion_mean")


class Recorder:
    """Fills preallocated arrays at each recorded step."""

    def __init__(self, state: ChainState, populations: list[Population], n_rows: int, start_block: int,
                 headroom: int = 0) -> None:
        self.start = start_block
        self.n_rows = n_rows
        self.cap = state.n_subnets_cap + headroom
        self.row = 0
        self.block = np.zeros(n_rows, np.int64)
        self.sub = {c: np.full((n_rows, self.cap), np.nan) for c in SUBNET_COLUMNS}
        self.exists = np.zeros((n_rows, self.cap), bool)
        self.pops = populations
        self.agent = {c: np.full((n_rows, len(populations)), np.nan) for c in AGENT_COLUMNS}
        self.net = {c: np.full(n_rows, np.nan) for c in NETWORK_COLUMNS}

    def _grow(self, cap: int) -> None:
        extra = cap - self.cap
        for c in SUBNET_COLUMNS:
            self.sub[c] = np.concatenate([self.sub[c], np.full((self.n_rows, extra), np.nan)], axis=1)
        self.exists = np.concatenate([self.exists, np.zeros((self.n_rows, extra), bool)], axis=1)
        self.cap = cap

    def record(self, state: ChainState, world: World) -> None:
        if self.row >= self.n_rows:
            return
        r = self.row
        cap = state.n_subnets_cap
        if cap > self.cap:
            self._grow(cap)
        self.block[r] = state.block
        ex = state.exists.copy()
        ex[ROOT] = False
        price = np.asarray(state.spot_price(), np.float64)
        iss = state.alpha_issuance()
        rp = root_proportion(state)
        s = self.sub
        s["price"][r, :cap] = price
        s["moving_price"][r, :cap] = state.moving_price
        s["tao_reserve"][r, :cap] = state.tao_reserve
        s["alpha_reserve"][r, :cap] = state.alpha_reserve
        s["alpha_out"][r, :cap] = state.alpha_out
        s["alpha_issuance"][r, :cap] = iss
        share = state.emission_share
        if r == 0 and not share.any():  # before the first block: the share the rule gives now
            emit = emitting_subnets(state)
            share = np.zeros(cap)
            if emit.size:
                share[emit] = subnet_emission_shares(state, emit)
        s["emission_share"][r, :cap] = share
        s["tao_in"][r, :cap] = state.tao_in_emission
        s["alpha_in"][r, :cap] = state.alpha_in_emission
        s["alpha_out_emission"][r, :cap] = state.alpha_out_emission
        s["root_proportion"][r, :cap] = rp
        s["market_cap"][r, :cap] = price * iss
        s["stake_tao"][r, :cap] = price * state.alpha_out
        s["volume"][r, :cap] = state.volume
        ids = np.flatnonzero(ex)
        rank = np.zeros(cap)
        rank[ids[np.argsort(-price[ids], kind="stable")]] = np.arange(1, ids.size + 1)
        s["price_rank"][r, :cap] = rank
        s["quality"][r, :cap] = world.subnet_q(cap)
        s["started"][r, :cap] = (state.first_emission_block >= 0).astype(float)
        self.exists[r, :cap] = ex
        price_all = price.copy()
        price_all[ROOT] = 1.0
        for j, p in enumerate(self.pops):
            v = p.valuation(state, price_all)
            pnl, pnl_l = p.pnl(v)
            a = self.agent
            a["agents"][r, j] = p.coldkeys.size
            a["free_tao"][r, j] = v.free_tao
            a["root_tao"][r, j] = v.root_tao
            a["alpha_value_tao"][r, j] = v.alpha_value_tao
            a["value_tao"][r, j] = v.value_tao
            a["liquid_value_tao"][r, j] = v.liquid_value_tao
            a["pnl_tao"][r, j] = pnl
            a["pnl_liquid_tao"][r, j] = pnl_l
            a["main_alpha"][r, j] = v.main_alpha
            a["orders"][r, j] = p.orders
            a["rejected"][r, j] = sum(p.rejected.values())
        started = ex & (state.first_emission_block >= 0)
        self.net["total_issuance"][r] = state.total_issuance
        self.net["root_tao"][r] = state.tao_reserve[ROOT]
        self.net["sum_prices"][r] = float(price[ex].sum())
        self.net["sum_prices_started"][r] = float(price[started].sum())
        self.net["n_subnets"][r] = float(ex.sum())
        self.net["n_started"][r] = float(started.sum())
        self.net["block_emission"][r] = float(block_emission_for_issuance(state.total_issuance))
        self.net["root_proportion_mean"][r] = float(rp[started].mean()) if started.any() else np.nan
        self.row += 1

    # ------------------------------------------------------------------------------- accessors
    @property
    def n(self) -> int:
        return self.row

    def days(self) -> np.ndarray:
        return (self.block[: self.row] - self.start) / BLOCKS_PER_DAY

    def series(self, column: str, netuid: int) -> np.ndarray:
        """One subnet's recorded column over time (NaN where it did not exist)."""
        if netuid >= self.cap:
            return np.full(self.row, np.nan)
        x = self.sub[column][: self.row, netuid].copy()
        x[~self.exists[: self.row, netuid]] = np.nan
        return x

    # ------------------------------------------------------------------------------------ tables
    def subnets_table(self) -> pa.Table:
        r = self.row
        rows, cols = np.nonzero(self.exists[:r])
        data: dict[str, Any] = {
            "block": self.block[rows],
            "day": (self.block[rows] - self.start) / BLOCKS_PER_DAY,
            "netuid": cols.astype(np.int64),
        }
        for c in SUBNET_COLUMNS:
            v = self.sub[c][rows, cols]
            if c == "price_rank":
                v = v.astype(np.int64)
            elif c == "started":
                v = v.astype(bool)
            data[c] = v
        return pa.table(data)

    def agents_table(self) -> pa.Table:
        r, k = self.row, len(self.pops)
        rr = np.repeat(np.arange(r), k)
        jj = np.tile(np.arange(k), r)
        data: dict[str, Any] = {
            "block": self.block[rr],
            "day": (self.block[rr] - self.start) / BLOCKS_PER_DAY,
            "population": pa.array([self.pops[j].name for j in jj], pa.string()),
            "kind": pa.array([self.pops[j].kind for j in jj], pa.string()),
        }
        for c in AGENT_COLUMNS:
            v = self.agent[c][rr, jj]
            # NaN (e.g. main_alpha of a population without a main subnet) is written as null
            data[c] = v.astype(np.int64) if c in ("agents", "orders", "rejected") else pa.array(v, from_pandas=True)
        return pa.table(data)

    def network_table(self) -> pa.Table:
        r = self.row
        data: dict[str, Any] = {"block": self.block[:r], "day": self.days()}
        for c in NETWORK_COLUMNS:
            data[c] = pa.array(self.net[c][:r], from_pandas=True)
        data["n_subnets"] = self.net["n_subnets"][:r].astype(np.int64)
        data["n_started"] = self.net["n_started"][:r].astype(np.int64)
        return pa.table(data)


def events_table(events: list[tuple[int, str, int | None, str]], start_block: int) -> pa.Table:
    """events.parquet: one row per event (block, day, kind, netuid (null if none), detail JSON)."""
    return pa.table({
        "block": pa.array([e[0] for e in events], pa.int64()),
        "day": pa.array([(e[0] - start_block) / BLOCKS_PER_DAY for e in events], pa.float64()),
        "kind": pa.array([e[1] for e in events], pa.string()),
        "netuid": pa.array([e[2] for e in events], pa.int64()),
        "detail": pa.array([e[3] for e in events], pa.string()),
    })


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")
