"""Benchmarks: what derivation and checking cost, measured side by side in one run."""
