"""``thresher serve``'s uvicorn: one worker as uvicorn runs it; several under a supervisor that verifies a
model before it replaces any worker.

With ``--workers N`` (N > 1) the serve process is uvicorn's supervisor (:class:`Supervisor`). It serves a
*verified copy* of ``THRESHER_MODEL_DIR``: at start and on every reload (``SIGHUP``, which
``POST /v1/model/reload`` sends it) it copies the folder's manifest and listed files into a private folder
and loads that copy with :func:`service.model.load_model`. Only when the copy is accepted does it replace
the workers, one by one, each new worker loading that same copy (``THRESHER_MODEL_SNAPSHOT``), so what
happens to the folder meanwhile changes nothing, and a worker that dies later and is started again serves
the same model as the others. A refused model replaces no worker. If a new worker still fails to start
(out of memory, say), the workers already replaced are put back on the previous copy, so that all of them
serve one model; the real cause is logged. Every reload is counted once, here, in
``thresher_model_reloads_total{outcome}`` (the metrics folder is shared with the workers).
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from socket import socket
from typing import Any

import uvicorn
from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG, STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess, Process

from service.metrics import multiprocess_counting, reload_counter
from service.model import ModelError, load_model
from service.settings import Settings
from training.train import LEXICON_FILE, MANIFEST_FILE

__all__ = ["run_server", "Supervisor", "SNAPSHOT_ENV", "log_config"]

log = logging.getLogger("thresher.supervisor")

SNAPSHOT_ENV = "THRESHER_MODEL_SNAPSHOT"  # Settings.model_snapshot: the copy new workers load


def log_config(log_level: str | int | None) -> dict[str, Any]:
    """uvicorn's logging, plus the ``thresher`` loggers (reloads, refused models) on the same handler and
    at the same level: without it their INFO lines went nowhere."""
    config = copy.deepcopy(LOGGING_CONFIG)
    level = LOG_LEVELS.get(log_level, logging.INFO) if isinstance(log_level, str) else (log_level or logging.INFO)
    config["loggers"]["thresher"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def run_server(app: str, *, workers: int = 1, log_level: str | int | None = None, **kwargs: Any) -> None:
    """Run uvicorn as ``uvicorn.run(app, workers=..., log_level=..., **kwargs)`` does, but with several workers
    under :class:`Supervisor`. Exits 2 when the model is refused at start."""
    logging_config = log_config(log_level)
    if workers <= 1:
        uvicorn.run(app, workers=workers, log_level=log_level, log_config=logging_config, **kwargs)
        return
    config = uvicorn.Config(app, workers=workers, log_level=log_level, log_config=logging_config, **kwargs)
    root = Path(tempfile.mkdtemp(prefix="thresher-models-"))
    try:
        supervisor = Supervisor(config, [config.bind_socket()], model_dir=Path(Settings().model_dir), root=root)
        try:
            supervisor.serve_first_copy()
        except ModelError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        try:
            supervisor.run()
        except KeyboardInterrupt:
            pass
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Copy:
    """A verified copy of the model folder."""

    path: Path
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Supervisor(Multiprocess):
    """uvicorn's supervisor of several workers, whose reload (SIGHUP) verifies first, then replaces the workers,
    and puts them back on the previous model when a new one cannot start. See the module's doc."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket], *, model_dir: Path, root: Path) -> None:
        super().__init__(config, sockets)
        self.model_dir, self.root = model_dir, root
        self.serving: Copy | None = None
        self.copies = 0
        self.reloads = reload_counter() if multiprocess_counting() else None

    # -- the verified copies

    def copy_model(self) -> Copy:
        """Copy the folder's manifest and the files it lists, and load the copy: :class:`ModelError` (naming
        the folder, not the copy) when it is refused."""
        self.copies += 1
        dst = self.root / str(self.copies)
        dst.mkdir()
        try:
            try:
                shutil.copyfile(self.model_dir / MANIFEST_FILE, dst / MANIFEST_FILE)
                manifest = json.loads((dst / MANIFEST_FILE).read_text(encoding="utf-8"))
                listed = manifest.get("files") if isinstance(manifest, dict) else None
                names = {*(listed if isinstance(listed, dict) else {}), LEXICON_FILE}
                for name in sorted(n for n in names if isinstance(n, str) and Path(n).name == n and n not in ("", ".", "..")):
                    if (self.model_dir / name).is_file():
                        shutil.copyfile(self.model_dir / name, dst / name)
            except (OSError, ValueError):
                pass  # what could not be copied is missing from the copy: loading it says what
            try:
                model = load_model(dst)
            except ModelError as exc:
                raise ModelError(str(exc).replace(str(dst), str(self.model_dir))) from exc
            verified = Copy(dst, model.name, model.version)
            del model
            gc.collect()  # the supervisor keeps no model in memory
            return verified
        except BaseException:
            shutil.rmtree(dst, ignore_errors=True)
            raise

    def serve_first_copy(self) -> None:
        self.serving = self.copy_model()
        os.environ[SNAPSHOT_ENV] = str(self.serving.path)
        log.info("workers will serve model %s from %s (verified copy in %s)", self.serving, self.model_dir,
                 self.serving.path)

    def count(self, outcome: str) -> None:
        if self.reloads is not None:
            self.reloads.labels(outcome).inc()
        else:
            log.warning("reload %s not counted: this process does not write to the shared metrics folder", outcome)

    # -- signals

    def handle_signals(self) -> None:
        """As uvicorn's, but SIGHUP reloads as described above, and several SIGHUPs queued together (a reload
        asked twice, a hangup of the whole process group) make one reload."""
        queued = list(self.signal_queue)
        del self.signal_queue[: len(queued)]
        hup = False
        for sig in queued:
            if sig == signal.SIGHUP:
                hup = True
                continue
            handler = getattr(self, f"handle_{SIGNALS[sig].lower()}", None)
            if handler is not None:
                handler()
        if hup and not self.should_exit.is_set():
            self.reload()

    def handle_hup(self) -> None:
        self.reload()

    def reload(self) -> None:
        assert self.serving is not None, "serve_first_copy() runs before run()"
        old = self.serving
        log.info("SIGHUP: verifying the model in %s before replacing any worker", self.model_dir)
        try:
            new = self.copy_model()
        except ModelError as exc:
            self.count("refused")
            log.error("SIGHUP: the model in %s was refused; no worker was replaced, all %d still serve %s: %s",
                      self.model_dir, len(self.processes), old, exc)
            return
        os.environ[SNAPSHOT_ENV] = str(new.path)
        replaced: list[int] = []
        for idx in range(len(self.processes)):
            failure = self.replace(idx)
            if failure is not None:
                break
            replaced.append(idx)
        else:
            self.serving = new
            shutil.rmtree(old.path, ignore_errors=True)
            self.count("loaded")
            log.info("SIGHUP: model reloaded from %s on all %d workers: %s -> %s", self.model_dir,
                     len(self.processes), old, new)
            return
        self.count("refused")
        os.environ[SNAPSHOT_ENV] = str(old.path)
        if self.should_exit.is_set():
            return
        log.error("SIGHUP: model %s was verified, but %s; putting the %d worker(s) already replaced back on %s",
                  new, failure, len(replaced), old)
        for idx in replaced:
            again = self.replace(idx)
            if again is not None:
                log.error("SIGHUP: a worker could not be put back on %s: %s; the workers now serve two models "
                          "(thresher_model_workers shows how many serve each); reload again", old, again)
                return  # the new copy stays: a worker serves it
        shutil.rmtree(new.path, ignore_errors=True)
        log.error("SIGHUP: all %d workers serve %s again; the reload was refused", len(self.processes), old)

    def replace(self, idx: int) -> str | None:
        """Start a worker (on the copy in the environment), wait until it serves, then stop the one at ``idx``.
        ``None`` when done, else why not (the old worker then stays)."""
        old = self.processes[idx]
        new = Process(self.config, self.sockets)
        new.start()
        timeout = self.config.timeout_worker_healthcheck
        if new.wait_until_ready(timeout, self.should_exit):
            old.terminate()
            old.join()
            self.processes[idx] = new
            return None
        code = new.exitcode
        new.kill()
        new.join()
        if self.should_exit.is_set():
            return "the server is shutting down"
        if code is None:
            return f"new worker [{new.pid}] was not ready within {timeout} s"
        why = " (its application startup failed: its own error is logged above)" if code == STARTUP_FAILURE else ""
        return f"new worker [{new.pid}] exited with code {code} before it was ready{why}"
