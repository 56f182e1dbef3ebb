"""`make serve` as the README runs it: the THRESHER_* settings of the environment apply to it, as they do to
`thresher serve` (e.g. `THRESHER_PORT=9000 make serve`, `THRESHER_MODEL_DIR=models/mine make serve`).

The venv is this test's own (``BIN``), and ``STAMP`` points at a fresh file, so that make does not install
anything: only the `serve` recipe runs, in a real process, answering on the port the environment names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from liveserver import REPO, STARTUP_TIMEOUT_S, free_port, stop_process


def test_make_serve_listens_on_thresher_port_and_host(tmp_path: Path) -> None:
    make = shutil.which("make")
    thresher = Path(sys.executable).parent / "thresher"
    if make is None or not thresher.exists():
        pytest.skip("needs make and the thresher script beside this Python")
    stamp = tmp_path / "installed"
    stamp.touch()
    future = time.time() + 3600
    os.utime(stamp, (future, future))  # newer than pyproject.toml: make installs nothing
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THRESHER_")}
    env.update(PYTHONPATH=str(REPO), THRESHER_PORT=str(port), THRESHER_HOST="127.0.0.1")
    log = tmp_path / "serve.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen([make, "--no-print-directory", "serve", f"BIN={thresher.parent}", f"STAMP={stamp}"],
                                cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            time.sleep(0.25)
        text = log.read_text(errors="replace")
        assert ready, f"make serve did not answer on THRESHER_PORT={port}:\n{text[-3000:]}"
    finally:
        stop_process(proc)
