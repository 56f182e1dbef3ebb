"""Run a function over many items on all cores, for the CPU-bound steps of training and evaluation.

Processes are forked (Linux), so the function, the model and the examples are inherited, never
pickled: only the item indices go to the workers and the results come back, in order. The answer
is the same whatever the number of workers (every scoring step is deterministic per document).
A process that has other threads (a server) or is itself a pool worker runs the items in turn:
forking there is unsafe or impossible.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["fork_map", "forks", "default_workers", "init_worker"]

T = TypeVar("T")
_TASK: Callable[[int], Any] | None = None  # set in the parent just before forking
_LOCK = threading.Lock()
MIN_PER_WORKER = 8  # fewer items than this per worker: forking costs more than it saves


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def forks(n: int, workers: int) -> bool:
    """Whether :func:`fork_map` would use worker processes for ``n`` items."""
    return (
        workers > 1
        and n >= 2 * MIN_PER_WORKER
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


PARENT_CHECK_S = 1.0  # how often a worker checks that the process that forked it is still there


def init_worker(parent: int) -> None:
    """In a forked pool worker, first: Ctrl-C is the parent's to handle (it shuts the pool down), SIGTERM
    ends the worker (not the parent's handler), and the worker leaves within a second of its parent's
    death. A parent killed with SIGKILL (or by SIGTERM without a handler) shuts nothing down: its workers,
    blocked writing results nobody reads, would live on, re-parented, hundreds of MB each. ``parent`` is the
    pid the parent gave: a parent killed before this runs is already gone from getppid()."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def _run(bounds: tuple[int, int]) -> list[Any]:
    assert _TASK is not None
    return [_TASK(i) for i in range(*bounds)]


def fork_map(fn: Callable[[int], T], n: int, *, workers: int) -> list[T]:
    """``[fn(0), fn(1), ..., fn(n - 1)]``, computed by ``workers`` forked processes when :func:`forks`.

    A worker that dies (killed, out of memory) raises ``BrokenProcessPool`` here instead of hanging."""
    global _TASK
    if not forks(n, workers):
        return [fn(i) for i in range(n)]
    chunk = max(MIN_PER_WORKER // 2, n // (workers * 8))
    bounds = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
    with _LOCK:
        _TASK = fn
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker,
                                     initargs=(os.getpid(),)) as pool:
                parts = list(pool.map(_run, bounds))
        finally:
            _TASK = None
    return [x for part in parts for x in part]
