"""The Yuma epoch (``dtao.chain.epoch``): conformance, sparse/dense and batch equivalence, Yuma3."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import dtao.conformance.kinds.epoch_kinds  # noqa: F401  (registers the adapters)
from dtao.chain.epoch import EpochHyper, EpochInput, EpochOutput, epoch, epoch_batch
from dtao.conformance.registry import ADAPTERS
from dtao.conformance.runner import compare


def _conformance_dir() -> Path:
    return Path(os.environ.get("DTAO_CONFORMANCE_DIR",
                               Path(__file__).resolve().parents[2] / "shared" / "conformance"))


def _epoch_cases() -> list[dict]:
    path = _conformance_dir() / "launch" / "epoch.json"
    if not path.exists():
        pytest.fail(f"conformance file missing: {path} (set DTAO_CONFORMANCE_DIR)")
    return json.loads(path.read_text())["cases"]


def test_epoch_conformance() -> None:
    cases = _epoch_cases()
    assert len(cases) >= 7
    for case in cases:
        got = ADAPTERS["epoch"](case["input"])
        errs = compare(got, case["expect"], case.get("tol", "exact"), [])
        assert not errs, (case["id"], errs)


def test_bonds_sequence_chained() -> None:
    """The chain's 8-UID test_bonds run end to end: each step's bonds/permits feed the next.

    The chain's I32F32 truncation lowers unchanged bonds by about 1 u16 per epoch; float64 does
    not, so the allowed gap grows by 1 per step.
    """
    cases = [c for c in _epoch_cases() if "test_bonds" in c["id"]]
    bonds = cases[0]["input"]["Bonds"]
    permits = cases[0]["input"]["ValidatorPermit"]
    for step, case in enumerate(cases, start=1):
        inp = dict(case["input"], Bonds=bonds, ValidatorPermit=permits)
        got = ADAPTERS["epoch"](inp)
        errs = compare({"Bonds": got["Bonds"]}, {"Bonds": case["expect"]["Bonds"]}, {"*": {"abs": step}}, [])
        assert not errs, (case["id"], errs)
        bonds, permits = got["Bonds"], got["ValidatorPermit"]


def random_input(seed: int, n: int = 12, sparse: bool = False, **hyper: object) -> EpochInput:
    """A random but chain-shaped epoch input (some zero rows, stale weights, recent registrations)."""
    rng = np.random.default_rng(seed)
    stake = rng.random(n) * 1000 * (rng.random(n) < 0.8)
    w = (rng.random((n, n)) * 65535 * (rng.random((n, n)) < 0.5)).astype(np.uint16)
    b = (rng.random((n, n)) * 65535 * (rng.random((n, n)) < 0.4)).astype(np.uint16)
    permit = rng.random(n) < 0.6
    b[~permit] = 0
    block = 1000
    last_update = rng.integers(block - 6000, block, n)
    reg = rng.integers(0, block, n)
    h = EpochHyper(tempo=100, max_allowed_validators=int(rng.integers(1, n + 1)), **hyper)  # type: ignore[arg-type]
    return EpochInput(netuid=seed, block=block, emission=10.0, stake=stake,
                      weights=sp.csr_array(w) if sparse else w, bonds=sp.csr_array(b) if sparse else b,
                      validator_permit=permit, last_update=last_update, block_at_registration=reg,
                      owner_uid=int(rng.integers(-1, n)), hyper=h)


def assert_same(a: EpochOutput, b: EpochOutput) -> None:
    for f in dataclasses.fields(EpochOutput):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if sp.issparse(x):
            x = x.toarray()
        if sp.issparse(y):
            y = y.toarray()
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=f.name)


HYPERS = [{}, {"liquid_alpha_on": True}, {"yuma3_on": True}, {"yuma3_on": True, "liquid_alpha_on": True},
          {"bonds_penalty": 30000, "kappa": 40000}, {"stake_threshold": 0.3}]


@pytest.mark.parametrize("hyper", HYPERS)
def test_sparse_equals_dense(hyper: dict) -> None:
    for seed in range(8):
        dense = random_input(seed, **hyper)
        sparse = random_input(seed, sparse=True, **hyper)
        out_s = epoch(sparse)
        assert sp.issparse(out_s.bonds)
        assert_same(epoch(dense), out_s)


def test_batch_equals_loop() -> None:
    inputs = [random_input(s, n=5 + s % 7, sparse=bool(s % 3 == 0), **HYPERS[s % len(HYPERS)]) for s in range(20)]
    for a, b in zip(epoch_batch(inputs), [epoch(i) for i in inputs]):
        assert_same(a, b)
    assert epoch_batch([]) == []


@pytest.mark.parametrize("hyper", HYPERS)
def test_stored_consensus_changes_nothing(hyper: dict) -> None:
    """The last epoch's stored consensus (EpochInput.consensus) only tells the median search where to
    start: the same outputs with the consensus of the previous epoch, of another input, or none."""
    for seed in range(8):
        inp = random_input(seed, n=40, **hyper)
        plain = epoch(inp)
        other = epoch(random_input(seed + 100, n=40, **hyper)).consensus
        for hint in (plain.consensus, other, np.zeros(40, np.uint16), plain.consensus.astype(np.int64)):
            assert_same(epoch(dataclasses.replace(inp, consensus=hint)), plain)


@pytest.mark.parametrize("bad", [np.zeros(3, np.uint16), np.full(12, -1), np.full(12, 70000), np.full(12, 0.5)])
def test_stored_consensus_must_be_u16_per_uid(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="consensus"):
        epoch(dataclasses.replace(random_input(1), consensus=bad))


def test_inputs_are_not_mutated() -> None:
    inp = random_input(3)
    w, b = inp.weights.copy(), inp.bonds.copy()
    epoch(inp)
    np.testing.assert_array_equal(inp.weights, w)
    np.testing.assert_array_equal(inp.bonds, b)


def test_no_weights_pays_validators_by_active_stake() -> None:
    n = 4
    inp = EpochInput(netuid=1, block=10, emission=1.0, stake=np.array([1.0, 3.0, 0.0, 0.0]),
                     weights=np.zeros((n, n), np.uint16), bonds=np.zeros((n, n), np.uint16),
                     validator_permit=np.array([True, True, False, False]), last_update=np.full(n, 9),
                     block_at_registration=np.zeros(n, np.int64), owner_uid=-1, hyper=EpochHyper())
    out = epoch(inp)
    assert out.server_emission.sum() == 0
    np.testing.assert_allclose(out.validator_emission, [0.25, 0.75, 0, 0], atol=1e-9)


def test_stake_threshold_zeroes_small_stake() -> None:
    inp = random_input(5, stake_threshold=1e9)  # everyone below: no stake, no permits (v3.1.0 semantics)
    out = epoch(inp)
    assert out.dividends.sum() == 0 and out.incentive.sum() == 0


# --- Yuma3: subtensor v3.1.0 tests/epoch.rs::test_yuma_3_kappa_moves_first, replayed ----------------

def _yuma3_scenario(weight_plan: list[list[list[int]]], epochs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Run the v3.1.0 Yuma3 test scenario; returns (bonds as proportions, dividends) per epoch.

    5 UIDs: validators A (stake 8), B, C (stake 1), servers 3 and 4; tempo 1, 3 permits, kappa
    0.5, liquid alpha (0.1, 0.3) with steepness 10, bonds penalty 0, BondsMovingAverage 975000.
    Weights are stored as set_weights stores them, explicit zeros included (csr).
    """
    n = 5
    hyper = EpochHyper(tempo=1, kappa=32767, bonds_moving_average=975_000, bonds_penalty=0,
                       max_allowed_validators=3, liquid_alpha_on=True, alpha_low=6553, alpha_high=19660,
                       yuma3_on=True, alpha_sigmoid_steepness=10.0)
    stake = np.array([8.0, 1.0, 1.0, 0.0, 0.0])
    reg = np.ones(n, dtype=np.int64)
    last_update = np.ones(n, dtype=np.int64)
    permit = np.zeros(n, dtype=bool)
    bonds = sp.csr_array((n, n), dtype=np.uint16)
    weights = sp.csr_array((n, n), dtype=np.uint16)
    block = 2
    out = epoch(EpochInput(1, block, 1.0, stake, weights, bonds, permit, last_update, reg, -1, hyper))
    permit, bonds = out.validator_permit, out.bonds
    results = []
    for e in range(epochs):
        if e < len(weight_plan):
            dense = np.zeros((n, n), dtype=np.uint16)
            rows, cols, vals = [], [], []
            for i, (w3, w4) in enumerate(weight_plan[e]):
                rows += [i, i]
                cols += [3, 4]
                vals += [w3, w4]
                dense[i, 3], dense[i, 4] = w3, w4
            weights = sp.csr_array((np.array(vals, dtype=np.uint16), (rows, cols)), shape=(n, n))
            last_update = last_update.copy()
            last_update[:3] = block
        block += 1
        out = epoch(EpochInput(1, block, 1.0, stake, weights, bonds, permit, last_update, reg, -1, hyper))
        permit, bonds = out.validator_permit, out.bonds
        results.append((bonds.toarray()[:3, 3:] / 65535.0, out.dividends / 65535.0))
    return results


