"""Benchmarks, run with ``ohm bench NAME``; each prints one JSON object on its last line."""
