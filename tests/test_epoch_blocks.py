"""The launch-era epoch of a large subnet works on two column blocks in parallel (threads).

Its results must be those of the one-block computation (up to the order of two partial row sums) and
must not depend on the number of threads."""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

from dtao.bench.chain import bench_network
from dtao.bench.epoch import make_epoch_input
from dtao.chain.coinbase import run_blocks
from dtao.chain.epoch import EpochHyper, EpochInput, _n_blocks, epoch, epoch_batch

U16_FIELDS = ("incentive", "dividends", "consensus", "trust", "validator_trust", "rank", "pruning_scores")


def _pad(inp: EpochInput) -> EpochInput:
    """The same epoch with one more UID that holds nothing (no stake, weights, bonds or permit):
    257 UIDs are not split into blocks, so this is the one-block computation of ``inp``."""
    n = inp.stake.size

    def grow(m: np.ndarray) -> np.ndarray:
        out = np.zeros((n + 1, n + 1), m.dtype)
        out[:n, :n] = m
        return out

    return dataclasses.replace(
        inp, stake=np.append(inp.stake, 0.0), weights=grow(inp.weights), bonds=grow(inp.bonds),
        validator_permit=np.append(inp.validator_permit, False), last_update=np.append(inp.last_update, 0),
        block_at_registration=np.append(inp.block_at_registration, 0),
        consensus=None if inp.consensus is None else np.append(inp.consensus, 0))


# (not liquid alpha: its EMA coefficients come from quantiles over all columns, which the extra UID moves)
@pytest.mark.parametrize("hyper", [{}, {"bonds_penalty": 30000}, {"bonds_penalty": 0}, {"kappa": 40000},
                                   {"max_allowed_validators": 40}])
@pytest.mark.parametrize("seed", [0, 1])
def test_two_blocks_equal_one_block(hyper: dict, seed: int) -> None:
    inp = make_epoch_input(seed, n=256, validators=64, density=0.7)
    inp.hyper = EpochHyper(**{"max_allowed_validators": 64, **hyper})
    assert _n_blocks(256, False) == 2 and _n_blocks(257, False) == 1
    two, one = epoch(inp), epoch(_pad(inp))
    for f in U16_FIELDS:
        a, b = getattr(two, f).astype(np.int64), getattr(one, f)[:256].astype(np.int64)
        # the validator trust and dividends add two partial row sums: a last-bit difference may move a
        # stored u16 by one
        assert np.abs(a - b).max() <= (1 if f in ("validator_trust", "dividends", "pruning_scores") else 0), f
    np.testing.assert_allclose(two.server_emission, one.server_emission[:256], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(two.validator_emission, one.validator_emission[:256], rtol=1e-12, atol=1e-15)
    assert np.array_equal(two.bonds, one.bonds[:256, :256])
    assert np.array_equal(two.validator_permit, one.validator_permit[:256])


def test_results_do_not_depend_on_threads() -> None:
    threads = numba.get_num_threads()
    inputs = [make_epoch_input(3, n=256, validators=64, density=0.5), make_epoch_input(4, n=256, validators=64)]
    inputs[1].hyper = EpochHyper(liquid_alpha_on=True)
    net = bench_network(3, 256, 64, seed=1)
    try:
        numba.set_num_threads(1)
        one = [epoch(inp) for inp in inputs]
        st1 = net.copy()
        run_blocks(st1, 1200)
        numba.set_num_threads(threads)
        many = [epoch(inp) for inp in inputs]
        st2 = net.copy()
        run_blocks(st2, 1200)
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(one, many):
        for f in U16_FIELDS + ("server_emission", "validator_emission", "bonds", "validator_permit"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert np.array_equal(st1.hotkey_alpha, st2.hotkey_alpha)
    for nu in st1.subnet_netuids:
        assert np.array_equal(st1.neurons[int(nu)].bonds, st2.neurons[int(nu)].bonds)
        assert np.array_equal(st1.neurons[int(nu)].dividends, st2.neurons[int(nu)].dividends)


def test_other_threads_work_the_blocks_in_turn_with_the_same_results() -> None:
    """Only the main thread opens parallel regions (dtao.chain.threads.may_fork_join); an epoch or a
    chain run from another thread (epoch_batch's, a thread pool's) works the blocks one after
    another and gets the same results, bit for bit."""
    inputs = [make_epoch_input(s, n=256, validators=64, density=0.6) for s in range(4)]
    net = bench_network(2, 256, 64, seed=2)
    main = [epoch(i) for i in inputs]
    st_main = net.copy()
    run_blocks(st_main, 800)

    def elsewhere() -> tuple:
        st = net.copy()
        run_blocks(st, 800)
        return [epoch(i) for i in inputs], st

    with ThreadPoolExecutor(1) as ex:
        other, st_other = ex.submit(elsewhere).result()
    for a, b, c in zip(main, other, epoch_batch(inputs)):
        for f in U16_FIELDS + ("server_emission", "validator_emission", "bonds", "validator_permit"):
            assert np.array_equal(getattr(a, f), getattr(b, f)) and np.array_equal(getattr(a, f), getattr(c, f)), f
    assert np.array_equal(st_main.hotkey_alpha, st_other.hotkey_alpha)
    for nu in st_main.subnet_netuids:
        assert np.array_equal(st_main.neurons[int(nu)].bonds, st_other.neurons[int(nu)].bonds)
