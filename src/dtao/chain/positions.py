"""The nominators' ``Alpha`` map: (coldkey, hotkey, netuid) -> shares, for coldkeys that do not own
the hotkey (the owner's shares are the dense ``owner_shares`` array).

:class:`PositionMap` behaves as the dict it replaces (same keys, values and insertion order) but keeps
each position's shares in a dense float64 array, one slot per position, with the slot's key beside
it, so that a reader that remembers slots reads thousands of positions in one vectorised gather
(:meth:`PositionMap.shares_of`) instead of thousands of hash-table probes.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping

import numpy as np
from numba import njit

Key = tuple[int, int, int]
_MISSING = object()


class PositionMap(MutableMapping):
    """(coldkey, hotkey, netuid) -> shares (float, > 0 for a live position), iterated in insertion
    order like a dict.  Shares live in ``_shares[slot]`` and the slot's key in ``_key[:, slot]``
    (-1 for a free slot); a removed position's slot is reused by the next new one (last freed first),
    so a slot remembered by a reader either still holds its key or is recognised as stale."""

    def __init__(self, items: Mapping[Key, float] | Iterable[tuple[Key, float]] = ()) -> None:
        self._slot: dict[Key, int] = {}
        self._shares = np.zeros(16)
        self._key = np.full((3, 16), -1, np.int64)
        self._free: list[int] = []
        self._top = 0  # slots ever used
        for k, v in (items.items() if isinstance(items, Mapping) else items):
            self[k] = v

    # -- the dict interface
    def __getitem__(self, key: Key) -> float:
        return float(self._shares[self._slot[key]])

    def get(self, key: Key, default: float | None = None) -> float | None:  # type: ignore[override]
        s = self._slot.get(key)
        return default if s is None else self._shares.item(s)

    def __setitem__(self, key: Key, shares: float) -> None:
        s = self._slot.get(key)
        if s is None:
            if self._free:
                s = self._free.pop()
            else:
                s = self._top
                self._top += 1
                if s == self._shares.size:
                    self._shares = np.concatenate([self._shares, np.zeros(s)])
                    self._key = np.concatenate([self._key, np.full((3, s), -1, np.int64)], axis=1)
            ck, hk, nu = key
            self._key[0, s], self._key[1, s], self._key[2, s] = ck, hk, nu
            self._slot[key] = s
        self._shares[s] = shares

    def __delitem__(self, key: Key) -> None:
        self._release(self._slot.pop(key))

    def pop(self, key: Key, default: object = _MISSING) -> object:  # type: ignore[override]
        s = self._slot.pop(key, None)
        if s is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        out = float(self._shares[s])
        self._release(s)
        return out

    def _release(self, s: int) -> None:
        self._key[:, s] = -1
        self._shares[s] = 0.0
        self._free.append(s)

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def __iter__(self) -> Iterator[Key]:
        return iter(self._slot)

    def __len__(self) -> int:
        return len(self._slot)

    def __repr__(self) -> str:
        return f"PositionMap({dict(self.items())!r})"

    # -- vectorised reads
    def shares_of(self, cks: np.ndarray, hks: np.ndarray, nus: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Shares of each position ``(cks[i], hks[i], nus[i])`` (0.0 where there is none), as
        ``get(key, 0.0)`` gives them.  ``slots`` (int64, one per position) holds the caller's last
        known slot of each (-1: unknown) and is updated in place: a slot that still holds the same key
        is read directly (:func:`_slot_holds`); any other position is looked up in the map once."""
        cks, hks, nus = (np.ascontiguousarray(a, np.int64).reshape(-1) for a in (cks, hks, nus))
        out = np.zeros(cks.size)
        miss = np.empty(cks.size, np.int64)
        k = _shares_core(self._key, self._shares, self._top, cks, hks, nus, slots, out, miss)
        if k:
            m = miss[:k]
            self._look_up(cks, hks, nus, slots, m)
            out[m] = np.where(slots[m] >= 0, self._shares[np.maximum(slots[m], 0)], 0.0)
        return out

    def _look_up(self, cks: np.ndarray, hks: np.ndarray, nus: np.ndarray, slots: np.ndarray,
                 idx: np.ndarray) -> None:
        """Slots of the positions ``idx`` found in the map (-1 where there is none), into ``slots``."""
        get = self._slot.get
        keys = zip(cks[idx].tolist(), hks[idx].tolist(), nus[idx].tolist())
        slots[idx] = np.fromiter((get(k, -1) for k in keys), np.int64, idx.size)


@njit(cache=True, inline="always")
def _slot_holds(key: np.ndarray, top: int, sl: int, ck: int, hk: int, nu: int) -> bool:
    """True when slot ``sl`` of the nominator map (keys ``key``, ``top`` slots ever used) still holds
    the position (``ck``, ``hk``, ``nu``): a remembered slot is stale once freed and reused."""
    return sl >= 0 and sl < top and key[0, sl] == ck and key[1, sl] == hk and key[2, sl] == nu


@njit(cache=True)
def _shares_core(key: np.ndarray, pshares: np.ndarray, top: int, cks: np.ndarray, hks: np.ndarray,
                 nus: np.ndarray, slots: np.ndarray, out: np.ndarray, miss: np.ndarray) -> int:
    """Shares of the positions whose remembered slot still holds them, into ``out``; the others'
    indices into ``miss``, their count returned."""
    k = 0
    for i in range(cks.size):
        if _slot_holds(key, top, slots[i], cks[i], hks[i], nus[i]):
            out[i] = pshares[slots[i]]
        else:
            miss[k] = i
            k += 1
    return k


@njit(cache=True)
def _values_core(hotkey_owner: np.ndarray, owner_shares: np.ndarray, hotkey_alpha: np.ndarray,
                 hotkey_shares: np.ndarray, key: np.ndarray, pshares: np.ndarray, top: int, cks: np.ndarray,
                 hks: np.ndarray, nus: np.ndarray, slots: np.ndarray, out: np.ndarray, miss: np.ndarray,
                 limits: np.ndarray, where: np.ndarray) -> int:
    """Alpha of each position ``(cks[i], hks[i], nus[i])``, ``V * s / D`` of its hotkey's pool (0 where
    ``D`` is 0), into ``out``: ``s`` from ``owner_shares`` where the coldkey owns the hotkey, else from
    the nominator map's slot ``slots[i]`` when that slot still holds the key.  The positions whose slot
    is not known or stale are left to the caller: their indices go to ``miss`` and their count is
    returned.  ``limits``: the number of coldkeys, hotkeys and netuid slots; a position with an id
    outside them stops the pass, and ``-1 - i`` is returned for the first such position ``i``.
    ``where``: bool, one per position, the positions to read (the others are skipped: ``out`` and
    ``slots`` keep what they hold), or empty for all."""
    k = 0
    every = where.size == 0
    for i in range(cks.size):
        if not every and not where[i]:
            continue
        ck, hk, nu = cks[i], hks[i], nus[i]
        if not (0 <= ck < limits[0] and 0 <= hk < limits[1] and 0 <= nu < limits[2]):
            return -1 - i
        if hotkey_owner[hk] == ck:
            s = owner_shares[hk, nu]
        elif _slot_holds(key, top, slots[i], ck, hk, nu):
            s = pshares[slots[i]]
        else:
            miss[k] = i
            k += 1
            continue
        d = hotkey_shares[hk, nu]
        out[i] = hotkey_alpha[hk, nu] * s / d if d > 0 else 0.0
    return k
