"""Benchmarks and load tools; run them as modules, e.g. ``python -m bench.fleet 200``."""