def test_yuma3_kappa_moves_first() -> None:
    m = 65535
    plan = [[[m, 0]] * 3, [[0, m], [m, 0], [m, 0]], [[0, m], [0, m], [m, 0]], [[0, m]] * 3]
    target_bonds = [
        [[0.1013, 0.0000], [0.1013, 0.0000], [0.1013, 0.0000]],
        [[0.0908, 0.1013], [0.3697, 0.0000], [0.3697, 0.0000]],
        [[0.0815, 0.1924], [0.3170, 0.1013], [0.5580, 0.0000]],
        [[0.0731, 0.2742], [0.2765, 0.1924], [0.4306, 0.1013]],
        [[0.0656, 0.3478], [0.2435, 0.2742], [0.3589, 0.1924]],
        [[0.0588, 0.4139], [0.2157, 0.3478], [0.3089, 0.2742]],
    ]
    target_dividends = [
        [0.8000, 0.1000, 0.1000, 0, 0], [1.0000, 0, 0, 0, 0], [0.9382, 0.0618, 0, 0, 0],
        [0.8819, 0.0773, 0.0407, 0, 0], [0.8564, 0.0844, 0.0592, 0, 0], [0.8418, 0.0884, 0.0697, 0, 0],
    ]
    results = _yuma3_scenario(plan, 6)
    for (bonds, dividends), tb, td in zip(results, target_bonds, target_dividends):
        np.testing.assert_allclose(bonds, tb, atol=1e-3)
        np.testing.assert_allclose(dividends, td, atol=1e-3)


