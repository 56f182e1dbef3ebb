"""service.scan.runner's journal and output writer: records go to disk as they come and come back in order."""

from __future__ import annotations

import csv
import json
from typing import Any

import pyarrow.parquet as pq
import pytest

from service.scan.runner import FLAT_COLUMNS, OutputWriter, _Journal


def _rec(i: int, order: tuple[int, int] | None = None, note: str = "naïve café \u2028") -> dict:
    return {"id": f"doc-{i}", "path": f"site/{i}.txt", "source_format": "txt", "score": i / 10, "verdict": "suspect",
            "reasons": [], "note": note, "_key": f"k{i}", "_order": list(order or (i, 0)), "_crawl": None}


def test_journal_reads_records_back_in_input_order(tmp_path):
    j = _Journal(tmp_path / "out.jsonl.journal", {"journal": 1})
    assert j.open(resume=False, on_record=lambda r: None) == 0
    # scored in the reverse of the input order; non-ASCII text and even a lone surrogate come back as they were
    recs = [_rec(i, (9 - i, 0), note="naïve café \u2028 \ud800") for i in range(10)]
    j.write(recs[:4])
    j.write(recs[4:])
    j.close()
    keys = j.in_order()
    assert keys == [f"k{i}" for i in range(9, -1, -1)]
    back = list(j.records(keys))
    assert back == [recs[i] for i in range(9, -1, -1)]
    assert "naïve café".encode() in j.path.read_bytes()  # UTF-8, not \u escapes (a CJK crawl's journal stays small)


