"""Array helpers shared by the features and the crawl scan."""

from __future__ import annotations

import numpy as np

__all__ = ["distinct_sorted"]


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D integer array, sorted: ``np.unique(values)``'s answer. numpy 2.x's
    ``np.unique`` takes a hash-table path for integers that is 10-60 times slower than a sort here
    (0.23 s against 4 ms for a language's 630,000 word hashes; 0.7 against 0.04 ms for 5,000 values)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
