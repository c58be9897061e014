"""Shared test helpers: where ../shared/conformance lives, small chain fixtures, state comparison."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DTAO_SHARED", REPO.parent / "shared"))
CONFORMANCE_DIR = Path(os.environ.get("DTAO_CONFORMANCE_DIR", SHARED / "conformance"))


def conformance_files() -> list[Path]:
    """Every conformance JSON file; fails loudly (not a skip) when the suite is missing."""
    launch = CONFORMANCE_DIR / "launch"
    files = sorted(launch.glob("*.json"))
    if not files:
        pytest.fail(f"conformance suite missing: no JSON files under {launch} "
                    "(set DTAO_CONFORMANCE_DIR or DTAO_SHARED to the shared/ checkout)")
    return files


def snapshot_of(state) -> dict:
    """A complete, comparable picture of a ChainState (the snapshot dict)."""
    from dtao.chain.snapshot import to_dict

    return to_dict(state)


@pytest.fixture
def small_chain():
    """Root + 3 started dynamic subnets with 8 UIDs (4 validators), stake and weights set."""
    from dtao.scenario.initial import synthetic

    return synthetic(np.random.default_rng(7), n_subnets=3, n_uids=8, n_validators=4, root_tao=10_000.0,
                     pool_tao=100.0, validator_alpha=500.0)
