"""A real uvicorn server (`thresher serve`) in a child process, on a free loopback port, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 120  # loading and warming a model takes ~10 s here; CI machines may be slower


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    proc: subprocess.Popen
    log: Path

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kw)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(tmp_path: Path, *, env: dict[str, str] | None = None, workers: int = 1) -> LiveServer:
    """Start ``thresher serve`` (the command users run) and wait until /readyz answers 200."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("THRESHER_")}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO)
    cmd = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--log-level", "warning"]
    handle = log.open("wb")
    proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return LiveServer(url=url, proc=proc, log=log)
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop_server(LiveServer(url=url, proc=proc, log=log))
    raise AssertionError(f"server not ready in {STARTUP_TIMEOUT_S} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop_server(server: LiveServer) -> None:
    stop_process(server.proc)


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process started in a session of its own (``start_new_session=True``) with its children:
    SIGTERM to the group, SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
