"""Throughput of :mod:`dtao.chain.epoch` at mainnet-like subnet size (64 validators x 256 UIDs)."""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from dtao.chain.epoch import EpochHyper, EpochInput, epoch, epoch_batch

N_UIDS: int = 256
N_VALIDATORS: int = 64
N_BATCH: int = 128


def make_epoch_input(seed: int = 0, n: int = N_UIDS, validators: int = N_VALIDATORS, density: float = 1.0,
                     sparse: bool = False, netuid: int = 1, stored_consensus: bool = False) -> EpochInput:
    """A realistic epoch input: ``validators`` high-stake UIDs weighting the others, bonds from earlier epochs.

    Stakes are TAO units (validators 1e3-1e5, miners up to 10); weights are row max-upscaled u16
    values on the miners with the given ``density`` of non-zero entries; bonds are column
    max-upscaled u16 values on the validator rows.  ``sparse`` gives csr_array matrices.
    ``stored_consensus``: the input carries the consensus its subnet stored at its last epoch, taken as
    an epoch on these same weights and stakes (a subnet whose consensus did not move; the consensus
    search starts there).  Without it, the input is like a subnet's first epoch (nothing stored).
    """
    rng = np.random.default_rng(seed)
    stake = np.concatenate([rng.uniform(1e3, 1e5, validators), rng.uniform(0.0, 10.0, n - validators)])
    w = np.zeros((n, n))
    mask = rng.random((validators, n - validators)) < density
    w[:validators, validators:] = rng.random((validators, n - validators)) * mask
    rowmax = w.max(axis=1, keepdims=True)
    w = np.floor(np.divide(w, rowmax, out=np.zeros_like(w), where=rowmax > 0) * 65535.0).astype(np.uint16)
    b = np.zeros((n, n))
    b[:validators, validators:] = rng.random((validators, n - validators)) * mask
    colmax = b.max(axis=0, keepdims=True)
    b = np.floor(np.divide(b, colmax, out=np.zeros_like(b), where=colmax > 0) * 65535.0).astype(np.uint16)
    permit = np.zeros(n, dtype=bool)
    permit[:validators] = True
    block = 10_000
    inp = EpochInput(
        netuid=netuid, block=block, emission=148.0, stake=stake,
        weights=sp.csr_array(w) if sparse else w, bonds=sp.csr_array(b) if sparse else b,
        validator_permit=permit, last_update=np.full(n, block - 100, dtype=np.int64),
        block_at_registration=np.zeros(n, dtype=np.int64), owner_uid=0,
        hyper=EpochHyper(max_allowed_validators=validators),
    )
    if stored_consensus:
        inp.consensus = epoch(inp).consensus
    return inp


def _rate(fn: Callable[[], Any], seconds: float, per_call: int) -> float:
    fn()  # warm (compiles on first use)
    calls = 0
    t0 = time.perf_counter()
    while True:
        fn()
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return calls * per_call / dt


def bench_epoch(seconds: float = 2.0) -> dict:
    """Epochs per second of dtao's epoch at 64 validators x 256 UIDs.

    Keys: ``dense_epochs_per_second`` (one ``epoch`` call on ndarray inputs),
    ``sparse_epochs_per_second`` (csr_array inputs with 10% non-zero weights),
    ``batched_epochs_per_second`` (``epoch_batch`` of 128 dense subnets; epochs = subnets),
    ``cycling_epochs_per_second`` (one ``epoch`` call per subnet in turn over the same 128 subnets,
    as a simulation runs them: every call sees other data, so caches and branch predictors are cold),
    ``dense_steady_epochs_per_second`` and ``cycling_steady_epochs_per_second`` (the same with each
    input carrying the consensus its subnet stored at its last epoch, unchanged since: the consensus
    search starts there; the other figures have no stored consensus, like a subnet's first epoch),
    and the shapes.  ``seconds`` is the measuring time of each figure.
    """
    dense = make_epoch_input(0)
    sparse = make_epoch_input(1, density=0.1, sparse=True)
    batch = [make_epoch_input(100 + s, netuid=s + 1) for s in range(N_BATCH)]
    steady = make_epoch_input(0, stored_consensus=True)
    steady_batch = [make_epoch_input(100 + s, netuid=s + 1, stored_consensus=True) for s in range(N_BATCH)]
    return {
        "benchmark": "epoch",
        "validators": N_VALIDATORS,
        "uids": N_UIDS,
        "sparse_density": 0.1,
        "batch_subnets": N_BATCH,
        "seconds_per_figure": seconds,
        "dense_epochs_per_second": _rate(lambda: epoch(dense), seconds, 1),
        "sparse_epochs_per_second": _rate(lambda: epoch(sparse), seconds, 1),
        "batched_epochs_per_second": _rate(lambda: epoch_batch(batch), seconds, N_BATCH),
        "cycling_epochs_per_second": _rate(lambda: [epoch(b) for b in batch], seconds, N_BATCH),
        "dense_steady_epochs_per_second": _rate(lambda: epoch(steady), seconds, 1),
        "cycling_steady_epochs_per_second": _rate(lambda: [epoch(b) for b in steady_batch], seconds, N_BATCH),
    }