def test_yuma3_bonds_are_proportions_not_upscaled() -> None:
    # launch-era bonds are max-upscaled per column (a column max is 65535); Yuma3 bonds are the
    # EMA'd proportions themselves, capped at 1, so one epoch with alpha 0.1 stores ~0.1
    n = 3
    w = np.zeros((n, n), np.uint16)
    w[0, 2] = w[1, 2] = 65535
    base = dict(netuid=1, block=100, emission=1.0, stake=np.array([3.0, 1.0, 0.0]), weights=w,
                bonds=np.zeros((n, n), np.uint16), validator_permit=np.array([True, True, False]),
                last_update=np.full(n, 99), block_at_registration=np.zeros(n, np.int64), owner_uid=-1)
    launch = epoch(EpochInput(**base, hyper=EpochHyper(tempo=10)))
    yuma3 = epoch(EpochInput(**base, hyper=EpochHyper(tempo=10, yuma3_on=True)))
    assert launch.bonds[:, 2].max() == 65535
    assert yuma3.bonds[0, 2] == yuma3.bonds[1, 2] == np.floor(0.1 * 65535)
    # Yuma3 dividends: stake x normalised bonds x incentive -> 3:1 here
    assert int(yuma3.dividends[0]) == pytest.approx(3 * int(yuma3.dividends[1]), abs=4)


def test_yuma3_stored_zero_weight_keeps_bond_decaying() -> None:
    # with liquid alpha on, Yuma3 keeps a bond only where a bond weight is stored (chain's sparse
    # EMA); an explicit zero keeps the old bond decaying, a missing entry drops it
    n = 3
    bonds = np.zeros((n, n), np.uint16)
    bonds[0, 2] = 30000
    h = EpochHyper(tempo=1, yuma3_on=True, liquid_alpha_on=True, bonds_penalty=0, max_allowed_validators=2)
    def run(weights: sp.csr_array) -> np.ndarray:
        return epoch(EpochInput(1, 10, 1.0, np.array([1.0, 1.0, 0.0]), weights, sp.csr_array(bonds),
                                np.array([True, True, False]), np.full(n, 9), np.zeros(n, np.int64), -1, h)).bonds
    with_zero = sp.csr_array((np.array([0, 65535, 65535], np.uint16), ([0, 0, 1], [2, 1, 2])), shape=(n, n))
    without = sp.csr_array((np.array([65535, 65535], np.uint16), ([0, 1], [1, 2])), shape=(n, n))
    assert 0 < run(with_zero)[0, 2] < 30000
    assert run(without)[0, 2] == 0


def test_reused_hyper_object_takes_each_inputs_block_owner_and_emission() -> None:
    """The kernel parameters cached per EpochHyper object carry no block, owner or emission over
    from an earlier call: results equal those of a fresh hyper object."""
    from dtao.bench.epoch import make_epoch_input

    base = make_epoch_input(3, n=40, validators=8)
    first = epoch(base)
    for block, owner, emission in ((base.block + 700, 2, 55.0), (base.block + 5, -1, 0.0)):
        shared = dataclasses.replace(base, block=block, owner_uid=owner, emission=emission)
        fresh = dataclasses.replace(shared, hyper=dataclasses.replace(base.hyper))
        a, b = epoch(shared), epoch(fresh)
        for f in dataclasses.fields(EpochOutput):
            assert np.array_equal(getattr(a, f.name), getattr(b, f.name)), f.name
        assert a.incentive.dtype == np.uint16
    assert not np.array_equal(epoch(dataclasses.replace(base, emission=55.0)).server_emission, first.server_emission)
