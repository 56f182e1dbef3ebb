"""Run a function over many items on all cores, for the CPU-bound steps of training and evaluation.

Processes are forked (Linux), so the function, the model and the examples are inherited, never
pickled: only the item indices go to the workers and the results come back, in order. The answer
is the same whatever the number of workers (every scoring step is deterministic per document).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["fork_map", "default_workers"]

T = TypeVar("T")
_TASK: Callable[[int], Any] | None = None  # set in the parent just before forking
MIN_PER_WORKER = 16  # fewer items than this per worker: forking costs more than it saves


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _run(bounds: tuple[int, int]) -> list[Any]:
    assert _TASK is not None
    return [_TASK(i) for i in range(*bounds)]


def fork_map(fn: Callable[[int], T], n: int, *, workers: int) -> list[T]:
    """``[fn(0), fn(1), ..., fn(n - 1)]``, computed by ``workers`` forked processes."""
    global _TASK
    if workers <= 1 or n < 2 * MIN_PER_WORKER or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(i) for i in range(n)]
    chunk = max(MIN_PER_WORKER // 2, n // (workers * 8))
    bounds: Sequence[tuple[int, int]] = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
    _TASK = fn
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_run, bounds, chunksize=1)
    finally:
        _TASK = None
    return [x for part in parts for x in part]