def test_resume_keeps_whole_lines_drops_a_torn_one_and_refuses_another_runs_journal(tmp_path):
    path = tmp_path / "out.jsonl.journal"
    j = _Journal(path, {"journal": 1, "model": "a"})
    j.open(resume=False, on_record=lambda r: None)
    j.write([_rec(i) for i in range(5)])
    j.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"id": "doc-5", "_key": "k5", "_ord')  # a kill in the middle of a write
    seen: list[str] = []
    again = _Journal(path, {"journal": 1, "model": "a"})
    assert again.open(resume=True, on_record=lambda r: seen.append(r["_key"])) == 5
    assert seen == [f"k{i}" for i in range(5)]
    assert path.read_bytes() == whole  # the torn line is gone before anything is appended
    again.write([_rec(5)])
    again.close()
    assert [r["id"] for r in again.records(again.in_order())] == [f"doc-{i}" for i in range(6)]
    other = _Journal(path, {"journal": 1, "model": "b"})  # another model: nothing is kept
    assert other.open(resume=True, on_record=lambda r: seen.append("wrong")) == 0
    other.close()
    assert "wrong" not in seen and other.index == {} and len(path.read_bytes().splitlines()) == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_output_writer_writes_every_record_in_order(tmp_path, fmt):
    out = tmp_path / "nested" / f"out.{fmt}"
    n = OutputWriter.PARQUET_BATCH * 2 + 7  # several Parquet row groups, the last one partial
    with OutputWriter(out, fmt) as w:
        for i in range(n):
            w.write(_rec(i))
    if fmt == "jsonl":
        with out.open(encoding="utf-8") as fh:  # a file splits at "\n" only (str.splitlines also at U+2028)
            ids = [json.loads(line)["id"] for line in fh]
        assert "_key" not in out.read_text(encoding="utf-8")  # private fields stay out
    elif fmt == "csv":
        with out.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert list(rows[0]) == list(FLAT_COLUMNS)
        ids = [r["id"] for r in rows]
    else:
        ids = pq.read_table(out).column("id").to_pylist()
    assert ids == [f"doc-{i}" for i in range(n)]
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_output_writer_that_fails_leaves_the_old_output_and_no_temporary_file(tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    out.write_text("the previous run's output", encoding="utf-8")
    with pytest.raises(RuntimeError), OutputWriter(out, fmt) as w:
        w.write(_rec(0))
        raise RuntimeError("a failure in the middle")
    assert out.read_text(encoding="utf-8") == "the previous run's output"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_output_writer_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unknown output format"):
        OutputWriter(tmp_path / "out.xml", "xml")


def test_a_page_without_extractable_text_is_an_empty_record_that_says_so(tiny_model):
    from service.scan import RawDocument
    from service.scan.runner import score_document

    page = "<html><head><script>var x = 1;</script></head><body>" + "<div>" * 3000 + "</div>" * 3000 + "</body></html>"
    doc = RawDocument(key="p.html", order=(0, 0), id="p.html", path="p.html", source_format="html", html=page)
    rec = score_document(doc, tiny_model, explain=False, sketch=True)
    assert rec["error"]["code"] == "empty" and "HTML" in rec["error"]["message"]
    assert rec["_crawl"] is None and "_sketch" not in rec  # nothing for the crawl pass


def test_an_interrupted_journal_write_leaves_no_index_entry_past_the_file(tmp_path):
    j = _Journal(tmp_path / "out.jsonl.journal", {"journal": 1})
    j.open(resume=False, on_record=lambda r: None)
    j.write([_rec(0)])
    real = j.fh

    class Interrupted:
        def write(self, data: bytes) -> int:
            raise KeyboardInterrupt  # Ctrl-C while the records are written

    j.fh = Interrupted()  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        j.write([_rec(1), _rec(2)])
    j.fh = real
    j.close()
    assert j.in_order() == ["k0"]
    assert [r["id"] for r in j.records(j.in_order())] == ["doc-0"]  # the output of an interrupted run is valid


def test_parquet_row_groups_are_bounded_by_bytes_and_an_empty_output_is_valid(tmp_path, monkeypatch):
    monkeypatch.setattr(OutputWriter, "PARQUET_BATCH_BYTES", 1)  # every row is over it: one row group each
    out = tmp_path / "out.parquet"
    with OutputWriter(out, "parquet") as w:
        for i in range(30):
            w.write(_rec(i))
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 30 and meta.num_row_groups == 30
    assert pq.read_table(out).column("id").to_pylist() == [f"doc-{i}" for i in range(30)]
    empty = tmp_path / "empty.parquet"
    with OutputWriter(empty, "parquet"):
        pass
    assert pq.read_table(empty).num_rows == 0 and pq.read_table(empty).column_names[0] == "id"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_resumed_run_recomputes_the_journaled_sketches_and_equals_a_whole_run(tmp_path, tiny_model, workers):
    """Sketches are not journaled: on --resume those of the journaled records are computed again (in the
    pool when there is one). Copies among the journaled and the new documents must still be found."""
    from pathlib import Path

    from service.scan.runner import ScanOptions, journal_path, run_scan

    fixtures = Path(__file__).resolve().parents[3] / "training" / "fixtures" / "reliable_a.jsonl"
    texts = [json.loads(line)["text"] for line in fixtures.read_text(encoding="utf-8").splitlines()[:14]]
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    for i, t in enumerate(texts):
        (crawl / f"a{i:02d}.txt").write_text(t, encoding="utf-8")
        (crawl / f"b{i:02d}.txt").write_text(t.replace(".", ". Indeed", 1), encoding="utf-8")  # a light edit

    def run(out: Path, resume: bool = False, stop_after: int | None = None) -> Any:
        def progress(done: int, total: int | None) -> None:
            if stop_after is not None and done >= stop_after:
                raise KeyboardInterrupt
        opts = ScanOptions(out=out, workers=workers, resume=resume, explain=False)
        return run_scan([crawl], tiny_model, opts, progress=progress)

    whole = run(tmp_path / "whole.jsonl")
    out = tmp_path / "out.jsonl"
    first = run(out, stop_after=9)
    assert first.interrupted and journal_path(out).is_file()
    done = journal_path(out).read_bytes().count(b"\n") - 1
    assert 9 <= done < 28
    again = run(out, resume=True)
    assert not again.interrupted and again.resumed == done and again.scored_now == 28 - done
    got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    want = [json.loads(line) for line in (tmp_path / "whole.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["score"], r["crawl"]) for r in got] == [(r["id"], r["score"], r["crawl"]) for r in want]
    assert sum(r["crawl"]["duplicate_of"] is not None for r in got) == 14  # every b copy found its a
    assert whole.clusters == again.clusters
    assert not journal_path(out).exists() and not list(tmp_path.glob("*.tmp"))


def test_a_crawl_reason_of_no_weight_leaves_the_score_as_it_was_and_keeps_the_reasons_order(tiny_model):
    from service.scan.crawl import _empty_fields
    from service.scan.runner import apply_crawl_fields
    from service.scoring import score_text

    text = "Harbour reopens\n\nThe harbour reopened on Monday after three weeks of repairs, the council said."
    rec = score_text(text, model=tiny_model, explain=False)
    before = json.loads(json.dumps(rec))
    apply_crawl_fields(rec, {**_empty_fields(), "duplicate_of": "other", "duplicate_similarity": 0.93}, text,
                       tiny_model.thresholds)
    assert rec["score"] == before["score"] and rec["verdict"] == before["verdict"]
    assert "document_score" not in rec and rec["explanation"] == before["explanation"]
    assert [r["code"] for r in rec["reasons"] if r["code"] != "near_duplicate"] == [r["code"] for r in before["reasons"]]
    assert "near_duplicate" in [r["code"] for r in rec["reasons"]]
    order = [(-abs(r["contribution"]), r["code"]) for r in rec["reasons"]]
    assert order == sorted(order)

    # a weighed crawl reason moves the score, and document_score keeps the text's own
    rec = json.loads(json.dumps(before))
    lines = [{"offset": 0, "documents": 40, "scope": "site"}]
    apply_crawl_fields(rec, {**_empty_fields(), "crawl_repeated_lines": lines}, text, tiny_model.thresholds)
    assert rec["document_score"] == before["score"] and rec["score"] < before["score"]
    assert rec["crawl"]["crawl_repeated_lines"][0]["line"] == "Harbour reopens"


def test_ctrl_c_before_the_first_document_is_scored_still_stops_cleanly(tmp_path, tiny_model):
    """A Ctrl-C while the documents are counted or the model warms up (before anything is scored) is an
    interruption like any other: a valid, empty output, the journal kept for --resume."""
    from service.scan.runner import ScanOptions, journal_path, run_scan

    crawl = tmp_path / "crawl"
    crawl.mkdir()
    for i in range(3):
        (crawl / f"a{i}.txt").write_text(f"Story {i}\n\nThe council met on Tuesday to talk about item {i}.", encoding="utf-8")
    out = tmp_path / "out.jsonl"

    def progress(done: int, total: int | None) -> None:
        raise KeyboardInterrupt  # at the first report, before any document is scored

    result = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=2), progress=progress)
    assert result.interrupted and result.scored_now == 0
    assert out.read_text(encoding="utf-8") == ""
    assert journal_path(out).is_file()
    again = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, resume=True))
    assert not again.interrupted and again.scored_now == 3
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_resume_after_files_were_added_writes_the_records_in_input_order(tmp_path, tiny_model):
    """Files added before the journaled ones shift every later document's place in the walk: the journaled
    records take their places as the inputs are now, and the output is that of a whole run."""
    from service.scan.runner import ScanOptions, run_scan

    crawl, out = _small_crawl(tmp_path, 6), tmp_path / "out.jsonl"
    first = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, explain=False), progress=_stop_at(8))
    assert first.interrupted
    (crawl / "a02x.txt").write_text((crawl / "b04.txt").read_text(encoding="utf-8"), encoding="utf-8")
    (crawl / "0.txt").write_text((crawl / "b05.txt").read_text(encoding="utf-8"), encoding="utf-8")
    again = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, resume=True, explain=False))
    assert again.resumed >= 8 and not again.interrupted
    whole = tmp_path / "whole.jsonl"
    run_scan([crawl], tiny_model, ScanOptions(out=whole, workers=1, explain=False))
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    want = [json.loads(x) for x in whole.read_text(encoding="utf-8").splitlines()]
    assert [r["key"] for r in got] == sorted(r["key"] for r in got) == [r["key"] for r in want]
    assert [(r["score"], r["crawl"]) for r in got] == [(r["score"], r["crawl"]) for r in want]


