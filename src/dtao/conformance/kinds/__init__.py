"""Adapters for each conformance case kind (importing this package registers them all)."""
from dtao.conformance.kinds import chain_kinds  # noqa: F401
from dtao.conformance.kinds import epoch_kinds  # noqa: F401
