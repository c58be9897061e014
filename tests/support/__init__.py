"""Helpers for dtao's tests (not part of the package)."""
