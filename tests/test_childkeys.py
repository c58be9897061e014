"""Childkeys: scheduling, cooldown applied at the subnet's epoch, checks, inherited stake and the
parent/child dividend split."""
from __future__ import annotations

import numpy as np
import pytest

from dtao.chain import errors as E
from dtao.chain.childkeys import inherited_stakes, set_children
from dtao.chain.coinbase import block_step, blocks_until_next_epoch
from dtao.chain.drain import parent_child_split
from dtao.chain.invariants import check_invariants
from dtao.chain.state import ROOT


def _parent_child(st):
    parent = int(st.neurons[1].hotkey[1])
    pck = int(st.hotkey_owner[parent])
    child_ck = st.new_coldkey(1.0)
    child = st.new_hotkey(child_ck)
    return pck, parent, child


def test_checks(small_chain):
    st = small_chain
    pck, parent, child = _parent_child(st)
    with pytest.raises(E.NonAssociatedColdKey):
        set_children(st, int(st.hotkey_owner[child]), parent, 1, [(0.5, child)])  # not the parent's owner
    with pytest.raises(E.InvalidChild):
        set_children(st, pck, parent, 1, [(0.5, parent)])
    with pytest.raises(E.InvalidChild):
        set_children(st, pck, parent, 1, [(0.7, child), (0.7, int(st.neurons[1].hotkey[2]))])
    with pytest.raises(E.TooManyChildren):
        set_children(st, pck, parent, 1, [(0.1, int(h)) for h in st.neurons[1].hotkey[2:8]])
    set_children(st, pck, parent, 1, [(0.5, child)])
    with pytest.raises(E.TxRateLimitExceeded):
        set_children(st, pck, parent, 1, [(0.4, child)])


def test_applied_at_first_epoch_after_cooldown_and_inherits(small_chain):
    st = small_chain
    st.params = st.params.with_(pending_childkey_cooldown=20)
    pck, parent, child = _parent_child(st)
    set_children(st, pck, parent, 1, [(0.5, child)])
    due = st.block + 20
    fired = None
    for _ in range(800):
        b = st.block
        block_step(st)
        if (parent, 1) in st.children:
            fired = b
            break
    assert fired is not None and fired > due and blocks_until_next_epoch(1, int(st.tempo[1]), fired) == 0
    a, t = inherited_stakes(st, np.array([parent, child]), 1)
    own_a, own_t = st.hotkey_alpha[parent, 1], st.hotkey_alpha[parent, ROOT]
    assert np.allclose(a, [own_a * 0.5, own_a * 0.5]) and np.allclose(t, [own_t * 0.5, own_t * 0.5])
    # the child's dividends are shared with the parent by contribution, minus the child's take
    st._childkey_take[child, 1] = 0.1
    split = dict(parent_child_split(st, child, 1, 100.0))
    assert np.isclose(sum(split.values()), 100.0)
    assert split[parent] > 0 and split[child] > 0
    check_invariants(st)
