"""training/parallel.py: the forked pool of training and evaluation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from training.parallel import fork_map

REPO = Path(__file__).resolve().parents[2]


def test_fork_map_gives_the_results_in_order_whatever_the_workers():
    def square(i: int) -> int:
        return i * i

    assert fork_map(square, 40, workers=2) == fork_map(square, 40, workers=1) == [i * i for i in range(40)]


def test_workers_leave_when_their_parent_is_killed(tmp_path):
    """A training killed with SIGKILL (or a SIGTERM it had no handler for) shut nothing down: its two pool
    workers lived on, re-parented, ~415 MB each. Each now leaves within a second of its parent's death."""
    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        import os, time
        from training.parallel import fork_map
        def slow(i):
            with open({str(pids)!r}, "a") as fh:
                fh.write(f"{{os.getpid()}}\\n")
            time.sleep(60)
            return i
        fork_map(slow, 40, workers=2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(set(pids.read_text().split()) if pids.exists() else ()) < 2:
        time.sleep(0.1)
    workers = {int(p) for p in pids.read_text().split()}
    assert len(workers) == 2 and proc.pid not in workers
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    alive = set(workers)
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive.discard(pid)
        time.sleep(0.2)
    for pid in alive:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"workers {sorted(alive)} outlived their parent"
