"""dtao.chain: the launch-era dTAO runtime (subtensor v2.0.11), a pure deterministic state transition.

Modules follow subtensor's vocabulary: ``swap`` (pool math), ``stake_pool`` (hotkey share pools),
``staking`` (extrinsics), ``block_emission``, ``subnet_emissions`` (rules splitting TAO among
subnets), ``coinbase`` (per-block emission), ``drain`` (tempo drain), ``epoch`` (Yuma consensus),
``registration``, ``weights``, ``childkeys``, ``migration`` (launch genesis) and ``snapshot``.
"""
from dtao.chain import _numba_cache  # noqa: F401  (first: chain kernels cached against the whole package)
from dtao.chain.params import ChainParams, SubnetHyper
from dtao.chain.state import ROOT, ChainState

__all__ = ["ChainParams", "SubnetHyper", "ChainState", "ROOT"]
