"""Benchmarks of dtao components (``dtao bench``)."""
