from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from service.model import DEFAULT_MODEL_DIR
from service.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_an_empty_setting_is_unset_and_its_default_applies(monkeypatch):
    """`THRESHER_HOST=` in an env file or `docker run -e THRESHER_HOST=`: the default, not an empty host (uvicorn
    listened on every interface) nor an empty model folder (the current folder)."""
    for name in ("HOST", "MODEL_DIR", "PORT", "MAX_BATCH", "MAX_BODY_BYTES", "WORKERS", "ADMIN_TOKEN", "API_KEYS"):
        monkeypatch.setenv(f"THRESHER_{name}", "")
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.model_dir == DEFAULT_MODEL_DIR
    assert (settings.port, settings.max_batch, settings.max_body_bytes, settings.workers) == (8000, 64, 2 * 1024 * 1024, 1)
    assert settings.admin_token is None and settings.api_keys == []


def _serve(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("THRESHER_")}
    full.update(env, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "service.cli", "serve", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120)


def test_serve_with_an_empty_thresher_host_binds_the_loopback_address(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _serve("--port", str(port), env={"THRESHER_HOST": "", "THRESHER_MODEL_DIR": ""}, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr  # not on '' (every interface)


def test_serve_refuses_an_empty_host_option_before_loading_the_model(tmp_path):
    proc = _serve("--host", "", "--port", "0", "--model", str(tmp_path / "no-model"), env={}, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--host '': give an address" in proc.stderr
    assert "manifest" not in proc.stderr and "Traceback" not in proc.stderr


def test_serve_refuses_an_unknown_log_level_before_loading_the_model(tmp_path):
    """uvicorn looked the level up only once the model had loaded: a KeyError traceback and exit 1."""
    proc = _serve("--log-level", "loud", "--port", "0", "--model", str(tmp_path / "no-model"), env={}, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--log-level 'loud': give one of critical, error, warning, info, debug, trace" in proc.stderr
    assert "manifest" not in proc.stderr and "Traceback" not in proc.stderr


def test_serve_names_a_bad_setting_by_its_variable(tmp_path):
    proc = _serve("--model", str(tmp_path / "no-model"), env={"THRESHER_PORT": "abc", "THRESHER_MAX_BATCH": "0"},
                  cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "bad setting THRESHER_PORT='abc': Input should be a valid integer" in proc.stderr
    assert "bad setting THRESHER_MAX_BATCH='0': Input should be greater than or equal to 1" in proc.stderr
    assert "Traceback" not in proc.stderr
