"""Childkeys: a parent hotkey lends proportions of its stake weight to child hotkeys (spec 3.4-3.5).

``set_children`` schedules a change that takes effect at the subnet's first epoch after
``PendingChildKeyCooldown`` blocks.
Inherited stake per subnet: own - sum(own*q_child) + sum(parent_own*q_parent), for alpha on the
subnet and for root TAO (with this subnet's links).
"""
from __future__ import annotations

import numpy as np

from dtao.chain.errors import InvalidChild, NonAssociatedColdKey, TooManyChildren, TxRateLimitExceeded
from dtao.chain.state import ROOT, ChainState


MAX_CHILDREN = 5
SET_CHILDREN_RATE_LIMIT = 150  # blocks


def set_children(state: ChainState, coldkey: int, hotkey: int, netuid: int,
                 children: list[tuple[float, int]]) -> None:
    """Schedule ``hotkey``'s children on ``netuid`` as (proportion in [0, 1], child hotkey) pairs
    (``do_schedule_children``).  The schedule replaces any pending one and takes effect at the first
    epoch of the subnet after ``PendingChildKeyCooldown`` blocks.

    Errors: NonAssociatedColdKey, InvalidChild (root, self, duplicates, unknown child, proportions
    above 1 in total), TooManyChildren (> 5), TxRateLimitExceeded (150 blocks), SubnetNotExists.
    """
    nu = state.check_subnet(netuid)
    ck = state.check_coldkey(coldkey)
    hk = state.check_hotkey(hotkey)
    if nu == ROOT:
        raise InvalidChild("childkeys cannot be set on root")
    if state.hotkey_owner[hk] != ck:
        raise NonAssociatedColdKey(f"coldkey {ck} does not own hotkey {hk}")
    if len(children) > MAX_CHILDREN:
        raise TooManyChildren(f"{len(children)} children; at most {MAX_CHILDREN}")
    last = state.last_children_set.get((hk, nu))
    if last is not None and state.block - last < SET_CHILDREN_RATE_LIMIT:
        raise TxRateLimitExceeded(f"children of hotkey {hk} on subnet {nu} set at block {last}; "
                                  f"wait {SET_CHILDREN_RATE_LIMIT} blocks")
    seen = set()
    total = 0.0
    for q, child in children:
        if isinstance(q, bool) or not isinstance(q, (int, float)) or q != q or not (0.0 <= float(q) <= 1.0):
            raise InvalidChild(f"proportion {q!r} outside [0, 1]")
        c = state.check_hotkey(child)
        if c == hk or c in seen:
            raise InvalidChild(f"child {c} is the parent itself or repeated")
        seen.add(c)
        total += float(q)
    if total > 1.0 + 1e-12:
        raise InvalidChild(f"children proportions sum to {total} > 1")
    state.pending_children[(hk, nu)] = (state.block + state.params.pending_childkey_cooldown,
                                        [(float(q), int(c)) for q, c in children])
    state.last_children_set[(hk, nu)] = state.block


def apply_pending_children(state: ChainState, netuids: np.ndarray) -> None:
    """``do_set_pending_children`` for the subnets whose epoch ran this block: schedules whose
    cooldown block is strictly below the current block replace the parent's children."""
    if not state.pending_children:
        return
    due_nets = set(int(n) for n in netuids)
    for (parent, nu), (cool, kids) in list(state.pending_children.items()):
        if nu not in due_nets or not cool < state.block:
            continue
        del state.pending_children[(parent, nu)]
        for _, old in state.children.get((parent, nu), []):
            left = [(q, p) for q, p in state.parents.get((old, nu), []) if p != parent]
            if left:
                state.parents[(old, nu)] = left
            else:
                state.parents.pop((old, nu), None)
        if kids:
            state.children[(parent, nu)] = list(kids)
        else:
            state.children.pop((parent, nu), None)
        for q, c in kids:
            state.parents.setdefault((c, nu), []).append((q, parent))


def inherited_stakes(state: ChainState, hotkeys: np.ndarray, netuid: int) -> tuple[np.ndarray, np.ndarray]:
    """(inherited alpha on ``netuid``, inherited root TAO) for ``hotkeys`` (``get_stake_weights_for_network``)."""
    alpha = state.hotkey_alpha[hotkeys, netuid].copy()
    tao = state.hotkey_alpha[hotkeys, ROOT].copy()
    if not state.children and not state.parents:
        return alpha, tao
    for i, hk in enumerate(hotkeys):
        hk = int(hk)
        kids = state.children.get((hk, netuid))
        pars = state.parents.get((hk, netuid))
        if not kids and not pars:
            continue
        own_a, own_t = state.hotkey_alpha[hk, netuid], state.hotkey_alpha[hk, ROOT]
        a, t = own_a, own_t
        for q, _ in kids or []:
            a -= own_a * q
            t -= own_t * q
        for q, p in pars or []:
            a += state.hotkey_alpha[p, netuid] * q
            t += state.hotkey_alpha[p, ROOT] * q
        alpha[i], tao[i] = max(a, 0.0), max(t, 0.0)
    return alpha, tao
