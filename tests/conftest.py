"""Shared fixtures: a tiny real model trained once per session, and the shipped model when present."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from resources import TINY_RELIABLE_SOURCES, TINY_UNRELIABLE_IDS

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:  # lets test modules `import resources` (tests/ has no __init__.py)
    sys.path.insert(0, str(TESTS))

SHIPPED_MODEL_DIR = REPO / "models" / "default"
SEEDS_DIR = REPO.parent / "shared" / "seeds"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "seeds: scores ../shared/seeds with the shipped model (skips when absent)"
    )


# The tiny training set: every example derived from the first 16 reliable articles (the article itself,
# its benign variants and corrupted ones) plus 12 hand-written unreliable documents, 3 per kind.
TINY_CV = 3


def tiny_examples():
    from training.dataset import builtin_examples

    examples = builtin_examples(per_article=2)
    keep = set(TINY_RELIABLE_SOURCES) | set(TINY_UNRELIABLE_IDS)
    subset = [ex for ex in examples if ex.source_id in keep]
    assert {ex.source_id for ex in subset} == keep, "fixture ids changed: update TINY_* in conftest.py"
    return subset


def train_tiny(out_dir: Path):
    from training.train import save_model, train

    result = train(tiny_examples(), cv=TINY_CV)
    save_model(result, out_dir, name="tiny", fixture_sources={"tests": "tiny-subset"})
    return result


_TWIN: dict[str, object] = {}


def _start_twin(out_dir: Path) -> None:
    """Train the same tiny model again in a separate process, alongside this one (the machine has two
    cores): the determinism test compares the two. Another process also has another hash seed."""
    log = out_dir.parent / "twin.log"
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import conftest; "
        "conftest.train_tiny(Path(sys.argv[2]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "12345"}
    handle = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(TESTS), str(out_dir)],
        cwd=REPO,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    _TWIN.update(proc=proc, dir=out_dir, log=log, handle=handle)


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory):
    """(TrainResult, model dir) of the tiny model; trained once per session."""
    out = tmp_path_factory.mktemp("tiny_model")
    _start_twin(tmp_path_factory.mktemp("tiny_model_twin"))
    result = train_tiny(out)
    yield result, out
    proc = _TWIN.get("proc")
    if isinstance(proc, subprocess.Popen) and proc.poll() is None:
        proc.kill()  # only the process this fixture started
        proc.wait()
    handle = _TWIN.get("handle")
    if handle is not None:
        handle.close()


@pytest.fixture(scope="session")
def tiny_twin_dir(tiny_training) -> Path:
    """The folder of the same tiny model trained in a separate process (waits for it)."""
    proc = _TWIN["proc"]
    assert isinstance(proc, subprocess.Popen)
    rc = proc.wait(timeout=900)
    log = Path(str(_TWIN["log"]))
    assert rc == 0, f"twin training failed ({rc}):\n{log.read_text(errors='replace')[-3000:]}"
    return Path(str(_TWIN["dir"]))


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_training) -> Path:
    return tiny_training[1]


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from service.model import load_model

    return load_model(tiny_model_dir)


@pytest.fixture(scope="session")
def resources(tiny_model):
    return tiny_model.resources


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path) -> Path:
    """A private copy of the tiny model folder, for tests that tamper with it."""
    dst = tmp_path / "model"
    shutil.copytree(tiny_model_dir, dst)
    return dst


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    if not (SHIPPED_MODEL_DIR / "manifest.json").is_file():
        pytest.skip(f"no shipped model: {SHIPPED_MODEL_DIR / 'manifest.json'} is absent")
    return SHIPPED_MODEL_DIR
