"""Headline metrics of a run (``summary.json``).  Every key is documented in docs/scenarios.md;
keys that do not apply to a scenario are None (JSON null)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from dtao.agents import Population, World
from dtao.agents.supply import Entrants, HoldToEarn
from dtao.agents.validators import Foundation
from dtao.chain.state import ROOT, ChainState
from dtao.chain.units import BLOCKS_PER_DAY
from dtao.sim.recorder import Recorder

#: window after an intervention in which the price fall is measured (12 simulated hours)
INTERVENTION_WINDOW_BLOCKS: int = BLOCKS_PER_DAY // 2


def _f(x: Any) -> float | None:
    """A JSON-safe float (None for NaN/inf/None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def root_share_price(state: ChainState) -> tuple[np.ndarray, np.ndarray]:
    """(value per share, pool value) of every hotkey's root pool; value per share grows with the TAO
    dividends nominators receive (after the validator's take)."""
    V = state.hotkey_alpha[:, ROOT].copy()
    D = state.hotkey_shares[:, ROOT]
    return np.divide(V, D, out=np.zeros_like(V), where=D > 0), V


def root_apy(sp0: np.ndarray, v0: np.ndarray, sp1: np.ndarray, days: float) -> float | None:
    """Annualised TAO yield of root stake: stake-weighted growth of root pools' value per share."""
    n = min(sp0.size, sp1.size)
    ok = (sp0[:n] > 0) & (v0[:n] > 0) & (sp1[:n] > 0)
    if not ok.any() or days <= 0:
        return None
    growth = float((v0[:n][ok] * sp1[:n][ok] / sp0[:n][ok]).sum() / v0[:n][ok].sum())
    return growth ** (365.0 / days) - 1.0


def summarize(*, rec: Recorder, state: ChainState, world: World, populations: list[Population], seed: int,
              n_blocks: int, start_block: int, root_sp0: tuple[np.ndarray, np.ndarray],
              interventions: list[tuple[int, int]], has_intervention: bool, conservation_ok: bool,
              conservation_error: str | None, wall_seconds: float, events_fired: int,
              h2e_share_at_intervention: dict[str, float] | None = None) -> dict[str, Any]:
    """Compute the summary dict from the recorded arrays, the final state and the populations."""
    days = n_blocks / BLOCKS_PER_DAY
    n = rec.n
    ex_final = rec.exists[n - 1]
    started_final = ex_final & (rec.sub["started"][n - 1] > 0)
    rp_final = rec.sub["root_proportion"][n - 1]
    out: dict[str, Any] = {
        "scenario": None,
        "days": days,
        "blocks": int(n_blocks),
        "seed": int(seed),
        "start_block": int(start_block),
        "final_block": int(state.block),
        "final_total_issuance": float(state.total_issuance),
        "n_subnets": int(ex_final.sum()),
        "root_tao_final": float(state.tao_reserve[ROOT]),
        "sum_prices_final": _f(rec.net["sum_prices"][n - 1]),
        "root_proportion_mean_final": _f(rp_final[started_final].mean()) if started_final.any() else None,
        "root_stakers_apy": _f(root_apy(root_sp0[0], root_sp0[1], root_share_price(state)[0], days)),
    }
    # hold-to-earn subnet
    h2e = next((p for p in populations if isinstance(p, HoldToEarn)), None)
    if h2e is not None:
        share = rec.series("emission_share", h2e.main_netuid)
        out["h2e_netuid"] = int(h2e.main_netuid)
        out["h2e_emission_share_max"] = _f(np.nanmax(share)) if np.isfinite(share).any() else None
        out["h2e_emission_share_mean"] = _f(np.nanmean(share)) if np.isfinite(share).any() else None
        before = (h2e_share_at_intervention or {}).get(h2e.name)
        out["h2e_incentive_share_at_intervention"] = _f(before)
        out["h2e_incentive_share_final"] = _f(h2e.incentive_share(state))
    else:
        out["h2e_netuid"] = out["h2e_emission_share_max"] = out["h2e_emission_share_mean"] = None
        out["h2e_incentive_share_at_intervention"] = out["h2e_incentive_share_final"] = None
    # entrants (adverse selection): who holds the miner UIDs and the incentive at the end
    ent = next((p for p in populations if isinstance(p, Entrants)), None)
    if ent is not None:
        inc_good, uid_good, n_miners = ent.quality_split(state, world)
        out["entrants_netuid"] = int(ent.main_netuid)
        out["entrants_good_incentive_share"] = _f(inc_good)
        out["entrants_good_uid_share"] = _f(uid_good)
        out["entrants_miner_uids"] = int(n_miners)
        out["entrants_registrations"] = int(ent.registrations)
        out["entrants_pruned"] = int(ent.pruned)
    else:
        for k in ("entrants_netuid", "entrants_good_incentive_share", "entrants_good_uid_share",
                  "entrants_miner_uids", "entrants_registrations", "entrants_pruned"):
            out[k] = None
    # population PnL
    pops: dict[str, Any] = {}
    price = np.asarray(state.spot_price(), np.float64)
    price[ROOT] = 1.0
    for p in populations:
        v = p.valuation(state, price)
        pnl, pnl_l = p.pnl(v)
        pops[p.name] = {"kind": p.kind, "agents": int(p.coldkeys.size), "value_tao": _f(v.value_tao),
                        "liquid_value_tao": _f(v.liquid_value_tao), "initial_value_tao": _f(p.initial_value),
                        "pnl_tao": _f(pnl), "pnl_liquid_tao": _f(pnl_l), "costs_tao": _f(p.costs_tao),
                        "orders": int(p.orders), "rejected": int(sum(p.rejected.values())),
                        "rejected_by_error": dict(sorted(p.rejected.items()))}
        out[f"pnl_{p.name}"] = _f(pnl)
    out["attacker_profit_tao"] = pops[h2e.name]["pnl_liquid_tao"] if h2e is not None else None
    # quality vs emission
    ids = np.flatnonzero(rec.exists[:n].any(axis=0) & (rec.sub["started"][:n] > 0).any(axis=0))
    corr = None
    if ids.size >= 3:
        share = np.nanmean(np.where(rec.exists[:n][:, ids], rec.sub["emission_share"][:n][:, ids], np.nan), axis=0)
        q = world.subnet_q(state.n_subnets_cap)[ids]
        if np.ptp(share) > 0 and np.ptp(q) > 0:
            corr = _f(spearmanr(q, share).statistic)
    out["quality_emission_corr"] = corr
    # intervention
    out.update(intervention_metrics(rec, interventions, has_intervention, populations, state))
    out["populations"] = pops
    out["orders_total"] = int(sum(p.orders for p in populations))
    out["rejected_total"] = int(sum(sum(p.rejected.values()) for p in populations))
    out["events_fired"] = int(events_fired)
    out["conservation_ok"] = bool(conservation_ok)
    out["conservation_error"] = conservation_error
    out["wall_seconds"] = round(float(wall_seconds), 3)
    return out


def intervention_metrics(rec: Recorder, interventions: list[tuple[int, int]], has_intervention: bool,
                         populations: list[Population], state: ChainState) -> dict[str, Any]:
    """Price peak and crash around the first intervention (target subnet), from the recorded rows.

    * ``price_peak_ratio``: highest recorded price before the intervention / price at the start.
    * ``price_drop_after_intervention``: 1 - lowest price within 12 hours after / price at the
      intervention (the last row at or before it).
    * ``emission_share_change_after_intervention``: relative change of the target's emission share
      from the intervention to the end of the run; ``price_change_after_intervention`` likewise.
    """
    keys = ("intervention_block", "intervention_day", "intervention_netuid", "foundation_stake_share", "kappa",
            "foundation_validator_trust_final",
            "price_peak_ratio", "price_peak_rank", "price_drop_after_intervention",
            "price_change_after_intervention", "emission_share_change_after_intervention")
    out: dict[str, Any] = {k: None for k in keys}
    if not has_intervention:
        return out
    fnd = next((p for p in populations if isinstance(p, Foundation)), None)
    target = interventions[0][1] if interventions else (fnd.main_netuid if fnd is not None else None)
    if target is None:
        return out
    out["intervention_netuid"] = int(target)
    out["kappa"] = _f(state.hyper[target].kappa / 65535) if state.hyper[target] is not None else None
    n = rec.n
    blocks = rec.block[:n]
    price = rec.series("price", target)
    rank = rec.series("price_rank", target)
    share = rec.series("emission_share", target)
    t_i = interventions[0][0] if interventions else None
    before = blocks <= t_i if t_i is not None else np.ones(n, bool)
    p0 = price[0]
    if p0 > 0 and np.isfinite(price[before]).any():
        k = int(np.nanargmax(np.where(before, price, -np.inf)))
        out["price_peak_ratio"] = _f(price[k] / p0)
        out["price_peak_rank"] = int(np.nanmin(np.where(before, rank, np.inf)))
    if t_i is None:
        return out
    out["intervention_block"] = int(t_i)
    out["intervention_day"] = _f((t_i - rec.start) / BLOCKS_PER_DAY)
    if fnd is not None and fnd.stake_share_at_switch is not None:
        out["foundation_stake_share"] = _f(fnd.stake_share_at_switch)
        out["foundation_validator_trust_final"] = _f(fnd.validator_trust(state))
    i0 = int(np.flatnonzero(before)[-1]) if before.any() else 0
    after = (blocks > t_i) & (blocks <= t_i + INTERVENTION_WINDOW_BLOCKS)
    p_at = price[i0]
    if p_at > 0 and after.any():
        out["price_drop_after_intervention"] = _f(1.0 - np.nanmin(price[after]) / p_at)
    if p_at > 0:
        out["price_change_after_intervention"] = _f(price[n - 1] / p_at - 1.0)
    if share[i0] > 0:
        out["emission_share_change_after_intervention"] = _f(share[n - 1] / share[i0] - 1.0)
    return out
