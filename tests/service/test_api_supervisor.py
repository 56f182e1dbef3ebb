"""The supervisor of several workers (service.supervisor) when a new worker cannot start: a real uvicorn
supervisor with real worker processes, whose app fails to start on purpose at chosen starts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from liveserver import REPO, free_port, stop_process
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

# A worker app that records each start and fails the starts listed in FLAKY_FAIL_AT (1 = the first start).
FLAKY_APP = '''
import os
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


def create():
    starts = Path(os.environ["FLAKY_STARTS"])
    with starts.open("a") as f:
        f.write(f"{os.getpid()}\\n")
    n = len(starts.read_text().split())
    fail = str(n) in os.environ.get("FLAKY_FAIL_AT", "").split(",")

    @asynccontextmanager
    async def lifespan(app):
        if fail:
            raise RuntimeError(f"start {n} fails on purpose")
        yield

    async def where(request):
        return JSONResponse({"copy": os.environ.get("THRESHER_MODEL_SNAPSHOT"), "pid": os.getpid()})

    return Starlette(routes=[Route("/", where)], lifespan=lifespan)
'''

SUPERVISE = '''
import sys
from pathlib import Path

import uvicorn

from service.supervisor import Supervisor, log_config

port, model_dir, root = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
config = uvicorn.Config("flaky_app:create", factory=True, host="127.0.0.1", port=port, workers=2, log_level="info",
                        log_config=log_config("info"), timeout_worker_healthcheck=60)
supervisor = Supervisor(config, [config.bind_socket()], model_dir=model_dir, root=root)
supervisor.serve_first_copy()
supervisor.run()
'''


def _copies_served(url: str) -> set[str]:
    """The model copies the workers serve, asked over a dozen fresh connections (spread over the workers)."""
    seen = set()
    for _ in range(12):
        with httpx.Client(base_url=url, timeout=30) as c:
            seen.add(c.get("/").json()["copy"])
    return seen


def _reloads(metrics_dir: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    text = generate_latest(registry).decode()
    return {k: float(v) for k, v in re.findall(r'^thresher_model_reloads_total\{outcome="(\w+)"\} (\S+)$', text, re.M)}


def _wait_for(log: Path, pattern: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        assert time.monotonic() < deadline, f"{pattern!r} never logged:\n{text[-4000:]}"
        time.sleep(0.2)


def test_a_worker_that_cannot_start_puts_the_replaced_ones_back(tmp_path, model_copy):
    (tmp_path / "flaky_app.py").write_text(FLAKY_APP)
    root, metrics_dir, starts, log = tmp_path / "copies", tmp_path / "metrics", tmp_path / "starts", tmp_path / "log"
    root.mkdir()
    metrics_dir.mkdir()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("THRESHER_")},
           "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
           "FLAKY_STARTS": str(starts),
           # starts 1-2: the first workers; reload 1: start 3 serves, start 4 fails, start 5 puts worker 0 back;
           # reload 2: starts 6-7 serve; reload 3: start 8 fails, nothing to put back
           "FLAKY_FAIL_AT": "4,8"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SUPERVISE, str(port), str(model_copy), str(root)], cwd=tmp_path,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        first = str(root / "1")
        deadline = time.monotonic() + 120
        while True:
            try:
                if _copies_served(url) == {first}:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)

        # reload 0: a manifest that is no JSON object is refused before any worker is touched, and the
        # supervisor goes on (it once died in its signal handler and then ignored every signal)
        manifest = (model_copy / "manifest.json").read_bytes()
        (model_copy / "manifest.json").write_text("[]")
        os.kill(proc.pid, signal.SIGHUP)
        text = _wait_for(log, r"SIGHUP: the model in \S+ was refused; no worker was replaced")
        assert "Traceback" not in text, text
        assert _reloads(metrics_dir) == {"refused": 1}
        assert _copies_served(url) == {first}
        (model_copy / "manifest.json").write_bytes(manifest)

        # reload 1: the second new worker fails at once; the first, already replaced, is put back
        os.kill(proc.pid, signal.SIGHUP)
        text = _wait_for(log, r"all 2 workers serve tiny \w+ again; the reload was refused")
        assert re.search(r"exited with code 3 before it was ready \(its application startup failed", text), text
        assert "start 4 fails on purpose" in text  # the worker's own error, with the real cause
        assert "putting the 1 worker(s) already replaced back on tiny" in text
        assert "not ready in time" not in text
        assert _copies_served(url) == {first}
        assert not (root / "2").exists() and not (root / "3").exists()
        assert _reloads(metrics_dir) == {"refused": 2}

        # reload 2: every worker replaced, on the new copy; the old copy is removed
        os.kill(proc.pid, signal.SIGHUP)
        _wait_for(log, r"model reloaded from \S+ on all 2 workers")
        assert _copies_served(url) == {str(root / "4")}
        assert not (root / "1").exists()
        assert _reloads(metrics_dir) == {"refused": 2, "loaded": 1}

        # reload 3: the first new worker fails: no worker was replaced
        os.kill(proc.pid, signal.SIGHUP)
        _wait_for(log, r"putting the 0 worker\(s\) already replaced back(.|\n)*all 2 workers serve tiny \w+ again")
        assert _copies_served(url) == {str(root / "4")}
        assert _reloads(metrics_dir) == {"refused": 3, "loaded": 1}
        assert proc.poll() is None
    finally:
        stop_process(proc)
