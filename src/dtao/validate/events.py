"""The observer of a history run: :class:`HistoryProbe` samples, at given blocks, the network
figures the stylised facts are about (sum, top-10 share and effective N of prices below 1 TAO,
subnet count, root proportion of the launch subnets, one watched subnet's price, rank and emission
share).  It submits nothing and holds nothing, and the driver keeps it out of the market's random
order, so a validation run is the scenario's run exactly.

What the real timeline did (registrations with their recorded locks, the per-subnet slow-start
settings, the v2.0.9 migration, start calls) is in the scenario file itself: ``register_network``,
``set_hyper`` (over netuid ranges) and ``first_emission_migration`` events and the ``registrants``
population (:mod:`dtao.agents.newsubnets`).  Blocks are simulated blocks.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from dtao.agents.base import MarketView, Population, PopulationConfig, SetupContext, World
from dtao.chain.coinbase import root_proportion
from dtao.chain.state import ChainState
from dtao.chain.units import BLOCKS_PER_DAY
from dtao.validate.history import price_concentration

# ------------------------------------------------------------------------------------- the probe
PROBE_COLUMNS: tuple[str, ...] = (
    "target", "block", "day", "sum_lt1", "top10_share", "effective_n", "n_lt1", "n_subnets", "root_prop_launch",
    "root_tao", "total_issuance", "pool_tao", "watch_price", "watch_share", "watch_moving_price", "watch_rank")


class HistoryProbeConfig(PopulationConfig):
    kind: Literal["history_probe"] = "history_probe"
    count: int = Field(0, ge=0)
    cadence_blocks: int = Field(60, ge=1, description="blocks between looks (a sample lands within one cadence after its block)")
    watch_netuid: int = Field(28, ge=1, description="the subnet whose price, rank and emission share are sampled")
    launch_netuids: int = Field(64, ge=1, description="root proportion is averaged over netuids 1..launch_netuids")


class HistoryProbe(Population):
    """An observer: at each requested block (blocks after the start) it samples the network figures
    of the stylised facts.  Submits no extrinsic and holds nothing."""

    kind = "history_probe"
    Config = HistoryProbeConfig
    config: HistoryProbeConfig
    #: it only reads: the driver keeps it out of the market's random order, so attaching it
    #: changes no other population's draws
    market_neutral = True

    def __init__(self, name: str, config: HistoryProbeConfig, rng: np.random.Generator,
                 sample_offsets: np.ndarray) -> None:
        super().__init__(name, config, rng)
        self.offsets = np.unique(np.asarray(sample_offsets, np.int64))
        self.rows: list[tuple[float, ...]] = []
        self.i = 0

    def first_offset(self, state: ChainState) -> int:
        return 0

    def setup(self, ctx: SetupContext) -> None:
        self.start = ctx.start_block

    def sample(self, state: ChainState) -> tuple[float, ...]:
        """The figures now (:data:`PROBE_COLUMNS` after ``target``, the requested block; prices
        TAO/alpha, amounts TAO)."""
        c = self.config
        ids = state.subnet_netuids
        price = np.asarray(state.spot_price(), np.float64)
        tot, top, eff, n_lt1 = price_concentration(price[ids])
        launch = ids[ids <= c.launch_netuids]
        rp = root_proportion(state, launch)
        w = c.watch_netuid
        if w < state.n_subnets_cap and state.exists[w]:
            wp, ws, wm = float(price[w]), float(state.emission_share[w]), float(state.moving_price[w])
            wr = float(1 + int((price[ids] > wp).sum()))
        else:
            wp = ws = wm = wr = float("nan")
        return (float(state.block - self.start), (state.block - self.start) / BLOCKS_PER_DAY, tot, top, eff,
                float(n_lt1), float(ids.size), float(rp.mean()) if rp.size else float("nan"),
                float(state.tao_reserve[0]), float(state.total_issuance), float(state.tao_reserve[ids].sum()),
                wp, ws, wm, wr)

    def flush(self, state: ChainState) -> None:
        """Take the samples due by now that no round reached (those within the run's last cadence)."""
        self.act(state, None, None)  # type: ignore[arg-type]

    def act(self, state: ChainState, market: MarketView, world: World) -> None:
        due = self.start + self.offsets
        while self.i < due.size and due[self.i] <= state.block:
            self.rows.append((float(self.offsets[self.i]),) + self.sample(state))
            self.i += 1
