"""A small stand-in run function for the experiment machinery's tests.

It follows the run-function contract of ``dtao.experiment.runner`` (scenario source, overrides,
seed=, days=, blocks=, out_dir=, record_plots=) -> summary, on the real chain runtime: a synthetic
network driven by one random trader, recorded to Parquet.  It is a test double, injected through
``run_sweep(run_fn=...)``; shipped sweeps use ``dtao.scenario`` + ``dtao.sim``.

Overrides understood: ``chain.<ChainParams field>``, ``net.n_subnets``.
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from dtao.chain.coinbase import block_step, root_proportion
from dtao.chain.errors import ChainError
from dtao.chain.params import ChainParams
from dtao.chain.staking import add_stake
from dtao.scenario.initial import synthetic

_CHAIN = {f.name for f in fields(ChainParams)}


def validate(source: str, overrides: Mapping[str, Any]) -> None:
    for k, v in overrides.items():
        sect, _, name = k.partition(".")
        if sect == "chain":
            if name not in _CHAIN:
                raise KeyError(f"unknown chain parameter {name!r}")
            ChainParams().with_(**{name: v})
        elif k != "net.n_subnets":
            raise KeyError(f"unknown override {k!r}")


def run(source: str, overrides: Mapping[str, Any], *, seed: int, days: float | None, blocks: int | None,
        out_dir: Path, record_plots: bool) -> dict[str, Any]:
    validate(source, overrides)
    rng = np.random.default_rng(seed)
    n_sub = int(overrides.get("net.n_subnets", 3))
    state = synthetic(rng, n_subnets=n_sub, n_uids=8, n_validators=2, pool_tao=100.0)
    chain = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("chain.")}
    if chain:
        state.params = state.params.with_(**chain)
    n_blocks = blocks if blocks is not None else int(round((days if days is not None else 0.05) * 7200))
    trader = state.new_coldkey(1000.0)
    hk = state.new_hotkey(trader)
    rows, events = [], []
    q = rng.random(n_sub + 1)
    for b in range(n_blocks):
        if rng.random() < 0.3:
            nu = int(rng.integers(1, n_sub + 1))
            try:
                add_stake(state, trader, hk, nu, float(rng.uniform(0.5, 2.0)))
                events.append({"block": state.block, "kind": "stake", "netuid": nu, "detail": ""})
            except ChainError:
                pass
        block_step(state)
        if b % 20 == 0 or b == n_blocks - 1:
            ids = state.subnet_netuids
            price = state.spot_price()[ids]
            rp = root_proportion(state, ids)
            for i, nu in enumerate(ids):
                rows.append({"block": state.block, "day": state.block / 7200.0, "netuid": int(nu),
                             "price": float(price[i]), "moving_price": float(state.moving_price[nu]),
                             "tao_reserve": float(state.tao_reserve[nu]), "alpha_reserve": float(state.alpha_reserve[nu]),
                             "alpha_out": float(state.alpha_out[nu]), "emission_share": float(state.emission_share[nu]),
                             "tao_in": float(state.tao_in_emission[nu]), "alpha_in": float(state.alpha_in_emission[nu]),
                             "root_proportion": float(rp[i]),
                             "market_cap": float(price[i] * state.alpha_issuance()[nu])})
    sub = pd.DataFrame(rows)
    sub.to_parquet(out_dir / "subnets.parquet", index=False)
    pd.DataFrame(events, columns=["block", "kind", "netuid", "detail"]).to_parquet(out_dir / "events.parquet",
                                                                                 index=False)
    price_now = state.spot_price()
    val = sum(state.position_value(trader, h, n) * float(price_now[n]) for (h, n, _) in state.positions_of(trader))
    pd.DataFrame({"day": [0.0, n_blocks / 7200.0], "population": ["trader", "trader"],
                  "tao_value": [1000.0, float(state.balance[trader]) + val], "pnl_tao": [0.0, 0.0]}) \
        .to_parquet(out_dir / "agents.parquet", index=False)
    last = sub[sub.block == sub.block.max()]
    summary = {"days": n_blocks / 7200.0, "blocks": n_blocks, "seed": seed,
               "final_total_issuance": float(state.total_issuance), "n_subnets": n_sub,
               "root_proportion_mean_final": float(last.root_proportion.mean()),
               "root_stakers_apy": None, "h2e_emission_share_max": float(last.emission_share.max()),
               "h2e_emission_share_mean": float(sub.emission_share.mean()),
               "attacker_profit_tao": float(state.balance[trader] - 1000.0),
               "quality_emission_corr": float(np.corrcoef(q[1:], last.emission_share)[0, 1])
               if n_sub > 1 and last.emission_share.std() > 0 else None,
               "price_peak_ratio": float(sub.price.max() / sub.price.iloc[0]), "price_drop_after_intervention": None}
    (out_dir / "summary.json").write_text(json.dumps(summary))
    (out_dir / "metadata.json").write_text(json.dumps({"seed": seed, "overrides": dict(overrides)}))
    return summary
