"""Conservation and sanity invariants of the chain state (checked by tests after every step and by
scenarios at the end of a run).

TAO: ``TotalIssuance = initial + injected - burned``, and every TAO sits in a wallet, a pool
(``SubnetTAO``, root included), a pending accumulator (``PendingRootDivs``), root dividends paid off the
``SubnetTAO[0]`` ledger (launch quirk), or the small "unowned" account of amounts the chain takes from
pools without crediting anyone.  Alpha per dynamic subnet: ``SubnetAlphaIn + SubnetAlphaOut`` equals the
alpha minted, and ``SubnetAlphaOut`` equals the hotkey pools plus pending emission and owner cut plus the
alpha minted but held by no stake (burned owner incentive, undistributed dividends).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dtao.chain.state import MECH_DYNAMIC, ChainState


class InvariantViolation(AssertionError):
    """A conservation or sanity invariant does not hold."""


@dataclass
class Ledger:
    """Where the TAO and alpha are (TAO units), for reports and checks."""

    issuance: float
    expected_issuance: float
    wallets: float
    pools: float
    pending_root_divs: float
    root_divs_off_ledger: float
    unowned: float

    @property
    def located(self) -> float:
        return self.wallets + self.pools + self.pending_root_divs + self.root_divs_off_ledger + self.unowned


def tao_ledger(state: ChainState) -> Ledger:
    ex = state.exists
    return Ledger(
        issuance=state.total_issuance,
        expected_issuance=state.initial_issuance + state.tao_injected - state.tao_burned,
        wallets=float(state.balance.sum()),
        pools=float(state.tao_reserve[ex].sum()),
        pending_root_divs=float(state.pending_root_divs[ex].sum()),
        root_divs_off_ledger=state.root_divs_off_ledger,
        unowned=state.tao_unowned,
    )


def check_invariants(state: ChainState, rtol: float = 1e-9, atol: float = 1e-6) -> None:
    """Raise InvariantViolation naming the first broken invariant.

    Tolerances: float64 sums over millions of TAO drift by ~1e-9 relative; ``atol`` is in TAO/alpha.
    """
    arrays = {
        "balance": state.balance, "tao_reserve": state.tao_reserve, "alpha_reserve": state.alpha_reserve,
        "alpha_out": state.alpha_out, "moving_price": state.moving_price, "pending_emission": state.pending_emission,
        "pending_root_divs": state.pending_root_divs, "pending_owner_cut": state.pending_owner_cut,
        "pending_alpha_swapped": state.pending_alpha_swapped, "hotkey_alpha": state.hotkey_alpha,
        "hotkey_shares": state.hotkey_shares, "owner_shares": state.owner_shares,
    }
    for name, arr in arrays.items():
        if not np.all(np.isfinite(arr)):
            raise InvariantViolation(f"{name} has NaN or infinite entries")
        if np.any(arr < -atol):
            raise InvariantViolation(f"{name} has negative entries (min {arr.min()})")
    for k, s in state.positions.items():
        if not (s >= 0 and np.isfinite(s)):
            raise InvariantViolation(f"position {k} has shares {s}")
    led = tao_ledger(state)
    tol = atol + rtol * max(abs(led.issuance), 1.0)
    if abs(led.issuance - led.expected_issuance) > tol:
        raise InvariantViolation(f"TotalIssuance {led.issuance} != initial + injected - burned = {led.expected_issuance}")
    if abs(led.issuance - led.located) > tol:
        raise InvariantViolation(
            f"TAO not conserved: issuance {led.issuance} but located {led.located} (wallets {led.wallets}, pools "
            f"{led.pools}, pending {led.pending_root_divs}, root off-ledger {led.root_divs_off_ledger}, unowned {led.unowned})")
    dyn = np.flatnonzero(state.exists & (state.mechanism == MECH_DYNAMIC))
    if dyn.size:
        issued = state.alpha_reserve[dyn] + state.alpha_out[dyn]
        minted = state.alpha_minted[dyn]
        bad = np.abs(issued - minted) > atol + rtol * np.maximum(np.abs(minted), 1.0)
        if bad.any():
            i = int(dyn[np.argmax(bad)])
            raise InvariantViolation(f"subnet {i}: alpha in + out {state.alpha_reserve[i] + state.alpha_out[i]} != minted {state.alpha_minted[i]}")
        held = (state.hotkey_alpha[:, dyn].sum(axis=0) + state.pending_emission[dyn] + state.pending_owner_cut[dyn]
                + state.alpha_unowned[dyn])
        bad = np.abs(held - state.alpha_out[dyn]) > atol + rtol * np.maximum(np.abs(state.alpha_out[dyn]), 1.0)
        if bad.any():
            i = int(dyn[np.argmax(bad)])
            raise InvariantViolation(f"subnet {i}: SubnetAlphaOut {state.alpha_out[i]} != stake pools + pending + unowned {held[np.argmax(bad)]}")
