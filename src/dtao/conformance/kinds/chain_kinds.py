"""Conformance adapters for the runtime's kinds: block emission, swaps, limit maxima, staking fee,
moving price, coinbase and dividend distribution.  Inputs are chain units (rao); dtao runs in TAO."""
from __future__ import annotations

from typing import Any

import numpy as np

from dtao.chain.block_emission import block_emission_for_issuance, block_emission_for_issuance_rao
from dtao.chain.coinbase import run_coinbase, update_moving_price
from dtao.chain.drain import calculate_dividend_distribution
from dtao.chain.errors import ChainError
from dtao.chain.params import ChainParams, SubnetHyper
from dtao.chain.staking import (
    calculate_staking_fee,
    dynamic_fee,
    max_amount_add_rao,
    max_amount_move_rao,
    max_amount_remove_rao,
)
from dtao.chain.state import MECH_STABLE, ROOT, ChainState
from dtao.chain.swap import swap_alpha_for_tao, swap_tao_for_alpha
from dtao.chain.units import RAO_PER_TAO, U64_MAX
from dtao.conformance.registry import kind

R = RAO_PER_TAO


def _rao(x: float) -> float:
    return float(x) * R


@kind("block_emission")
def k_block_emission(inp: dict[str, Any]) -> dict[str, Any]:
    # issuance is an exact rao integer here; the rule is decided on it (float64 TAO cannot resolve 1 rao at 1e7 TAO)
    return {"block_emission": block_emission_for_issuance_rao(int(inp["issuance"]))}


def _pool_state(inp: dict[str, Any]) -> ChainState:
    st = ChainState(params=ChainParams())
    st.add_subnet(ROOT, mechanism=MECH_STABLE, moving_price=1.0)
    st.add_subnet(1, mechanism=int(inp["SubnetMechanism"]), tao_reserve=inp["SubnetTAO"] / R,
                  alpha_reserve=inp["SubnetAlphaIn"] / R, alpha_out=inp.get("SubnetAlphaOut", 0) / R)
    return st


def _pool_out(st: ChainState) -> dict[str, float]:
    return {"SubnetTAO": _rao(st.tao_reserve[1]), "SubnetAlphaIn": _rao(st.alpha_reserve[1]),
            "SubnetAlphaOut": _rao(st.alpha_out[1])}


@kind("swap_tao_for_alpha")
def k_swap_tao_for_alpha(inp: dict[str, Any]) -> dict[str, Any]:
    st = _pool_state(inp)
    try:
        a = swap_tao_for_alpha(st, 1, inp["tao"] / R)
    except ChainError as e:
        return {"error": type(e).__name__, **_pool_out(st)}
    return {"alpha_received": _rao(a), **_pool_out(st)}


@kind("swap_alpha_for_tao")
def k_swap_alpha_for_tao(inp: dict[str, Any]) -> dict[str, Any]:
    st = _pool_state(inp)
    try:
        t = swap_alpha_for_tao(st, 1, inp["alpha"] / R)
    except ChainError as e:
        return {"error": type(e).__name__, **_pool_out(st)}
    return {"tao_received": _rao(t), **_pool_out(st)}


def _stable(d: dict[str, Any]) -> bool:
    return d["netuid"] == 0 or d["SubnetMechanism"] == 0


@kind("max_amount_add")
def k_max_add(inp: dict[str, Any]) -> dict[str, Any]:
    return {"max_amount": max_amount_add_rao(_stable(inp), int(inp["SubnetTAO"]), int(inp["SubnetAlphaIn"]),
                                             int(inp["limit_price"]))}


@kind("max_amount_remove")
def k_max_remove(inp: dict[str, Any]) -> dict[str, Any]:
    return {"max_amount": max_amount_remove_rao(_stable(inp), int(inp["SubnetTAO"]), int(inp["SubnetAlphaIn"]),
                                                int(inp["limit_price"]))}


@kind("max_amount_move")
def k_max_move(inp: dict[str, Any]) -> dict[str, Any]:
    o, d = inp["origin"], inp["destination"]
    return {"max_amount": max_amount_move_rao(_stable(o), int(o["SubnetTAO"]), int(o["SubnetAlphaIn"]),
                                              _stable(d), int(d["SubnetTAO"]), int(d["SubnetAlphaIn"]),
                                              int(inp["limit_price"]))}


@kind("staking_fee")
def k_staking_fee(inp: dict[str, Any]) -> dict[str, Any]:
    st = _pool_state(inp)
    hk = st.new_hotkey(st.new_coldkey(0.0))
    st._alpha_dividends_per_subnet[hk, 1] = inp.get("AlphaDividendsPerSubnet", 0) / R
    st._hotkey_alpha_last_epoch[hk, 1] = inp.get("TotalHotkeyAlphaLastEpoch", 0) / R
    origin = None if inp.get("origin_netuid") is None else (hk, 1 if inp["origin_netuid"] != 0 else ROOT)
    dest = inp.get("destination_netuid")
    if dest is not None and inp.get("origin_netuid") is not None and dest == inp["origin_netuid"]:
        dest = origin[1]
    fee = calculate_staking_fee(st, origin, dest, inp["alpha"] / R)
    return {"fee": _rao(fee)}


def _hyper(sub: dict[str, Any]) -> SubnetHyper:
    return SubnetHyper(tempo=int(sub.get("Tempo", 360)), ema_price_halving_blocks=int(sub.get("EMAPriceHalvingBlocks", 201600)),
                       registration_allowed=bool(sub.get("NetworkRegistrationAllowed", True)),
                       pow_registration_allowed=bool(sub.get("NetworkPowRegistrationAllowed", True)))


