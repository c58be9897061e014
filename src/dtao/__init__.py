"""dtao: a simulator of Bittensor's Dynamic TAO (dTAO) token economy.

The package is layered bottom to top (each layer imports only from below):
``dtao.chain`` (the runtime), ``dtao.agents``, ``dtao.scenario``, ``dtao.sim``,
``dtao.experiment``, ``dtao.report`` and ``dtao.cli``.
"""

__version__ = "0.1.0"