def _small_crawl(tmp_path, n=12):
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[3] / "training" / "fixtures" / "reliable_a.jsonl"
    texts = [json.loads(line)["text"] for line in fixtures.read_text(encoding="utf-8").splitlines()[:n]]
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    for i, t in enumerate(texts):
        (crawl / f"a{i:02d}.txt").write_text(t, encoding="utf-8")
        (crawl / f"b{i:02d}.txt").write_text(t.replace(".", ". Indeed", 1), encoding="utf-8")
    return crawl


def _stop_at(n):
    def progress(done, total):
        if done >= n:
            raise KeyboardInterrupt
    return progress


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_early_in_a_resumed_run_keeps_the_resumed_records_crawl_fields(tmp_path, tiny_model, workers):
    from service.scan.runner import ScanOptions, run_scan

    crawl, out = _small_crawl(tmp_path), tmp_path / "out.jsonl"
    first = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=workers, explain=False), progress=_stop_at(12))
    before = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert first.interrupted and len(before) >= 12 and all("crawl" in r for r in before)
    # stopped at its first progress report: before the pool could sketch the journaled records again
    again = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=workers, resume=True, explain=False),
                     progress=_stop_at(0))
    after = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert again.interrupted and [r["id"] for r in after] == [r["id"] for r in before]
    assert [r["crawl"] for r in after] == [r["crawl"] for r in before]


def test_ctrl_c_while_the_journal_is_read_leaves_the_output_and_the_journal_as_they_were(tmp_path, tiny_model,
                                                                                          monkeypatch):
    from service.scan import runner
    from service.scan.runner import ScanOptions, journal_path, run_scan

    crawl, out = _small_crawl(tmp_path, 6), tmp_path / "out.jsonl"
    run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, explain=False), progress=_stop_at(5))
    output, journal = out.read_bytes(), journal_path(out).read_bytes()
    assert output and journal
    calls = []
    real = runner._decode_line

    def decode(line):  # the user presses Ctrl-C while the third journaled record is read
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(line)

    monkeypatch.setattr(runner, "_decode_line", decode)
    result = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, resume=True, explain=False))
    assert result.interrupted and not result.output_written
    assert out.read_bytes() == output and journal_path(out).read_bytes() == journal
    assert not list(tmp_path.glob("*.tmp"))


