"""Readability must never reach the network (textstat would otherwise nltk.download('cmudict'))."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

SCRIPT = r"""
import json, socket, sys

def _blocked(*args, **kwargs):
    raise RuntimeError("network access attempted")

socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked

import nltk
import nltk.data

def _no_download(*args, **kwargs):
    raise RuntimeError("nltk.download attempted")

_find = nltk.data.find

def _find_no_cmudict(resource, *args, **kwargs):
    if "cmudict" in str(resource):
        raise LookupError(resource)
    return _find(resource, *args, **kwargs)

nltk.download = _no_download
nltk.data.find = _find_no_cmudict

import textstat
import training.features.readability as readability
from training.document import parse
from training.features import Context, Resources
from training.vocabulary import EntityLexicon

# A text this process has not scored before, so no cache can hide a dictionary look-up.
text = ("Volunteers planted four hundred oak saplings beside the quarry on Sunday morning. "
        "The trust that owns the land hopes the wood will shelter owls and bats within a decade. "
        "Nobody expected the rain to hold off, but it did.")
scores = {
    "flesch_reading_ease": textstat.flesch_reading_ease(text),
    "flesch_kincaid_grade": textstat.flesch_kincaid_grade(text),
    "gunning_fog": textstat.gunning_fog(text),
    "dale_chall": textstat.dale_chall_readability_score(text),
    "syllables": textstat.syllable_count(text),
}
ctx = Context(resources=Resources(line_model=None, lexicon=EntityLexicon()))
scores.update(readability.extract(parse(text), context=ctx).values)
print(json.dumps(scores))
"""


def _run(prefix: list[str], tmp_path: Path) -> dict[str, float]:
    nltk_data = tmp_path / "nltk_data"
    nltk_data.mkdir(exist_ok=True)
    env = {**os.environ, "NLTK_DATA": str(nltk_data), "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(scores) == 11
    for k, v in scores.items():
        assert isinstance(v, int | float) and math.isfinite(v), (k, v)
    assert scores["syllables"] > 40
    assert 0 < scores["flesch_reading_ease"] < 121
    assert not any(nltk_data.iterdir()), "something was written to NLTK_DATA"
    return scores


def test_readability_offline_with_network_blocked(tmp_path):
    _run([], tmp_path)


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _unshare_works(), reason="'unshare -n' is not permitted here")
def test_readability_offline_without_a_network_namespace(tmp_path):
    _run(["unshare", "-n"], tmp_path)
