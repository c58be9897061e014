"""Snapshots: a saved and loaded state continues bit-identically; malformed files are rejected."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dtao.chain import staking as S
from dtao.chain.coinbase import block_step
from dtao.chain.snapshot import SnapshotError, load, save, to_dict


def test_round_trip_continues_identically(small_chain, tmp_path):
    st = small_chain
    ck = st.new_coldkey(50.0)
    S.add_stake(st, ck, int(st.neurons[1].hotkey[1]), 1, 10.0)
    for _ in range(200):
        block_step(st)
    save(st, tmp_path / "s.json")
    loaded = load(tmp_path / "s.json")
    assert to_dict(loaded) == to_dict(st)
    for _ in range(500):
        block_step(st)
        block_step(loaded)
    assert to_dict(loaded) == to_dict(st)
    assert np.array_equal(loaded.neurons[1].bonds, st.neurons[1].bonds)


def test_bad_snapshots(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(SnapshotError, match="not valid JSON"):
        load(p)
    p.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(SnapshotError, match="dtao-snapshot/1"):
        load(p)
    p.write_text(json.dumps({"schema": "dtao-snapshot/1", "params": {}}))
    with pytest.raises(SnapshotError, match="malformed"):
        load(p)