def test_resume_scores_again_what_changed_and_drops_what_is_gone(tmp_path, tiny_model):
    """A journaled record is kept only while its document is still in the inputs and its file unchanged: a
    resumed run after the inputs were edited equals a whole run over the inputs as they are."""
    import os

    from service.scan.runner import ScanOptions, run_scan

    crawl, out = _small_crawl(tmp_path, 6), tmp_path / "out.jsonl"
    rows = [{"id": f"r{i}", "text": (crawl / f"a{i:02d}.txt").read_text(encoding="utf-8")} for i in range(6)]
    (crawl / "batch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    first = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, explain=False), progress=_stop_at(17))
    assert first.interrupted
    # batch.jsonl (scanned first: sorted by name) shrinks to one line, a00.txt is rewritten, b00.txt is gone
    (crawl / "batch.jsonl").write_text(json.dumps(rows[5]) + "\n", encoding="utf-8")
    edited = crawl / "a00.txt"
    edited.write_text("Short note. " + edited.read_text(encoding="utf-8"), encoding="utf-8")
    st = edited.stat()
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a coarse clock cannot hide the edit
    (crawl / "b00.txt").unlink()
    again = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, resume=True, explain=False))
    assert not again.interrupted
    whole = tmp_path / "whole.jsonl"
    run_scan([crawl], tiny_model, ScanOptions(out=whole, workers=1, explain=False))
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    want = [json.loads(x) for x in whole.read_text(encoding="utf-8").splitlines()]
    assert len(got) == len(want) == 6 + 5 + 1
    assert [(r["id"], r["score"]) for r in got] == [(r["id"], r["score"]) for r in want]
    assert again.resumed > 0 and again.scored_now >= 2  # the unchanged records were kept, the edited ones redone


def test_a_records_lang_is_scored_and_a_resumed_run_gives_what_a_whole_run_gives(tmp_path, tiny_model):
    """A record's lang was ignored by the scan (thresher score --jsonl echoes it as language.declared). It is
    scored now, in the journaled records as in the others: a resumed run's output is a whole run's, field for
    field; and a journal written before (version 2, records without it) is not resumed but started over."""
    from service.scan.runner import JOURNAL_VERSION, ScanOptions, journal_path, run_scan

    crawl, out = _small_crawl(tmp_path, 6), tmp_path / "out.jsonl"
    rows = [{"id": f"r{i}", "text": (crawl / f"a{i:02d}.txt").read_text(encoding="utf-8"), "lang": lang}
            for i, lang in enumerate(["en", "de", None, "en-GB", "English", "fr"])]
    # scanned first (sorted by name): its records are among the journaled ones when the run is stopped
    (crawl / "0-batch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    whole = tmp_path / "whole.jsonl"
    run_scan([crawl], tiny_model, ScanOptions(out=whole, workers=1, explain=False))
    want = [json.loads(x) for x in whole.read_text(encoding="utf-8").splitlines()]
    declared = [(r["id"], r.get("language", {}).get("declared"), r.get("error", {}).get("code")) for r in want
                if r["source_format"] == "jsonl"]
    assert declared == [("r0", "en", None), ("r1", "de", None), ("r2", None, None), ("r3", "en-GB", None),
                        ("r4", None, "bad_record"), ("r5", "fr", None)]
    by_id = {r["id"]: r for r in want}
    assert by_id["r1"]["language"]["matches_declared"] is False and by_id["r3"]["language"]["matches_declared"] is True

    first = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, explain=False), progress=_stop_at(9))
    assert first.interrupted
    journaled = [json.loads(x) for x in journal_path(out).read_text(encoding="utf-8").splitlines()[1:]]
    assert {r["id"] for r in journaled} >= {"r0", "r1", "r3", "r4"}
    again = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, resume=True, explain=False))
    assert not again.interrupted and again.resumed >= 9
    assert [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] == want

    run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, explain=False), progress=_stop_at(9))
    journal = journal_path(out)
    head, rest = journal.read_bytes().split(b"\n", 1)
    old = json.loads(head)
    assert old["journal"] == JOURNAL_VERSION > 2
    journal.write_bytes(json.dumps({**old, "journal": 2}).encode() + b"\n" + rest)  # as an older thresher wrote it
    again = run_scan([crawl], tiny_model, ScanOptions(out=out, workers=1, resume=True, explain=False))
    assert again.resumed == 0 and again.scored_now == len(want)
    assert [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] == want
