"""Numba's on-disk cache for the chain's compiled kernels, keyed on the whole ``dtao.chain`` source.

Numba stamps a cached function with the source of its own file only, so a kernel that calls a
compiled function from another module (the block loop in ``coinbase`` calls ``drain`` and ``epoch``)
would keep running the old callee after that module is edited.  The locators below stamp every
function defined in ``dtao/chain`` with a hash of all the package's ``.py`` files, so any change there
recompiles every chain kernel once.  Installed on import of :mod:`dtao.chain`; if numba's internals
differ (another numba version), numba's default locators are left as they are.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHAIN_DIR = os.path.dirname(os.path.abspath(__file__))


def _chain_stamp() -> bytes:
    """sha256 over the names, sizes, mtimes and contents of the chain's source files."""
    h = hashlib.sha256()
    for p in sorted(Path(_CHAIN_DIR).glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.digest()


_STAMP: list[bytes] = []


def _stamp() -> bytes:
    if not _STAMP:
        _STAMP.append(_chain_stamp())
    return _STAMP[0]


def install() -> bool:
    """Put the chain-wide locators first in numba's list; returns False if numba has no such hook."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    in_tree = getattr(caching, "InTreeCacheLocator", None) or getattr(caching, "_InTreeCacheLocator", None)
    user_wide = getattr(caching, "UserWideCacheLocator", None) or getattr(caching, "_UserWideCacheLocator", None)
    if impl is None or in_tree is None or user_wide is None or not hasattr(impl, "_locator_classes"):
        return False

    def make(base: type) -> type:
        class ChainLocator(base):  # type: ignore[misc, valid-type]
            def get_source_stamp(self):  # noqa: ANN202 - numba's interface
                return _stamp()

            @classmethod
            def from_function(cls, py_func, py_file):  # noqa: ANN001, ANN206
                if os.path.dirname(os.path.abspath(py_file)) != _CHAIN_DIR:
                    return None
                return super().from_function(py_func, py_file)

        ChainLocator.__name__ = f"DtaoChain{base.__name__}"
        return ChainLocator

    classes = impl._locator_classes
    if any(getattr(c, "__name__", "").startswith("DtaoChain") for c in classes):
        return True
    classes[:0] = [make(in_tree), make(user_wide)]
    return True


INSTALLED = install()
