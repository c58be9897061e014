"""Properties of the Yuma epoch that hold for any input (hypothesis)."""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dtao.chain.epoch import EpochHyper, EpochInput, EpochOutput, epoch

U16_VECTORS = ("incentive", "dividends", "consensus", "trust", "validator_trust", "rank", "pruning_scores")


@st.composite
def epoch_inputs(draw: st.DrawFn, yuma3: bool | None = None) -> EpochInput:
    """Random chain-shaped inputs with distinct positive stakes (so permits have no ties)."""
    n = draw(st.integers(2, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    stake = rng.permutation(np.arange(1, n + 1)) * rng.uniform(0.5, 2.0) + rng.random(n) * 0.1
    w = (rng.random((n, n)) * 65535 * (rng.random((n, n)) < draw(st.floats(0.1, 1.0)))).astype(np.uint16)
    permit = rng.random(n) < 0.7
    b = (rng.random((n, n)) * 65535 * (rng.random((n, n)) < 0.5)).astype(np.uint16)
    b[~permit] = 0
    block = 500
    hyper = EpochHyper(
        tempo=50,
        kappa=draw(st.sampled_from([32767, 20000, 50000])),
        bonds_penalty=draw(st.sampled_from([0, 30000, 65535])),
        max_allowed_validators=draw(st.integers(1, n)),
        liquid_alpha_on=draw(st.booleans()),
        yuma3_on=draw(st.booleans()) if yuma3 is None else yuma3,
    )
    return EpochInput(netuid=1, block=block, emission=draw(st.floats(0.0, 1e4)), stake=stake, weights=w, bonds=b,
                      validator_permit=permit, last_update=rng.integers(0, block, n),
                      block_at_registration=rng.integers(0, block, n), owner_uid=int(rng.integers(-1, n)),
                      hyper=hyper)


def _u16_close(a: np.ndarray, b: np.ndarray, tol: int = 1) -> None:
    np.testing.assert_array_less(np.abs(a.astype(np.int64) - b.astype(np.int64)), tol + 1)


@settings(max_examples=40, deadline=None)
@given(epoch_inputs())
def test_shares_are_distributions(inp: EpochInput) -> None:
    out = epoch(inp)
    n = inp.stake.size
    for name in ("incentive", "dividends"):
        v = getattr(out, name).astype(np.int64)
        assert v.min() >= 0
        assert v.sum() == 0 or 65535 - n <= v.sum() <= 65535, (name, v)
    assert out.server_emission.min() >= 0 and out.validator_emission.min() >= 0
    total = out.server_emission.sum() + out.validator_emission.sum()
    # with no incentive and no dividends the chain pays by the stake shares floored to the I32F32
    # grid, which sum to 1 minus up to n * 2^-32
    np.testing.assert_allclose(total, inp.emission, rtol=1e-9, atol=1e-9 + n * 2.0**-32 * inp.emission)
    assert out.bonds.dtype == np.uint16  # stored bonds stay within [0, 65535]
    assert np.all(out.bonds[~out.validator_permit & inp.validator_permit] == 0)  # lost permit: row cleared


@settings(max_examples=30, deadline=None)
@given(epoch_inputs(), st.integers(0, 2**32 - 1))
def test_permuting_uids_permutes_outputs(inp: EpochInput, seed: int) -> None:
    n = inp.stake.size
    p = np.random.default_rng(seed).permutation(n)
    inv = np.argsort(p)
    owner = -1 if inp.owner_uid < 0 else int(inv[inp.owner_uid])
    perm = dataclasses.replace(
        inp, stake=inp.stake[p], weights=inp.weights[np.ix_(p, p)], bonds=inp.bonds[np.ix_(p, p)],
        validator_permit=inp.validator_permit[p], last_update=inp.last_update[p],
        block_at_registration=inp.block_at_registration[p], owner_uid=owner)
    a, b = epoch(inp), epoch(perm)
    for name in U16_VECTORS:
        _u16_close(getattr(a, name)[p], getattr(b, name))
    np.testing.assert_allclose(a.server_emission[p], b.server_emission, rtol=1e-7, atol=1e-9 * inp.emission + 1e-12)
    np.testing.assert_allclose(a.validator_emission[p], b.validator_emission, rtol=1e-7,
                               atol=1e-9 * inp.emission + 1e-12)
    _u16_close(a.bonds[np.ix_(p, p)], b.bonds)
    np.testing.assert_array_equal(a.validator_permit[p], b.validator_permit)


@settings(max_examples=30, deadline=None)
@given(epoch_inputs(), st.integers(-20, 20), st.floats(0.01, 100.0))
def test_scaling_stake_changes_nothing(inp: EpochInput, k: int, c: float) -> None:
    base = epoch(inp)
    exact = epoch(dataclasses.replace(inp, stake=inp.stake * 2.0**k))  # power of two: bit-identical
    for f in dataclasses.fields(EpochOutput):
        np.testing.assert_array_equal(getattr(base, f.name), getattr(exact, f.name), err_msg=f.name)
    approx = epoch(dataclasses.replace(inp, stake=inp.stake * c))
    for name in U16_VECTORS:
        _u16_close(getattr(base, name), getattr(approx, name))
    np.testing.assert_allclose(base.validator_emission, approx.validator_emission, rtol=1e-6,
                               atol=1e-6 * inp.emission + 1e-12)


@settings(max_examples=30, deadline=None)
@given(epoch_inputs(), st.data())
def test_zero_stake_validator_without_bonds_earns_nothing(inp: EpochInput, data: st.DataObject) -> None:
    n = inp.stake.size
    v = data.draw(st.integers(0, n - 1))
    stake = inp.stake.copy()
    stake[v] = 0.0
    bonds = inp.bonds.copy()
    bonds[v] = 0
    permit = inp.validator_permit.copy()
    permit[v] = True
    out = epoch(dataclasses.replace(inp, stake=stake, bonds=bonds, validator_permit=permit))
    assert out.validator_emission[v] == 0.0
    assert out.dividends[v] == 0


@settings(max_examples=20, deadline=None)
@given(epoch_inputs())
def test_sparse_inputs_give_dense_results(inp: EpochInput) -> None:
    dense = epoch(inp)
    sparse = epoch(dataclasses.replace(inp, weights=sp.csr_array(inp.weights), bonds=sp.csr_array(inp.bonds)))
    for f in dataclasses.fields(EpochOutput):
        x = getattr(sparse, f.name)
        np.testing.assert_array_equal(getattr(dense, f.name), x.toarray() if sp.issparse(x) else x, err_msg=f.name)
