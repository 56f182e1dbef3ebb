"""`thresher scan --engine ray` gives the local engine's records, on a local Ray with 2 CPUs.

One Ray for the module (started here, in the test process); the CLI runs as users run it, in a subprocess,
and joins it with ``--address``. Both engines scan the same folders in the same run: the crawl folder with
every format and every bad file, and a folder with copies, a site's repeated lines and (with
../shared/seeds) the five seeds, so that near-duplicates, story clusters, spelling consensus and repeated
lines all take part.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[3]
SEEDS = REPO.parent / "shared" / "seeds"


def _thresher(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "service.cli", "scan", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _crawl_extras(root: Path) -> Path:
    from crawlfolder import load_articles

    arts = load_articles(44)[28:]  # not among the crawl folder's articles (the first 28)
    site = root / "herald"
    site.mkdir(parents=True)
    # a line the cleaner keeps as content, on six pages of one site: repeated across the site
    footer = "The council is expected to publish its full budget proposal for the coming year in the spring."
    for i, a in enumerate(arts[:6]):
        (site / f"h{i}.txt").write_text(a["text"] + "\n" + footer + "\n", encoding="utf-8")
    copies = root / "mirror"
    copies.mkdir()
    for i in range(3):
        (copies / f"copy{i}.txt").write_text(arts[8]["text"], encoding="utf-8")
    if SEEDS.is_dir():
        (root / "seeds").mkdir()
        for f in sorted(SEEDS.glob("*.txt")):
            shutil.copy(f, root / "seeds" / f.name)
    return root


@pytest.fixture(scope="module")
def folders(crawl_folder: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return [Path(crawl_folder["root"]), _crawl_extras(tmp_path_factory.mktemp("extras") / "extras")]


@pytest.fixture(scope="module")
def local_records(folders: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    work = tmp_path_factory.mktemp("local")
    out = work / "out.jsonl"
    proc = _thresher([*map(str, folders), "--out", str(out), "--workers", "2"], work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def ray_address(local_records: list[dict]) -> Any:  # after the local scan: it forks, and Ray has threads
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    if started:
        ray.shutdown()


def test_ray_engine_gives_the_local_engines_records(folders, local_records, ray_address, tmp_path):
    """Parquet shards: their ``record`` column is the whole record, compared field for field with the local
    engine's JSONL (JSONL shards are written by the same ``write_output`` as the local engine's file)."""
    import pyarrow.parquet as pq

    from service.scan.ray_engine import read_shards

    out = tmp_path / "out"
    proc = _thresher([*map(str, folders), "--out", str(out), "--engine", "ray", "--address", ray_address,
                      "--workers", "2", "--format", "parquet"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "scan summary" in proc.stderr
    shards = sorted(out.glob("part-*.parquet"))
    assert shards and not list(tmp_path.glob(".out.tmp-*"))
    got = read_shards(out)

    want = local_records
    assert len(got) == len(want)
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert [r.get("score") for r in got] == [r.get("score") for r in want]
    assert [(r.get("error") or {}).get("code") for r in got] == [(r.get("error") or {}).get("code") for r in want]
    assert [r.get("crawl") for r in got] == [r.get("crawl") for r in want]
    assert got == want  # every field of every record
    # a record's lang reaches the scoring on Ray too (a JSONL record's and a Parquet row's); a bad one is refused
    by_id = {r["id"]: r for r in got}
    assert by_id["feed-1"]["language"]["declared"] == "en" and by_id["pq-1"]["language"]["declared"] == "en"
    assert [r["error"]["code"] for r in got if r["path"].endswith("context.jsonl")] == ["bad_record"] * 4
    rows = [row for shard in shards for row in pq.read_table(shard).to_pylist()]
    assert [(r["id"], r["score"], r["error_code"], r["duplicate_of"], r["story"]) for r in rows] == [
        (r["id"], r.get("score"), (r.get("error") or {}).get("code"), (r.get("crawl") or {}).get("duplicate_of"),
         (r.get("crawl") or {}).get("story")) for r in want]

    # the crawl signals had something to find
    crawls = [r["crawl"] for r in want if "crawl" in r]
    by_path = {Path(r["path"]).name: r for r in want if "mirror" in r["path"]}
    assert by_path["copy1.txt"]["crawl"]["duplicate_of"] and by_path["copy2.txt"]["crawl"]["duplicate_of"]
    assert by_path["copy2.txt"]["crawl"]["story_size"] >= 3
    assert any(c["crawl_repeated_lines"] for c in crawls)
    if SEEDS.is_dir():
        spun = next(r for r in want if Path(r["path"]).name.startswith("002"))
        assert any(e["found"] == "Jemenskyy" for e in spun["crawl"]["spelling_consensus"])
    errors = [r for r in want if "error" in r]
    assert len({r["error"]["code"] for r in errors}) >= 8
    summary = proc.stderr
    assert "documents" in summary and str(len(want)) in summary
