"""Benchmarks (``make bench``, ``python -m bench.run``): each prints its numbers.

The API runs in-process or as a child in several benches; its per-request JSON log lines and EMF
metric blobs would bury the figures, so benches log the app's warnings only and emit no metrics
(a caller's own setting wins).
"""
import os

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
