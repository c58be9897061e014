"""Save and load the full chain state as a versioned JSON snapshot (``dtao-snapshot/1``).

Floats are written with Python's shortest round-trip repr, so a loaded state continues
bit-identically.  Amounts are TAO units as inside dtao (documented in the file's ``units`` key).
"""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from dtao.chain.params import ChainParams, SubnetHyper
from dtao.chain.positions import PositionMap
from dtao.chain.state import (
    HOTKEY_SUBNET_FIELDS,
    SUBNET_BOOL_FIELDS,
    SUBNET_FLOAT_FIELDS,
    SUBNET_INT_FIELDS,
    ChainState,
    Neurons,
)

SNAPSHOT_SCHEMA = "dtao-snapshot/1"
_SCALARS = ("block", "total_issuance", "total_stake", "initial_issuance", "tao_injected", "tao_burned",
            "root_divs_off_ledger", "tao_unowned", "network_last_lock_cost", "network_last_lock_block",
            )


class SnapshotError(ValueError):
    """A snapshot file is malformed or of an unknown schema."""


def to_dict(state: ChainState) -> dict[str, Any]:
    """The state as a JSON-able dict."""
    cap = state.n_subnets_cap
    d: dict[str, Any] = {"schema": SNAPSHOT_SCHEMA, "units": "TAO (1 TAO = 1e9 rao); alpha in alpha units",
                         "params": asdict(state.params), "n_subnets_cap": cap}
    d["scalars"] = {k: getattr(state, k) for k in _SCALARS}
    d["subnets"] = {k: getattr(state, k).tolist() for k in (*SUBNET_FLOAT_FIELDS, *SUBNET_INT_FIELDS, *SUBNET_BOOL_FIELDS)}
    d["hyper"] = [asdict(h) if h is not None else None for h in state.hyper]
    d["neurons"] = [None if nr is None else {f.name: getattr(nr, f.name).tolist() for f in fields(Neurons)}
                    for nr in state.neurons]
    d["coldkeys"] = {"balance": state.balance.tolist()}
    d["hotkeys"] = {"owner": state.hotkey_owner.tolist(), "take": state.hotkey_take.tolist(),
                    **{k: getattr(state, k).tolist() for k in HOTKEY_SUBNET_FIELDS}}
    d["positions"] = [[ck, hk, nu, s] for (ck, hk, nu), s in state.positions.items()]
    d["children"] = [[hk, nu, kids] for (hk, nu), kids in state.children.items()]
    d["parents"] = [[hk, nu, ps] for (hk, nu), ps in state.parents.items()]
    d["pending_children"] = [[p, nu, b, kids] for (p, nu), (b, kids) in state.pending_children.items()]
    d["last_children_set"] = [[p, nu, b] for (p, nu), b in state.last_children_set.items()]
    d["root_weights"] = [[hk, w.tolist()] for hk, w in state.root_weights.items()]
    return d


def from_dict(d: dict[str, Any]) -> ChainState:
    """Rebuild a ChainState from :func:`to_dict` output."""
    if not isinstance(d, dict) or d.get("schema") != SNAPSHOT_SCHEMA:
        raise SnapshotError(f"not a {SNAPSHOT_SCHEMA} snapshot (schema={d.get('schema') if isinstance(d, dict) else None!r})")
    try:
        state = ChainState(params=ChainParams.from_dict(d["params"]))
        cap = int(d["n_subnets_cap"])
        state._ensure_subnet_capacity(cap - 1)
        for k, v in d["scalars"].items():
            setattr(state, k, v)
        for k in SUBNET_FLOAT_FIELDS:
            getattr(state, k)[:] = np.asarray(d["subnets"][k], np.float64)
        for k in SUBNET_INT_FIELDS:
            getattr(state, k)[:] = np.asarray(d["subnets"][k], np.int64)
        for k in SUBNET_BOOL_FIELDS:
            getattr(state, k)[:] = np.asarray(d["subnets"][k], bool)
        state.hyper = [None if h is None else SubnetHyper(**h) for h in d["hyper"]]
        dtypes = {"hotkey": np.int64, "block_at_registration": np.int64, "last_update": np.int64,
                  "validator_permit": bool, "emission": np.float64}
        state.neurons = []
        for nr in d["neurons"]:
            if nr is None:
                state.neurons.append(None)
                continue
            kw = {}
            for f in fields(Neurons):
                dt = dtypes.get(f.name, np.uint16)
                arr = np.asarray(nr[f.name], dt)
                if f.name in ("weights", "bonds"):
                    n = len(nr["hotkey"])
                    arr = arr.reshape(n, n)
                kw[f.name] = arr
            state.neurons.append(Neurons(**kw))
        state.new_coldkeys(np.asarray(d["coldkeys"]["balance"], np.float64))
        hk = d["hotkeys"]
        if hk["owner"]:
            state.new_hotkeys(np.asarray(hk["owner"], np.int64))
        state._hotkey_take[: state.n_hotkeys] = np.asarray(hk["take"], np.float64)
        for k in HOTKEY_SUBNET_FIELDS:
            arr = np.asarray(hk[k], np.float64).reshape(state.n_hotkeys, cap)
            getattr(state, "_" + k)[: state.n_hotkeys] = arr
        for k, v in d["scalars"].items():  # new_coldkeys changed issuance counters; restore them
            setattr(state, k, v)
        state.positions = PositionMap(((int(a), int(b), int(c)), float(s)) for a, b, c, s in d["positions"])
        state.children = {(int(h), int(n)): [(float(q), int(c)) for q, c in kids] for h, n, kids in d["children"]}
        state.parents = {(int(h), int(n)): [(float(q), int(p)) for q, p in ps] for h, n, ps in d["parents"]}
        state.pending_children = {(int(p), int(n)): (int(b), [(float(q), int(c)) for q, c in kids])
                                  for p, n, b, kids in d["pending_children"]}
        state.last_children_set = {(int(p), int(n)): int(b) for p, n, b in d["last_children_set"]}
        state.root_weights = {int(h): np.asarray(w, np.float64) for h, w in d["root_weights"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"malformed snapshot: {type(exc).__name__}: {exc}") from exc
    return state


def save(state: ChainState, path: str | Path) -> None:
    """Write ``state`` to ``path`` as JSON."""
    Path(path).write_text(json.dumps(to_dict(state), allow_nan=False))


def load(path: str | Path) -> ChainState:
    """Read a snapshot written by :func:`save`."""
    try:
        d = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}: not valid JSON ({exc})") from exc
    return from_dict(d)
