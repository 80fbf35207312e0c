"""Summaries the benchmarks print: percentiles of a sample, the same way in every bench."""
from __future__ import annotations


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples`` by nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def p50_p99(samples: list[float], unit: str = "ms") -> str:
    return (f"p50 {percentile(samples, 0.50):.2f} {unit}, p99 {percentile(samples, 0.99):.2f} {unit} "
            f"over {len(samples)}")


def p50_p95(samples: list[float], unit: str = "ms") -> str:
    return (f"p50 {percentile(samples, 0.50):.2f} {unit}, p95 {percentile(samples, 0.95):.2f} {unit} "
            f"over {len(samples)}")