@kind("moving_price")
def k_moving_price(inp: dict[str, Any]) -> dict[str, Any]:
    params = ChainParams(subnet_moving_alpha=float(inp["SubnetMovingAlpha"]))
    st = ChainState(params=params)
    st.add_subnet(ROOT, mechanism=MECH_STABLE, moving_price=1.0)
    nu = int(inp["netuid"])
    if nu != ROOT:
        fe = inp.get("FirstEmissionBlockNumber")
        st.add_subnet(nu, mechanism=int(inp["SubnetMechanism"]), tao_reserve=inp["SubnetTAO"] / R,
                      alpha_reserve=inp["SubnetAlphaIn"] / R, moving_price=float(inp["SubnetMovingPrice"]),
                      hyper=SubnetHyper(ema_price_halving_blocks=int(inp["EMAPriceHalvingBlocks"])),
                      first_emission_block=-1 if fe is None else int(fe))
    st.block = int(inp["block"])
    for _ in range(int(inp.get("repeat", 1))):
        update_moving_price(st, np.array([nu]))
    return {"SubnetMovingPrice": float(st.moving_price[nu]) if nu != ROOT else 1.0}


SUBNET_KEYS = ("SubnetTAO", "SubnetAlphaIn", "SubnetAlphaOut", "SubnetMovingPrice", "PendingEmission",
               "PendingAlphaSwapped", "PendingRootDivs", "PendingOwnerCut", "BlocksSinceLastStep")
_FIELD = {"SubnetTAO": "tao_reserve", "SubnetAlphaIn": "alpha_reserve", "SubnetAlphaOut": "alpha_out",
          "SubnetMovingPrice": "moving_price", "PendingEmission": "pending_emission",
          "PendingAlphaSwapped": "pending_alpha_swapped", "PendingRootDivs": "pending_root_divs",
          "PendingOwnerCut": "pending_owner_cut"}


@kind("coinbase")
def k_coinbase(inp: dict[str, Any]) -> dict[str, Any]:
    params = ChainParams(tao_weight=int(inp["TaoWeight"]) / U64_MAX, subnet_owner_cut=int(inp["SubnetOwnerCut"]) / 65535,
                         subnet_moving_alpha=float(inp["SubnetMovingAlpha"]))
    st = ChainState(params=params)
    st.add_subnet(ROOT, mechanism=MECH_STABLE, moving_price=1.0, tao_reserve=inp["root"]["SubnetTAO"] / R)
    for key, sub in sorted(inp["subnets"].items(), key=lambda kv: int(kv[0])):
        nu = int(key)
        fe = sub.get("FirstEmissionBlockNumber")
        st.add_subnet(nu, mechanism=int(sub["SubnetMechanism"]), tao_reserve=sub["SubnetTAO"] / R,
                      alpha_reserve=sub["SubnetAlphaIn"] / R, alpha_out=sub["SubnetAlphaOut"] / R,
                      moving_price=float(sub["SubnetMovingPrice"]), hyper=_hyper(sub),
                      first_emission_block=-1 if fe is None else int(fe))
        for k, f in _FIELD.items():
            if k.startswith("Pending"):
                getattr(st, f)[nu] = sub[k] / R
        st.blocks_since_last_step[nu] = int(sub["BlocksSinceLastStep"])
    st.total_issuance = inp["TotalIssuance"] / R
    st.total_stake = inp["TotalStake"] / R
    drains = []
    for b in range(int(inp["block"]), int(inp["block"]) + int(inp["blocks"])):
        st.block = b
        e = inp.get("block_emission")
        E = block_emission_for_issuance(st.total_issuance) if e is None else e / R
        rep = run_coinbase(st, float(E), drain=False)
        drains += [{"block": d.block, "netuid": d.netuid, "pending_alpha": _rao(d.pending_alpha),
                    "pending_tao": _rao(d.pending_tao), "pending_swapped": _rao(d.pending_swapped),
                    "owner_cut": _rao(d.owner_cut)} for d in rep.drains]
    subnets = {}
    for key in inp["subnets"]:
        nu = int(key)
        out = {k: (_rao(getattr(st, f)[nu]) if k != "SubnetMovingPrice" else float(st.moving_price[nu]))
               for k, f in _FIELD.items()}
        out["BlocksSinceLastStep"] = int(st.blocks_since_last_step[nu])
        subnets[key] = out
    return {"TotalIssuance": _rao(st.total_issuance), "TotalStake": _rao(st.total_stake), "subnets": subnets,
            "drains": drains}


@kind("dividend_distribution")
def k_dividend_distribution(inp: dict[str, Any]) -> dict[str, Any]:
    names = list(inp["hotkeys"])
    a = np.array([inp["hotkeys"][n]["alpha_stake"] for n in names], np.float64) / R
    r = np.array([inp["hotkeys"][n]["root_stake"] for n in names], np.float64) / R
    dv = np.array([inp["hotkeys"][n]["dividend"] for n in names], np.float64) / R
    alpha, tao = calculate_dividend_distribution(a, r, dv, int(inp["TaoWeight"]) / U64_MAX,
                                                 inp["pending_validator_alpha"] / R, inp["pending_tao"] / R)
    return {"alpha_dividends": {n: _rao(x) for n, x in zip(names, alpha)},
            "tao_dividends": {n: _rao(x) for n, x in zip(names, tao)},
            "sum_alpha_dividends": _rao(alpha.sum()), "sum_tao_dividends": _rao(tao.sum())}
