"""Conformance suite runner: checks dtao's chain runtime against cases derived from subtensor's tests.

Schema ``dtao-conformance/1`` (see ``shared/conformance/README.md``).  Each case kind has an adapter
that converts the case's rao/u16 inputs into dtao's TAO-unit calls and the results back into the
chain's units.  Adapters live in ``dtao.conformance.kinds`` and register themselves with
:func:`dtao.conformance.registry.kind`.
"""
from dtao.conformance.runner import run_files, CaseResult

__all__ = ["run_files", "CaseResult"]
