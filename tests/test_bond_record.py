"""The epoch's bond record: after an epoch that left no bond outside the permit holders, the next
epoch of that subnet does not scan the bond rows of UIDs without a permit (``KernelView.bond_rec``).
Whatever happens between epochs -- permits flipped in place, bonds written by hand, registrations,
new arrays, weights -- every result must equal that of the same run with the record cleared before
each call (every bond row scanned, as before the record existed)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from dtao.chain.coinbase import run_blocks
from dtao.chain.registration import register_neurons_genesis
from dtao.chain.state import is_protected, kernel_view, writable_bonds
from dtao.chain.weights import set_weights
from dtao.scenario.initial import synthetic

N_SUB, N_UID, N_VAL, TEMPO = 3, 12, 4, 9


def _net(seed: int):
    st = synthetic(np.random.default_rng(seed), n_subnets=N_SUB, n_uids=N_UID, n_validators=N_VAL)
    st.block += 1000
    for nu, h in enumerate(st.hyper):
        if h is not None and nu != 0:
            st.set_hyper(nu, dataclasses.replace(h, tempo=TEMPO, max_allowed_uids=64, max_allowed_validators=N_VAL,
                                                 weights_set_rate_limit=0, activity_cutoff=10_000))
    return st


def _snapshot(st) -> list[np.ndarray]:
    out = [st.hotkey_alpha.copy(), st.alpha_reserve.copy(), st.tao_reserve.copy()]
    for nr in st.neurons[1:N_SUB + 1]:
        out += [np.array(getattr(nr, f)) for f in ("bonds", "weights", "validator_permit", "incentive", "dividends",
                                                  "consensus", "trust", "validator_trust", "emission")]
    return out


def _same(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


OPS = ("run", "run", "run", "permit_off", "permit_on", "stray_bond", "clear_row", "weights", "register",
       "new_bonds")


def _apply(st, op: str, rng, scan_always: bool) -> None:
    nu = int(rng.integers(1, N_SUB + 1))
    nr = st.neurons[nu]
    n = nr.n
    if op == "run":
        if scan_always:
            kernel_view(st).bond_rec[:, 0] = 0
        run_blocks(st, int(rng.integers(1, 2 * TEMPO + 3)))
    elif op == "permit_off":  # a permit holder loses its permit in place (the epoch may not give it back)
        nr.validator_permit[int(rng.integers(0, n))] = False
    elif op == "permit_on":
        nr.validator_permit[int(rng.integers(0, n))] = True
    elif op == "stray_bond":  # a bond on a row that may hold no permit, written by hand
        with writable_bonds(nr) as b:
            b[int(rng.integers(0, n)), int(rng.integers(0, n))] = int(rng.integers(1, 65536))
    elif op == "clear_row":
        with writable_bonds(nr) as b:
            b[int(rng.integers(0, n)), :] = 0
    elif op == "weights":
        u = int(rng.integers(0, N_VAL))
        others = rng.choice(n, 3, replace=False)
        try:
            set_weights(st, int(nr.hotkey[u]), nu, others, rng.integers(1, 65536, 3).astype(np.uint16))
        except Exception:  # noqa: BLE001 - a rejected extrinsic changes nothing (both runs alike)
            pass
    elif op == "register":
        hk = int(st.new_hotkeys([int(st.hotkey_owner[int(nr.hotkey[0])])])[0])
        register_neurons_genesis(st, nu, np.array([hk]))
    elif op == "new_bonds":  # a field given a new array (as a loader or a user might)
        b = rng.integers(0, 65536, (n, n)).astype(np.uint16)
        b[rng.random((n, n)) < 0.7] = 0
        nr.bonds = b


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 2**31 - 1), ops=hs.lists(hs.sampled_from(OPS), min_size=4, max_size=18))
def test_bond_record_changes_no_result(seed: int, ops: list[str]) -> None:
    a, b = _net(seed % 1000), _net(seed % 1000)
    ra, rb = np.random.default_rng(seed), np.random.default_rng(seed)
    for op in ops + ["run"]:
        _apply(a, op, ra, scan_always=False)
        _apply(b, op, rb, scan_always=True)
        assert _same(_snapshot(a), _snapshot(b)), op


def test_bond_record_is_kept_and_skips_only_when_it_holds() -> None:
    st = _net(3)
    run_blocks(st, 3 * (TEMPO + 1))
    view = kernel_view(st)
    nus = [int(x) for x in st.subnet_netuids]
    # the chain's own epochs leave no bond outside the permit holders: every subnet is recorded
    assert all(view.bond_rec[nu, 0] == 1 for nu in nus)
    nu = nus[0]
    nr = st.neurons[nu]
    assert is_protected(nr.bonds)
    with pytest.raises(ValueError):
        nr.bonds[N_UID - 1, 0] = 1  # read-only to Python: a write cannot get past the record
    # a hand-written bond clears the subnet's record at the next sync
    with writable_bonds(nr) as b:
        b[N_UID - 1, 0] = 1000
    view.sync_neurons(st, [nu])
    assert view.bond_rec[nu, 0] == 0
    assert all(view.bond_rec[x, 0] == 1 for x in nus[1:])


def test_a_permit_lost_in_place_is_noticed() -> None:
    """A validator holding bonds loses its permit by an in-place write and has no stake left for a new
    one: the record's permit bits no longer match, so its bond row is scanned (a stray row that still
    counts in the old bonds' column sums)."""
    def run(clear: bool):
        st = _net(5)
        run_blocks(st, 2 * (TEMPO + 1))
        nu = int(st.subnet_netuids[0])
        nr = st.neurons[nu]
        assert np.any(nr.bonds[0] != 0) and nr.validator_permit[0]
        nr.validator_permit[0] = False
        hk = int(nr.hotkey[0])
        st._hotkey_alpha[hk, :] = 0.0  # (no stake weight: no permit again)
        if clear:
            kernel_view(st).bond_rec[:, 0] = 0
        run_blocks(st, TEMPO + 1)
        return _snapshot(st)
    assert _same(run(False), run(True))


@settings(max_examples=25, deadline=None)
@given(hs.integers(0, 2**32 - 1), hs.lists(hs.sampled_from(OPS), min_size=4, max_size=14))
def test_consensus_guesses_never_change_results(seed: int, ops: list[str]) -> None:
    """The consensus guesses the kernel view keeps for the median (``KernelView.cons_guess``, each
    subnet's last consensus) change only the speed: runs whose guesses are replaced by garbage (random
    values, NaN, stale answers of other subnets) before every call give the same state as runs that
    keep them, whatever happens between epochs."""
    kept, spoiled = _net(seed), _net(seed)
    r1, r2 = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
    noise = np.random.default_rng(seed + 2)
    for op in ops:
        _apply(kept, op, r1, False)
        if op == "run":
            g = kernel_view(spoiled).cons_guess
            if g.size:
                pick = noise.integers(0, 3)
                if pick == 0:
                    g[:] = noise.random(g.shape)
                elif pick == 1:
                    g[:] = np.nan
                else:
                    g[:] = g[noise.permutation(g.shape[0])]
        _apply(spoiled, op, r2, False)
        assert _same(_snapshot(kept), _snapshot(spoiled)), op
    assert kernel_view(kept).cons_guess.shape[1] >= N_UID
