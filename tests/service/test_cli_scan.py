"""`thresher scan` command-line checks, as users run it (real files, real processes, the tiny model): an
output path that cannot be written is refused before any work, and what happens to OUT.journal is told."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _scan_cmd(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "service.cli", "scan", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}


def _scan(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_scan_cmd(args), cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)


def _crawl(root: Path, n: int) -> Path:
    """n of the project's own articles, one .txt file each."""
    rows = [json.loads(x) for f in sorted((REPO / "training" / "fixtures").glob("reliable_*.jsonl"))
            for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(rows) >= n
    crawl = root / "crawl"
    crawl.mkdir()
    for i, r in enumerate(rows[:n]):
        (crawl / f"a{i:03d}.txt").write_text(r["text"], encoding="utf-8")
    return crawl


def _sigint_as_at_a_terminal() -> None:
    """In the child before it starts: Ctrl-C's default action, which Python turns into KeyboardInterrupt.
    A test run started in the background of a non-interactive shell ignores SIGINT, its children inherit
    that, and the scan under test would then never see the interrupt the test sends (seen in a CI run)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _from_journal(stderr: str) -> int:
    summary = re.sub(r"[\s│|]+", " ", stderr)  # the summary table, its cells and wraps undone
    found = re.search(r"; (\d+) from the journal", summary)
    assert found, summary[-800:]
    return int(found.group(1))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_out_an_existing_folder_is_refused_before_any_work(tmp_path, fmt):
    crawl = _crawl(tmp_path, 2)
    folder = tmp_path / "results"
    folder.mkdir()
    # a model folder that does not exist: had the model been loaded first, the error would be about it
    proc = _scan([str(crawl), "--out", str(folder), "--format", fmt, "--model", str(tmp_path / "no-model")], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"--out {folder} is a folder; give a file path" in proc.stderr
    assert "Traceback" not in proc.stderr and "manifest" not in proc.stderr
    assert not (tmp_path / "results.journal").exists()
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("option", ["--out", "--report"])
def test_out_or_report_dash_is_refused_not_written_as_a_file_named_dash(tmp_path, option):
    """'-' is standard output to whoever has used thresher score --out - (or any Unix tool): the scan wrote a
    file named '-' (and '-.journal') in the current folder instead."""
    crawl = _crawl(tmp_path, 2)
    args = [str(crawl), "--out", str(tmp_path / "o.jsonl"), "--model", str(tmp_path / "no-model")]
    args += [option, "-"] if option == "--report" else []
    if option == "--out":
        args[2] = "-"
    proc = _scan(args, tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"{option} -: the scan writes files" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "-").exists() and not (tmp_path / "-.journal").exists()


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_an_empty_text_field_is_refused_before_any_work(tmp_path, engine):
    """`--text-field ''` names no field: every JSON record and Parquet row was a no_text error record (or read
    from 'html'). Refused at once, as thresher score refuses it, before the model loads and whatever the engine."""
    crawl = _crawl(tmp_path, 2)
    (crawl / "r.jsonl").write_text(json.dumps({"": "A text under an empty key."}) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    proc = _scan([str(crawl), "--out", str(out), "--text-field", "", "--engine", engine,
                  "--model", str(tmp_path / "no-model")], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: --text-field is empty; give the name of the field (the column, in Parquet) that holds the text" \
        in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr and "manifest" not in proc.stderr
    assert not out.exists() and not (tmp_path / "o.jsonl.journal").exists()


def test_an_output_over_an_input_or_in_a_scanned_folder_or_over_another_output_is_refused(tmp_path, tiny_model_dir):
    crawl = _crawl(tmp_path, 2)
    before = {p: p.read_bytes() for p in crawl.iterdir()}
    one = str(crawl / "a000.txt")
    cases = [
        ([one, "--out", one], "is an input"),
        ([str(crawl), "--out", one], "is inside the scanned folder"),
        ([str(crawl), "--out", str(crawl / "scored.jsonl")], "is inside the scanned folder"),
        ([str(crawl), "--out", str(tmp_path / "o.jsonl"), "--report", str(crawl / "r.html")], "inside the scanned"),
        ([str(crawl), "--out", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "o.jsonl")], "same file as --out"),
        ([str(crawl), "--out", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "o.jsonl.journal")], "its journal"),
    ]
    os.link(crawl / "a000.txt", tmp_path / "hard.txt")  # the same file under another name
    cases.append(([one, "--out", str(tmp_path / "hard.txt")], "is an input"))
    # a hard link to a file inside a scanned folder is that file, as a symbolic link to it would be; the journal
    # is written in place: it would overwrite the document
    os.link(crawl / "a001.txt", tmp_path / "linked.jsonl")
    cases.append(([str(crawl), "--out", str(tmp_path / "linked.jsonl")], "is a hard link to"))
    os.link(crawl / "a001.txt", tmp_path / "j.jsonl.journal")
    cases.append(([str(crawl), "--out", str(tmp_path / "j.jsonl")], "is a hard link to"))
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    cases.append(([str(crawl), "--out", str(tmp_path / "loop")], "cannot be resolved"))
    for args, said in cases:
        proc = _scan([*args, "--model", str(tiny_model_dir)], tmp_path)
        assert proc.returncode == 2 and said in proc.stderr, (args, proc.stderr[-2000:])
    assert {p: p.read_bytes() for p in crawl.iterdir()} == before
    assert not (tmp_path / "o.jsonl").exists()


def test_out_under_a_file_and_report_a_folder_are_refused(tmp_path, tiny_model_dir):
    crawl = _crawl(tmp_path, 2)
    proc = _scan([str(crawl), "--out", str(crawl / "a000.txt" / "o.jsonl"), "--model", str(tiny_model_dir)], tmp_path)
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr, proc.stderr[-2000:]
    proc = _scan([str(crawl), "--out", str(tmp_path / "o.jsonl"), "--report", str(tmp_path),
                  "--model", str(tiny_model_dir)], tmp_path)
    assert proc.returncode == 2 and f"--report {tmp_path} is a folder" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "o.jsonl.journal").exists()


def test_a_folder_where_the_journal_goes_is_refused_before_any_work(tmp_path):
    crawl = _crawl(tmp_path, 2)
    (tmp_path / "o.jsonl.journal").mkdir()
    proc = _scan([str(crawl), "--out", str(tmp_path / "o.jsonl"), "--model", str(tmp_path / "no-model")], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"its journal {tmp_path / 'o.jsonl.journal'} would be written over a folder" in proc.stderr
    assert "Traceback" not in proc.stderr and "manifest" not in proc.stderr
    assert not (tmp_path / "o.jsonl").exists() and list((tmp_path / "o.jsonl.journal").iterdir()) == []


def test_report_in_missing_folders_is_written_there(tmp_path, tiny_model_dir):
    crawl = _crawl(tmp_path, 2)
    report = tmp_path / "reports" / "today" / "r.html"
    proc = _scan([str(crawl), "--out", str(tmp_path / "o.jsonl"), "--report", str(report), "--workers", "1",
                  "--model", str(tiny_model_dir)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "documents: <b>2</b>" in report.read_text(encoding="utf-8")
    assert len((tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_resume_without_a_journal_says_it_starts_over(tmp_path, tiny_model_dir):
    crawl = _crawl(tmp_path, 3)
    out = tmp_path / "out" / "o.jsonl"  # a missing parent folder is created
    proc = _scan([str(crawl), "--out", str(out), "--resume", "--workers", "1", "--model", str(tiny_model_dir)],
                 tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"no journal at {out}.journal: scoring from the start" in proc.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, tiny_model_dir) -> dict[str, Path]:
    """A crawl and the journal of a real scan of it interrupted by Ctrl-C (SIGINT), kept aside."""
    root = tmp_path_factory.mktemp("interrupted")
    crawl = _crawl(root, 100)
    out = root / "o.jsonl"
    journal = root / "o.jsonl.journal"
    p = subprocess.Popen(_scan_cmd([str(crawl), "--out", str(out), "--workers", "1", "--no-explain",
                                    "--model", str(tiny_model_dir)]),
                         cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_sigint_as_at_a_terminal)
    deadline = time.monotonic() + 300
    while not (journal.is_file() and journal.read_bytes().count(b"\n") > 6):
        assert p.poll() is None, "the scan ended before it could be interrupted: make the crawl bigger"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err[-3000:]
    kept = root / "kept.journal"
    shutil.copy(journal, kept)
    return {"crawl": crawl, "kept": kept, "root": root}


def _with_journal(interrupted: dict[str, Path], tmp_path: Path) -> tuple[Path, int]:
    """OUT in tmp_path with the interrupted run's journal beside it; and how many records the journal holds."""
    out = tmp_path / "o.jsonl"
    shutil.copy(interrupted["kept"], tmp_path / "o.jsonl.journal")
    return out, interrupted["kept"].read_bytes().count(b"\n") - 1


def test_resume_of_the_same_run_says_it_resumes(interrupted, tmp_path, tiny_model_dir):
    out, journaled = _with_journal(interrupted, tmp_path)
    proc = _scan([str(interrupted["crawl"]), "--out", str(out), "--workers", "1", "--no-explain", "--resume",
                  "--model", str(tiny_model_dir)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"resuming from the journal at {out}.journal" in proc.stderr
    assert "scoring from the start" not in proc.stderr
    assert _from_journal(proc.stderr) == journaled > 0


def test_resume_of_a_journal_for_other_options_says_it_starts_over(interrupted, tmp_path, tiny_model_dir):
    out, journaled = _with_journal(interrupted, tmp_path)
    # the same inputs and model, but with evidence (--explain): the journaled records cannot be reused
    proc = _scan([str(interrupted["crawl"]), "--out", str(out), "--workers", "1", "--resume",
                  "--model", str(tiny_model_dir)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (f"the journal at {out}.journal was written by another run (other inputs, options or model): "
            "scoring from the start") in proc.stderr
    assert _from_journal(proc.stderr) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 100


def test_without_resume_an_interrupted_runs_journal_is_replaced_and_said_so(interrupted, tmp_path,
                                                                            tiny_model_dir):
    out, journaled = _with_journal(interrupted, tmp_path)
    proc = _scan([str(interrupted["crawl"]), "--out", str(out), "--workers", "1", "--no-explain",
                  "--model", str(tiny_model_dir)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (f"an interrupted run's journal is at {out}.journal; it is replaced (use --resume to continue it)"
            in proc.stderr)
    assert _from_journal(proc.stderr) == 0


def test_error_records_do_not_change_the_exit_code(tmp_path, tiny_model_dir):
    """README: scan exits 0 when it completed, error records included (they are part of the output)."""
    crawl = _crawl(tmp_path, 2)
    (crawl / "empty.txt").write_text("  \n", encoding="utf-8")
    (crawl / "binary.txt").write_bytes(b"\x00\x01binary")
    out = tmp_path / "o.jsonl"
    proc = _scan([str(crawl), "--out", str(out), "--workers", "1", "--model", str(tiny_model_dir)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["error"]["code"] for r in recs if "error" in r) == ["binary", "empty"]
    assert len(recs) == 4


@pytest.mark.parametrize("resume", [False, True])
def test_a_closed_progress_stream_does_not_stop_the_scan(tmp_path, tiny_model_dir, resume):
    """`thresher scan ... 2>&1 | head -1`: once the reader of stderr is gone, writing a progress line fails
    (EPIPE). The scan goes on silently and writes every record, the report too, and exits 0; it had left only
    its journal and exited 1."""
    crawl = _crawl(tmp_path, 3)
    out, report = tmp_path / "o.jsonl", tmp_path / "r.html"
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: every write to the child's stderr fails with EPIPE
    try:
        args = [str(crawl), "--out", str(out), "--report", str(report), "--workers", "1",
                "--model", str(tiny_model_dir), *(["--resume"] if resume else [])]
        proc = subprocess.run(_scan_cmd(args), cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                              stderr=write_end, timeout=600)
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 3 and all("score" in r for r in recs)
    assert report.stat().st_size > 0
    assert not Path(f"{out}.journal").exists()


def test_the_summary_on_a_closed_stderr_does_not_end_the_scan(tmp_path):
    """The summary can be the first write to fail (`2>&1 | head -2` reads the progress lines, then leaves):
    rich answers a broken pipe with SystemExit(1) of its own, which had ended the scan before its report.
    The summary is now written as text like the other notes: the caller goes on."""
    code = (
        "from pathlib import Path\n"
        "from service.cli import _print_summary\n"
        "s = dict(documents=1, verdicts={'reliable': 1}, error_codes={}, skipped={}, top_reasons=[],\n"
        "         stories=0, near_duplicates=0, docs_per_s=1.0, scored_now=1, elapsed_s=1.0, resumed=0)\n"
        "_print_summary(s, Path('out.jsonl'))\n"
        "print('went on')\n"
    )
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=False,
                              stdout=subprocess.PIPE, stderr=write_end, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    assert proc.stdout.strip() == "went on"


def test_the_output_format_follows_outs_extension_unless_given(tmp_path, tiny_model_dir):
    """`--out scored.csv` wrote JSONL under a .csv name (--format defaulted to jsonl whatever OUT was called)."""
    import csv

    import pyarrow.parquet as pq

    crawl = _crawl(tmp_path, 2)
    for name in ("o.csv", "o.parquet", "o.out"):
        proc = _scan([str(crawl), "--out", str(tmp_path / name), "--workers", "1", "--model", str(tiny_model_dir)],
                     tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
    with (tmp_path / "o.csv").open(encoding="utf-8", newline="") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == [str(crawl / "a000.txt"), str(crawl / "a001.txt")]
    assert pq.read_table(tmp_path / "o.parquet").num_rows == 2
    assert len([json.loads(x) for x in (tmp_path / "o.out").read_text(encoding="utf-8").splitlines()]) == 2


def test_a_format_other_than_outs_extension_is_refused_before_any_work(tmp_path):
    crawl = _crawl(tmp_path, 1)
    proc = _scan([str(crawl), "--out", str(tmp_path / "o.csv"), "--format", "parquet", "--model",
                  str(tmp_path / "no-model")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"--out {tmp_path / 'o.csv'} with --format parquet: the output would be parquet under a .csv name" in \
        proc.stderr
    assert "manifest" not in proc.stderr and not (tmp_path / "o.csv").exists()


def test_an_out_named_gz_is_written_through_gzip(tmp_path, tiny_model_dir):
    """`--out scored.jsonl.gz` wrote plain JSONL under a .gz name, which gzip readers then refused."""
    import csv
    import gzip

    crawl = _crawl(tmp_path, 2)
    for name in ("o.jsonl", "o.jsonl.gz", "o.csv.gz", "p.jsonl.gz"):
        proc = _scan([str(crawl), "--out", str(tmp_path / name), "--workers", "1", "--model", str(tiny_model_dir)],
                     tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
    plain = (tmp_path / "o.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "o.jsonl.gz").read_bytes()) == plain
    # the same records, the same bytes: no time or name in the gzip header
    assert (tmp_path / "o.jsonl.gz").read_bytes() == (tmp_path / "p.jsonl.gz").read_bytes()
    with gzip.open(tmp_path / "o.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == [str(crawl / "a000.txt"), str(crawl / "a001.txt")]


def test_a_parquet_out_named_gz_is_refused_before_any_work(tmp_path):
    crawl = _crawl(tmp_path, 1)
    proc = _scan([str(crawl), "--out", str(tmp_path / "o.parquet.gz"), "--model", str(tmp_path / "no-model")],
                 tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Parquet compresses its own columns" in proc.stderr
    assert "manifest" not in proc.stderr and not (tmp_path / "o.parquet.gz").exists()
