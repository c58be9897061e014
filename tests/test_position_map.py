"""The chain's nominator map (PositionMap) against the dict it replaces, and its slot reads."""
from __future__ import annotations

import copy

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dtao.chain.positions import PositionMap

_keys = st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 2))
_ops = st.lists(st.tuples(st.sampled_from(["set", "pop", "del"]), _keys, st.floats(0.001, 1e6)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(_ops)
def test_position_map_behaves_as_a_dict(ops) -> None:
    """Same keys, values and iteration order as a dict after any sequence of sets, pops and deletes;
    every read through remembered slots (some of them stale after slots were freed and reused) gives
    ``get(key, 0.0)``."""
    pm, d = PositionMap(), {}
    probe = [(c, h, n) for c in range(6) for h in range(4) for n in range(3)]
    cks, hks, nus = (np.array([k[j] for k in probe], np.int64) for j in range(3))
    slots = np.full(len(probe), -1, np.int64)
    for op, key, v in ops:
        if op == "set":
            pm[key], d[key] = v, v
        elif op == "pop":
            assert pm.pop(key, None) == d.pop(key, None)
        elif key in d:
            del pm[key], d[key]
        assert list(pm.items()) == list(d.items()) and len(pm) == len(d) and (key in pm) == (key in d)
        got = pm.shares_of(cks, hks, nus, slots)
        assert got.tolist() == [d.get(k, 0.0) for k in probe]
        held = slots >= 0
        assert all(pm._slot[probe[i]] == slots[i] for i in np.flatnonzero(held))
    assert pm == d and PositionMap(d) == d and copy.deepcopy(pm) == d
    assert list(PositionMap(d)) == list(d)
