"""The one percentile every bench and eval report uses, and the timing summary built on it.

Definition: linear interpolation between order statistics, numpy's default `method="linear"` (Hyndman & Fan
type 7): the p-th percentile of sorted values v[0..n-1] sits at position p/100·(n-1), between its two neighbours.
p50 is the median; p95 of 20 timings lies between the 19th and 20th. An empty list gives nan.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between order statistics (nan when empty)."""
    if not values:
        return math.nan
    v = sorted(values)
    pos = p / 100 * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    """The p50 (the usual median: the middle value, or the mean of the middle two)."""
    return percentile(values, 50)


def summarize(values: Sequence[float], points: Sequence[int] = (50, 95, 99)) -> dict:
    """The percentiles at `points` (keys "p50", ...), mean and count of a list of timings."""
    n = len(values)
    return {**{f"p{p}": percentile(values, p) for p in points},
            "mean": sum(values) / n if n else math.nan, "n": n}
