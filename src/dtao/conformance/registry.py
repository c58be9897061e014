"""Registry of conformance case kinds: ``kind`` name -> adapter function ``(input) -> got``."""
from __future__ import annotations

from typing import Any, Callable

Adapter = Callable[[dict[str, Any]], dict[str, Any]]
ADAPTERS: dict[str, Adapter] = {}


class ExpectedChainError(Exception):
    """Raised by an adapter's caller path; adapters instead return ``{"error": name, ...state}``."""


def kind(name: str) -> Callable[[Adapter], Adapter]:
    """Register ``fn`` as the adapter for case kind ``name``.

    An adapter takes the case's ``input`` dict (chain units: rao integers, u16 integers, floats)
    and returns ``got``: a dict in the same units and shape as the case's ``expect`` (extra keys
    allowed).  When the chain would return an error, the adapter returns
    ``{"error": "<ErrorName>", ...state after the call}``.
    """

    def deco(fn: Adapter) -> Adapter:
        if name in ADAPTERS:
            raise RuntimeError(f"conformance kind {name!r} registered twice")
        ADAPTERS[name] = fn
        return fn

    return deco
