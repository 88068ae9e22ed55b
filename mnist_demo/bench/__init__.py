"""Benchmarks measured side by side in one run (``mnist-demo bench TARGET``)."""
