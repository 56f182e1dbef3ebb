from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from resources import CLEAN, CLEAN_TITLE, SCRAPED, SPUN
from typer.testing import CliRunner

from service.cli import _file_name, app

REPO = Path(__file__).resolve().parents[2]
ERROR_CODES = {"empty", "binary", "not_utf8", "unreadable"}
# bytes that no encoding decodes (charset-normalizer finds none): not_utf8, in thresher score as in scan
UNDECODABLE = b"\x81\x8d\x8f\x90\x9d" + bytes(b for b in random.Random(7).randbytes(4000) if b) + b"\xff\xfe\xfd"


@pytest.fixture
def runner():
    return CliRunner()


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def inputs(tmp_path):
    files = {
        "good": tmp_path / "good.txt",
        "empty": tmp_path / "empty.txt",
        "binary": tmp_path / "binary.bin",
        "latin1": tmp_path / "latin1.txt",
        "noise": tmp_path / "noise.txt",
        "missing": tmp_path / "missing.txt",
        "good2": tmp_path / "good2.txt",
    }
    files["good"].write_text(CLEAN, encoding="utf-8")
    files["empty"].write_text("  \n\n ", encoding="utf-8")
    files["binary"].write_bytes(b"PK\x03\x04\x00\x00binary\x00payload")
    files["latin1"].write_bytes("Café crème à Zürich, naïve façade.\n".encode("latin-1"))  # detected, as scan does
    files["noise"].write_bytes(UNDECODABLE)
    files["good2"].write_bytes(b"\xef\xbb\xbf" + SPUN.encode("utf-8"))  # UTF-8 with a BOM is fine
    return files


def test_score_files_one_record_per_input_in_order(runner, inputs, tiny_model_dir):
    order = ["good", "empty", "binary", "latin1", "noise", "good2"]
    args = ["score", *[str(inputs[k]) for k in order], "--model", str(tiny_model_dir)]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    recs = _records(res.stdout)
    assert [r["id"] for r in recs] == [str(inputs[k]) for k in order]
    expected = {"empty": "empty", "binary": "binary", "noise": "not_utf8"}
    for key, rec in zip(order, recs, strict=True):
        if key in expected:
            assert rec["error"]["code"] == expected[key], rec
            assert rec["error"]["code"] in ERROR_CODES
            assert rec["error"]["message"]
            assert "score" not in rec
        else:
            assert "error" not in rec
            assert 0.0 <= rec["score"] <= 100.0
            assert rec["path"] == str(inputs[key])
    assert "3 of 6 document(s) could not be scored" in res.stderr


def test_all_good_files_exit_zero(runner, inputs, tiny_model_dir):
    res = runner.invoke(
        app, ["score", str(inputs["good"]), str(inputs["good2"]), "--model", str(tiny_model_dir)]
    )
    assert res.exit_code == 0, res.output
    recs = _records(res.stdout)
    assert len(recs) == 2 and all("error" not in r for r in recs)


def test_score_matches_library(runner, inputs, tiny_model, tiny_model_dir):
    from service.scoring import score_text

    res = runner.invoke(app, ["score", str(inputs["good"]), "--model", str(tiny_model_dir)])
    (rec,) = _records(res.stdout)
    assert rec["score"] == score_text(CLEAN, model=tiny_model)["score"]


def test_stdin(runner, tiny_model_dir):
    res = runner.invoke(
        app, ["score", "-", "--model", str(tiny_model_dir), "--no-explain"], input=SCRAPED.encode("utf-8")
    )
    assert res.exit_code == 0, res.output
    (rec,) = _records(res.stdout)
    assert rec["id"] == "-"
    assert "lines" not in rec and all("evidence" not in x for x in rec["reasons"])


def test_max_bytes(runner, inputs, tiny_model_dir):
    res = runner.invoke(
        app, ["score", str(inputs["good"]), "--max-bytes", "10", "--model", str(tiny_model_dir)]
    )
    assert res.exit_code == 1
    (rec,) = _records(res.stdout)
    assert rec["error"]["code"] == "too_large"


def test_jsonl_in_out(runner, tmp_path, tiny_model_dir):
    rows = [
        json.dumps({"id": "a", "text": CLEAN}),
        "{this is not json",
        json.dumps({"id": "no-text", "body": "the text is under another key"}),
        "",
        json.dumps({"id": "c", "text": SPUN}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "blank", "text": "   "}),
        json.dumps({"text": SCRAPED}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = runner.invoke(
        app, ["score", "--jsonl", str(src), "--out", str(out), "--model", str(tiny_model_dir)]
    )
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    recs = _records(out.read_text(encoding="utf-8"))
    n_records = sum(1 for r in rows if r.strip())
    assert len(recs) == n_records
    assert [r["id"] for r in recs] == ["a", f"{src}:2", "no-text", "c", f"{src}:6", "blank", f"{src}:8"]
    codes = [r.get("error", {}).get("code") for r in recs]
    assert codes == [None, "bad_json", "no_text", None, "bad_record", "empty", None]
    assert all(0 <= r["score"] <= 100 for r in recs if "error" not in r)


def test_jsonl_ids_of_any_json_type_are_read_as_the_scan_reads_them(runner, tmp_path, tiny_model_dir):
    from service.scan.sources import iter_documents

    rows = [{"id": v, "text": CLEAN} for v in ("a", True, 7, 1.5, {"a": 1}, None, "")]
    src = tmp_path / "ids.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 0, res.output
    got = [r["id"] for r in _records(res.stdout)]
    assert got == ["a", "true", "7", "1.5", '{"a":1}', f"{src}:6", f"{src}:7"]
    assert got == [d.id for d in iter_documents([src])]


def test_jsonl_dash_reads_standard_input_plain_or_gzipped(tmp_path, tiny_model_dir):
    """`zcat crawl.jsonl.gz | thresher score --jsonl -`: '-' is standard input, as for FILE (it was
    "cannot open -: no such file"); ids are '-:LINE' as the file's are 'IN:LINE'."""
    import gzip

    rows = "".join(json.dumps(r) + "\n" for r in ({"id": "a", "text": CLEAN}, {"text": SPUN}))
    src = tmp_path / "in.jsonl"
    src.write_text(rows, encoding="utf-8")
    cmd = [sys.executable, "-m", "service.cli", "score", "--model", str(tiny_model_dir), "--no-explain"]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    from_file = subprocess.run([*cmd, "--jsonl", str(src)], capture_output=True, cwd=REPO, env=env)
    assert from_file.returncode == 0, from_file.stderr
    for data in (rows.encode(), gzip.compress(rows.encode())):
        piped = subprocess.run([*cmd, "--jsonl", "-"], input=data, capture_output=True, cwd=REPO, env=env)
        assert piped.returncode == 0, piped.stderr
        got, want = _records(piped.stdout.decode()), _records(from_file.stdout.decode())
        assert [r["id"] for r in got] == ["a", "-:2"]
        assert [r["score"] for r in got] == [r["score"] for r in want]
    both = subprocess.run([*cmd, "--jsonl", "-", "-"], input=rows.encode(), capture_output=True, cwd=REPO, env=env)
    assert both.returncode == 2 and b"standard input" in both.stderr, both.stderr


def test_jsonl_given_several_times_scores_every_file_in_the_order_given(runner, tmp_path, tiny_model_dir):
    """`--jsonl a.jsonl --jsonl b.jsonl` kept only b: a's records were silently not scored. Every file is read,
    after the FILEs, as `thresher score x.txt y.txt` reads both; one that cannot be opened is a usage error
    before anything is written, as a single one is; standard input can be read once."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"id": "a1", "text": CLEAN}) + "\n" + json.dumps({"text": SPUN}) + "\n", encoding="utf-8")
    b.write_text(json.dumps({"id": "b1", "text": SCRAPED}) + "\n", encoding="utf-8")
    one = tmp_path / "one.txt"
    one.write_text(CLEAN, encoding="utf-8")
    base = ["score", "--model", str(tiny_model_dir), "--no-explain"]
    res = runner.invoke(app, [*base, "--jsonl", str(a), str(one), "--jsonl", str(b), "--jsonl", str(a)])
    assert res.exit_code == 0, res.output
    assert [r["id"] for r in _records(res.stdout)] == [str(one), "a1", f"{a}:2", "b1", "a1", f"{a}:2"]
    res = runner.invoke(app, [*base, "--jsonl", str(a), "--jsonl", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and res.stdout == ""
    assert f"cannot open {tmp_path / 'missing.jsonl'}: no such file" in res.stderr
    res = runner.invoke(app, [*base, "--jsonl", "-", "--jsonl", "-"], input=a.read_text(encoding="utf-8"))
    assert res.exit_code == 2 and res.stdout == ""
    assert "--jsonl - is given 2 times; standard input can be read once" in res.stderr


def test_an_empty_text_field_is_a_usage_error(runner, tmp_path):
    """`--text-field ''` names no field: every record was a no_text error (or read from 'html'). Refused at
    once, before the model loads (the model folder given does not exist)."""
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"": CLEAN}) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--text-field", "", "--model", str(tmp_path / "none")])
    assert res.exit_code == 2 and res.stdout == ""
    assert "error: --text-field is empty; give the name of the field" in res.stderr


def test_jsonl_record_with_html_instead_of_text_is_scored_as_the_scan_scores_it(runner, tmp_path, tiny_model,
                                                                                 tiny_model_dir):
    from service.scan.runner import score_document
    from service.scan.sources import iter_documents

    paragraphs = "".join(f"<p>{p}</p>" for p in CLEAN.split("\n\n")[1:])
    page = (f"<html><head><title>{CLEAN.splitlines()[0]}</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>{CLEAN.splitlines()[0]}</h1>{paragraphs}</article></body></html>")
    src = tmp_path / "pages.jsonl"
    src.write_text(json.dumps({"id": "p1", "html": page}) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 0, res.output
    (got,) = _records(res.stdout)
    (doc,) = list(iter_documents([src]))
    want = score_document(doc, tiny_model, explain=False)
    assert got["score"] == want["score"] and got["html"] == want["html"]


def test_jsonl_html_record_with_its_own_title_and_url_is_scored_as_the_scan_scores_it(runner, tmp_path, tiny_model,
                                                                                     tiny_model_dir):
    """A crawl record gives the page's title and URL beside its HTML: the scan uses them (the title above a
    text that starts with no headline, the URL for trafilatura and the site's name); so does score --jsonl."""
    from service.scan.runner import score_document
    from service.scan.sources import iter_documents

    paragraphs = "".join(f"<p>{p}</p>" for p in CLEAN.split("\n\n")[1:])
    page = f"<html><body><article>{paragraphs}</article></body></html>"  # no <title>, no headline
    src = tmp_path / "pages.jsonl"
    src.write_text(json.dumps({"id": "p1", "html": page, "title": "Harbour budget approved | Harbour Gazette",
                               "url": "https://harbourgazette.example.com/news/1"}) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 0, res.output
    (got,) = _records(res.stdout)
    (doc,) = list(iter_documents([src]))
    want = score_document(doc, tiny_model, explain=False)
    untitled = score_document(dataclasses.replace(doc, title=None, url=None), tiny_model, explain=False)
    assert want["score"] != untitled["score"], "the title should matter to this text"
    assert got["score"] == want["score"]


def test_jsonl_records_carry_the_url_as_the_scan_records_do(runner, tmp_path, tiny_model, tiny_model_dir):
    """A record's url was dropped from score --jsonl's output (the scan's records keep it): now each record,
    scored or not, has the url its input gave, right after its id, and none when the input gave none."""
    from service.scan.runner import score_document
    from service.scan.sources import iter_documents

    rows = [{"id": "u", "text": CLEAN, "url": "https://coast.example.com/a"},
            {"id": "none", "text": CLEAN},
            {"id": "null", "text": CLEAN, "url": None},
            {"id": "blank", "text": CLEAN, "url": ""},
            {"id": "empty", "text": " ", "url": "https://coast.example.com/empty"},  # an error record keeps it
            {"id": "number", "text": CLEAN, "url": 7}]  # not a string: no url (score --jsonl refuses the record)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 1, res.output
    got = _records(res.stdout)
    scanned = [score_document(doc, tiny_model, explain=False) for doc in iter_documents([src])]
    assert [r.get("url") for r in got] == [r.get("url") for r in scanned] == [
        "https://coast.example.com/a", None, None, None, "https://coast.example.com/empty", None]
    assert [("url" in r) for r in got] == [("url" in r) for r in scanned]  # absent, not null, as in the scan
    assert list(got[0])[:2] == ["id", "url"] and list(got[4]) == ["id", "url", "error"]
    assert got[0]["score"] == scanned[0]["score"] and got[4]["error"]["code"] == "empty"


def test_jsonl_text_field(runner, tmp_path, tiny_model_dir):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "x", "body": CLEAN}) + "\n", encoding="utf-8")
    res = runner.invoke(
        app, ["score", "--jsonl", str(src), "--text-field", "body", "--model", str(tiny_model_dir)]
    )
    assert res.exit_code == 0, res.output
    (rec,) = _records(res.stdout)
    assert rec["id"] == "x" and "score" in rec


def test_jsonl_unpaired_surrogates_give_error_records_not_a_crash(runner, tmp_path, tiny_model_dir):
    # JSON may escape a lone surrogate; the decoded string cannot be written as UTF-8.
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "s", "text": "Broken \\ud800 text. ' + CLEAN.replace("\n", " ").replace('"', "'") + '"}\n'
                   + '{"id": "bad\\udfffid", "text": ' + json.dumps(CLEAN) + "}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--out", str(out), "--model", str(tiny_model_dir)])
    assert res.exit_code == 1, res.output
    first, second = _records(out.read_text(encoding="utf-8"))
    assert first["id"] == "s" and first["error"]["code"] == "not_utf8" and "surrogate" in first["error"]["message"]
    assert second["id"] == "bad\\udfffid" and 0 <= second["score"] <= 100  # the id is kept, escaped


def test_no_input_is_a_usage_error(runner, tiny_model_dir):
    res = runner.invoke(app, ["score", "--model", str(tiny_model_dir)])
    assert res.exit_code == 2


def test_bad_model_dir_exits_2(runner, inputs, tmp_path):
    res = runner.invoke(app, ["score", str(inputs["good"]), "--model", str(tmp_path / "nothing")])
    assert res.exit_code == 2
    assert "manifest.json" in res.stderr
    assert res.stdout == ""


def test_model_dir_from_environment(runner, inputs, tiny_model_dir):
    res = runner.invoke(app, ["score", str(inputs["good"])], env={"THRESHER_MODEL_DIR": str(tiny_model_dir)})
    assert res.exit_code == 0, res.output
    assert _records(res.stdout)[0]["model"]["name"] == "tiny"


def _command() -> list[str]:
    exe = REPO / ".venv" / "bin" / "thresher"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("thresher")
    return [found] if found else [sys.executable, "-m", "service.cli"]


def test_subprocess_end_to_end(inputs, tiny_model_dir):
    cmd = [
        *_command(),
        "score",
        str(inputs["good"]),
        str(inputs["binary"]),
        "--model",
        str(tiny_model_dir),
        "--no-explain",
    ]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 1, proc.stderr
    recs = _records(proc.stdout)
    assert [r.get("error", {}).get("code") for r in recs] == [None, "binary"]
    assert recs[0]["verdict"] in {"reliable", "suspect", "unreliable"}


def test_an_input_over_max_bytes_is_refused_without_being_read_into_memory(tmp_path, tiny_model_dir):
    """A 300 MB file, JSONL line or standard input is a too_large record, read no further than --max-bytes: it
    was read whole first (/dev/zero, or a crawl dump given by mistake, ended in MemoryError and a traceback)."""
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(300 * 2**20)  # sparse: 300 MB of NUL bytes on no disk
    small = tmp_path / "small.txt"
    small.write_text(CLEAN, encoding="utf-8")
    run = ("import resource, sys\nfrom service.cli import app\ntry:\n    app(sys.argv[1:], prog_name='thresher')\n"
           "finally:\n    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")

    def score(args: list[str], stdin: Path | None = None) -> tuple[int, list[dict], int]:
        with (stdin or small).open("rb") as fh:
            proc = subprocess.run([sys.executable, "-c", run, "score", "--model", str(tiny_model_dir), "--no-explain",
                                   *args], stdin=fh, capture_output=True, cwd=REPO, env={"PYTHONPATH": str(REPO)})
        rss = int(proc.stderr.decode().rsplit("maxrss ", 1)[1])  # KiB
        return proc.returncode, _records(proc.stdout.decode()), rss

    code, recs, baseline = score(["--max-bytes", "100", str(small)])  # refused as well: no scoring's memory
    assert code == 1 and recs[0]["error"]["code"] == "too_large"
    for args, stdin in (([str(huge)], None), (["--jsonl", str(huge)], None), (["-"], huge)):
        code, recs, rss = score(args, stdin)
        assert code == 1, args
        assert [r["error"]["code"] for r in recs] == ["too_large"], recs
        assert "--max-bytes" in recs[0]["error"]["message"]
        assert rss - baseline < 100 * 1024, (args, rss, baseline)  # KiB: not the 300 MB


def test_a_file_name_that_is_not_utf8_is_shown_escaped_as_the_scan_shows_it(tmp_path, tiny_model_dir):
    """`thresher score café.txt` with the name in Latin-1: its records name it `caf\\xe9.txt`, and the output is
    UTF-8 JSON; with --out it died with UnicodeEncodeError (a traceback, an empty file), on standard output it
    wrote the raw byte 0xE9 (no valid UTF-8)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    name = os.fsdecode(str(folder).encode() + b"/caf\xe9.txt")
    Path(name).write_text(CLEAN, encoding="utf-8")
    jsonl = os.fsdecode(str(folder).encode() + b"/lines\xe9.jsonl")
    Path(jsonl).write_text(json.dumps({"text": CLEAN}) + "\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "service.cli", "score", "--model", str(tiny_model_dir), "--no-explain", name,
           "--jsonl", jsonl]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    out = tmp_path / "out.jsonl"
    for extra in ([], ["--out", str(out)]):
        proc = subprocess.run([*cmd, *extra], capture_output=True, cwd=REPO, env=env)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
        text = (out.read_bytes() if extra else proc.stdout).decode("utf-8")  # valid UTF-8
        first, second = _records(text)
        assert first["id"] == first["path"] == f"{folder}/caf\\xe9.txt" and "score" in first
        assert second["id"] == f"{folder}/lines\\xe9.jsonl:1" and "score" in second


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_output_that_cannot_be_written_is_an_error_saying_why_not_a_traceback(tmp_path, tiny_model_dir):
    """A full disk under --out or standard output: exit 2 with the reason; it was a traceback and exit 1, which
    says that some document got an error record."""
    src = tmp_path / "a.txt"
    src.write_text(CLEAN, encoding="utf-8")
    cmd = [sys.executable, "-m", "service.cli", "score", "--model", str(tiny_model_dir), str(src)]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    to_file = subprocess.run([*cmd, "--out", "/dev/full"], capture_output=True, text=True, cwd=REPO, env=env)
    with open("/dev/full", "w") as full:
        to_stdout = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    for proc, where in ((to_file, "/dev/full"), (to_stdout, "standard output")):
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr and f"cannot write {where}" in proc.stderr, proc.stderr[-2000:]
        assert "No space left" in proc.stderr


def test_demo_prints_every_document_with_its_verdict(runner, tmp_path, tiny_model, tiny_model_dir):
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "clean.txt").write_text(CLEAN, encoding="utf-8")
    (folder / "scraped.txt").write_text(SCRAPED, encoding="utf-8")
    res = runner.invoke(app, ["demo", "--seeds", str(folder), "--model", str(tiny_model_dir)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    from service.scoring import score_text

    for name, text in (("clean.txt", CLEAN), ("scraped.txt", SCRAPED)):
        verdict = score_text(text, model=tiny_model)["verdict"]
        row = next(line for line in res.output.splitlines() if name in line)
        assert verdict in row


def test_a_missing_file_or_a_folder_is_a_usage_error_before_any_scoring(runner, inputs, tmp_path, tiny_model_dir):
    for bad, said in ((inputs["missing"], "no such file"), (tmp_path, "a folder")):
        res = runner.invoke(app, ["score", str(inputs["good"]), str(bad), "--model", str(tiny_model_dir)])
        assert res.exit_code == 2 and said in res.output, res.output
        assert '"score"' not in res.stdout  # refused before the first document


def test_score_refuses_to_write_over_its_input(runner, tmp_path, tiny_model_dir):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": CLEAN}) + "\n", encoding="utf-8")
    before = src.read_bytes()
    for args in (["--jsonl", str(src)], [str(src)]):
        res = runner.invoke(app, ["score", *args, "--out", str(src), "--model", str(tiny_model_dir)])
        assert res.exit_code == 2 and "is an input" in res.output, res.output
        assert src.read_bytes() == before


def test_demo_shows_an_unreadable_or_empty_file_as_an_error_row(runner, tmp_path, tiny_model_dir):
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "a-empty.txt").write_text("")
    (folder / "b-latin1.txt").write_bytes(CLEAN.replace("the", "thé", 1).encode("latin-1", "replace"))
    (folder / "c-clean.txt").write_text(CLEAN, encoding="utf-8")
    res = runner.invoke(app, ["demo", "--seeds", str(folder), "--model", str(tiny_model_dir)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    rows = {name: next(line for line in res.output.splitlines() if name in line)
            for name in ("a-empty.txt", "b-latin1.txt", "c-clean.txt")}
    assert "error" in rows["a-empty.txt"] and "empty" in rows["a-empty.txt"]
    assert "error" not in rows["b-latin1.txt"] and "error" not in rows["c-clean.txt"]


def test_demo_on_an_empty_folder_is_a_usage_error(runner, tmp_path, tiny_model_dir):
    res = runner.invoke(app, ["demo", "--seeds", str(tmp_path), "--model", str(tiny_model_dir)])
    assert res.exit_code == 2
    assert "no .txt files" in res.output


def test_demo_on_a_missing_folder_or_a_file_says_so_before_loading_the_model(runner, tmp_path):
    """`make demo` without ../shared/seeds: say the folder is missing and how to give another, before the model
    (here missing too) is loaded; it said "no .txt files in ../shared/seeds" after loading it."""
    (tmp_path / "one.txt").write_text(CLEAN, encoding="utf-8")
    for seeds, said in ((tmp_path / "nope", "no such folder"), (tmp_path / "one.txt", "is a file")):
        res = runner.invoke(app, ["demo", "--seeds", str(seeds), "--model", str(tmp_path / "no-model")])
        assert res.exit_code == 2, res.output
        assert said in res.output and str(seeds) in res.output and "--seeds" in res.output, res.output
        assert "no model" not in res.output


def test_models_list_and_show(runner, tiny_model_dir, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(tiny_model_dir, root / "good")
    shutil.copytree(tiny_model_dir, root / "tampered")
    (root / "tampered" / "model.joblib").write_bytes(b"changed")
    (root / "not-a-model").mkdir()
    listed = runner.invoke(app, ["models", "list", "--root", str(root)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    good = next(line for line in listed.output.splitlines() if " good " in line)
    tampered = next(line for line in listed.output.splitlines() if " tampered " in line)
    assert "verified" in good and "refused" in tampered
    assert not any("not-a-model" in line and "│" in line for line in listed.output.splitlines())  # not a row
    assert "not model folders (no readable manifest.json): not-a-model" in listed.output  # but said
    shown = runner.invoke(app, ["models", "show", "good", "--root", str(root)])
    assert shown.exit_code == 0, shown.output
    man = json.loads(shown.output)
    assert man["name"] == "tiny" and man["status"] == "verified" and man["feature_names"]
    missing = runner.invoke(app, ["models", "show", "nothing", "--root", str(root)])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    (root / "listed").mkdir()
    (root / "listed" / "manifest.json").write_text("[]")
    malformed = runner.invoke(app, ["models", "show", "listed", "--root", str(root)])
    assert malformed.exit_code == 2 and "is not a JSON object" in malformed.output, malformed.output
    shutil.copytree(tiny_model_dir, root / "null-libraries")
    manifest = json.loads((root / "null-libraries" / "manifest.json").read_text())
    (root / "null-libraries" / "manifest.json").write_text(json.dumps({**manifest, "libraries": None}))
    refused = runner.invoke(app, ["score", "--model", str(root / "null-libraries"), "-"], input="Some text here.")
    assert refused.exit_code == 2 and "libraries" in refused.output, refused.output
    empty = runner.invoke(app, ["models", "list", "--root", str(tmp_path / "none")])
    assert empty.exit_code == 1


def _thresher(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([*_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_score_standard_input_given_twice_is_a_usage_error(tmp_path):
    proc = subprocess.run([*_command(), "score", "-", "-", "--model", str(tmp_path / "no-model")], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, input="A text.", capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr  # it scored the text, then gave the second '-' an 'empty' record
    assert "'-' is given 2 times; standard input can be read once" in proc.stderr and proc.stdout == ""


def test_score_out_dash_is_standard_output_not_a_file_named_dash(inputs, tmp_path, tiny_model_dir):
    proc = _thresher("score", str(inputs["good"]), "--out", "-", "--model", str(tiny_model_dir), "--no-explain",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in _records(proc.stdout)] == [str(inputs["good"])]
    assert not (tmp_path / "-").exists()


def test_score_out_a_folder_is_a_usage_error_before_any_work(inputs, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    # a model folder that does not exist: had the model been loaded first, the error would be about it
    proc = _thresher("score", str(inputs["good"]), "--out", str(folder), "--model", str(tmp_path / "no-model"),
                     cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"--out {folder} is a folder" in proc.stderr
    assert "Traceback" not in proc.stderr and "manifest" not in proc.stderr
    assert list(folder.iterdir()) == []


def test_score_out_under_a_file_is_a_usage_error(runner, inputs, tiny_model_dir):
    res = runner.invoke(app, ["score", str(inputs["good"]), "--out", str(inputs["good"] / "o.jsonl"),
                              "--model", str(tiny_model_dir)])
    assert res.exit_code == 2
    assert "is a file, not a folder" in res.stderr


def test_score_out_creates_missing_parent_folders(inputs, tmp_path, tiny_model_dir):
    out = tmp_path / "new" / "dir" / "o.jsonl"
    proc = _thresher("score", str(inputs["good"]), "--out", str(out), "--model", str(tiny_model_dir),
                     "--no-explain", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (rec,) = _records(out.read_text(encoding="utf-8"))
    assert rec["id"] == str(inputs["good"]) and 0 <= rec["score"] <= 100


def test_score_reads_gzip_jsonl(runner, tmp_path, tiny_model, tiny_model_dir):
    import gzip

    from service.scoring import score_text

    rows = [json.dumps({"id": "a", "text": CLEAN}), json.dumps({"id": "b", "text": SPUN})]
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(rows) + "\n")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 0, res.output
    recs = _records(res.stdout)
    assert [r["id"] for r in recs] == ["a", "b"]
    assert [r["score"] for r in recs] == [score_text(t, model=tiny_model)["score"] for t in (CLEAN, SPUN)]


def test_score_gzip_cut_short_ends_with_an_error_record(runner, tmp_path, tiny_model_dir):
    import gzip

    rows = [json.dumps({"id": f"r{i}", "text": CLEAN}) for i in range(3)]
    whole = gzip.compress(("\n".join(rows) + "\n").encode("utf-8"))
    src = tmp_path / "cut.jsonl.gz"
    src.write_bytes(whole[:-30])  # the last bytes of the deflate stream and the trailer are missing
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 1, res.output
    recs = _records(res.stdout)
    assert recs[-1]["error"]["code"] == "bad_archive"
    assert all("error" not in r for r in recs[:-1])
    assert len(recs) <= 3


def test_bad_json_message_keeps_the_position(runner, tmp_path, tiny_model_dir):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": CLEAN}) + "\n" + '{"id": "b", "text": "tab\there"}\n'
                   + "[" * 100_000 + "\n" + '{"id": "d", "n": ' + "9" * 4301 + "}\n"
                   + json.dumps({"id": "e", "text": CLEAN}) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 1
    _, bad, deep, big, last = _records(res.stdout)
    assert big["error"]["code"] == "bad_json" and "4300 digits" in big["error"]["message"]  # the run goes on
    assert "sys." not in big["error"]["message"] and "as a string" in big["error"]["message"]  # Python's advice
    assert last["id"] == "e" and "score" in last
    assert bad["error"]["code"] == "bad_json"
    want = "line 2 is not valid JSON: Invalid control character at: line 1 column 25 (char 24)"
    assert bad["error"]["message"] == want
    assert deep["error"] == {"code": "bad_json", "message": "line 3 is not valid JSON: nested too deeply"}


@pytest.mark.parametrize("args", [
    ["score", "--max-bytes", "0"],
    ["score", "--max-bytes", "-5"],
    ["scan", "--out", "o.jsonl", "--max-bytes", "0"],
    ["scan", "--out", "o.jsonl", "--workers", "0"],
    ["train", "--cv", "1"],
    ["train", "--workers", "-1"],
    ["train", "--seed", "-1"],  # numpy's seeds are 0 to 2**32 - 1: it failed after the whole training
    ["train", "--seed", str(2**32)],
    ["eval", "--fixtures", "x.jsonl", "--workers", "-1"],
    ["serve", "--port", "70000"],
])
def test_numeric_options_below_their_minimum_are_usage_errors(runner, inputs, args):
    if args[0] in ("score", "scan"):
        args = [args[0], str(inputs["good"]), *args[1:]]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    option = next(a for a in args if a.startswith("--") and a != "--out" and a != "--fixtures")
    assert f"Invalid value for '{option}'" in res.output


def test_help_shows_no_type_for_flags_and_says_what_workers_0_means(runner):
    for args in (["--help"], ["train", "--help"], ["score", "--help"], ["models", "--help"]):
        res = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        assert "<bool>" not in res.output, args
        assert "--help" in res.output
    train_help = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    workers = next(line for line in train_help.splitlines() if "--workers" in line)
    assert "0 (the default): all cores" in workers and "[default: 0]" not in workers
    assert "<path>" in train_help  # options that take a value still show its type


def test_serve_on_a_port_in_use_fails_at_once_before_loading_the_model(tmp_path):
    import socket
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        start = time.monotonic()
        # a model folder that does not exist: had the model been loaded first, the exit code would be 2
        proc = _thresher("serve", "--host", "127.0.0.1", "--port", str(port), "--model", str(tmp_path / "no-model"),
                         cwd=tmp_path, timeout=120)
        elapsed = time.monotonic() - start
    assert proc.returncode == 3, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr
    assert "manifest" not in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 60


def test_train_with_a_reused_line_model_says_its_score_is_in_sample(tmp_path, tiny_model_dir):
    fixtures = REPO / "training" / "fixtures"
    rel = [json.loads(x) for f in sorted(fixtures.glob("reliable_*.jsonl")) for x in f.read_text().splitlines() if x]
    unrel = [json.loads(x) for x in (fixtures / "unreliable_written.jsonl").read_text().splitlines() if x]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "label": r["label"]}) + "\n"
                              for r in rel[-8:] + unrel[-8:]), encoding="utf-8")
    out = tmp_path / "m"
    proc = _thresher("train", "--no-builtin", "--fixtures", str(labels), "--cv", "2", "--line-model-from",
                     str(tiny_model_dir), "--out", str(out), "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line_model = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["line_model"]
    assert line_model["fitted"] is False and line_model["lines"] > 0
    # The user's documents carry no line labels: every line of a reliable one counts as content, one class,
    # so a macro F1 (always 1.0 over that class) is not reported.
    assert line_model["macro_f1"] is None and line_model["classes"] == ["content"]
    assert f"line model reused from {tiny_model_dir}, not fitted here: macro F1 not measured" in proc.stdout
    assert "in-sample" in proc.stdout and "(cross-validated)" not in proc.stdout


def test_line_model_summary_says_how_it_was_measured():
    from service.cli import _line_model_summary

    multi = {"fitted": False, "lines": 50, "accuracy": 0.9, "macro_f1": 0.8, "content_f1": 0.95}
    assert _line_model_summary(multi, Path("models/default")) == (
        "line model reused from models/default (not fitted here): macro F1 0.8 in-sample, not cross-validated "
        "(it may have been fitted on these documents)")
    assert _line_model_summary({**multi, "fitted": True}, None) == "line model macro F1 0.8 (cross-validated)"
    one = {"fitted": True, "lines": 40, "accuracy": 0.975, "macro_f1": None, "content_f1": 0.99, "classes": ["content"]}
    assert _line_model_summary(one, None) == (
        "line model fitted here: macro F1 not measured (the only labeled lines are those of reliable documents, all "
        "counted as content: one class); 97.5% of those 40 lines were labeled content")
    assert "no labeled lines" in _line_model_summary({"fitted": True, "lines": 0, "macro_f1": None}, None)


def test_train_checks_the_users_texts_against_the_builtin_fixtures(runner, tmp_path):
    """A built-in text relabeled in the user's file is a conflict, listed with the built-in copy's id, and an
    exact copy a duplicate: the labeled data's summary says so before anything is trained (here nothing is:
    the --base folder is missing)."""
    fixtures = REPO / "training" / "fixtures"
    unrel = json.loads((fixtures / "unreliable_written.jsonl").read_text(encoding="utf-8").splitlines()[0])
    rel = json.loads((fixtures / "reliable_b.jsonl").read_text(encoding="utf-8").splitlines()[0])
    labels = tmp_path / "mine.jsonl"
    labels.write_text(json.dumps({"id": "mine-1", "text": unrel["text"], "label": "reliable"}) + "\n"
                      + json.dumps({"id": "mine-2", "text": rel["text"], "label": "reliable"}) + "\n",
                      encoding="utf-8")
    res = runner.invoke(app, ["train", "--fixtures", str(labels), "--out", str(tmp_path / "m"),
                              "--base", str(tmp_path / "no-base")])
    assert res.exit_code == 2
    assert f"builtin:{unrel['id']} (unreliable), mine-1 (reliable)" in res.stderr
    assert f"kept builtin:{rel['id']} (reliable), dropped mine-2" in res.stderr
    assert "mine.jsonl: read 2, used 0, skipped 0, duplicates 1, conflicts 1" in res.stderr


def test_eval_lists_a_row_with_an_unpaired_surrogate_instead_of_crashing(tmp_path, tiny_model_dir):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": "clean", "text": CLEAN, "label": "reliable"}) + "\n"
                      + json.dumps({"id": "spun\udc80", "text": SPUN, "label": "unreliable"}) + "\n"
                      + '{"id": "bad", "text": "a\\ud800b and more words", "label": "reliable"}\n', encoding="utf-8")
    proc = _thresher("eval", "--fixtures", str(labels), "--model", str(tiny_model_dir), "--out", str(tmp_path / "ev"),
                     "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "skipped 1: not_utf8 1" in proc.stderr
    assert f"{labels}:3: 'text' holds an unpaired surrogate" in proc.stderr
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["documents"] == 2


def test_train_with_fewer_documents_of_a_label_than_folds_is_a_usage_error(tmp_path):
    fixtures = REPO / "training" / "fixtures"
    rel = [json.loads(x) for x in (fixtures / "reliable_b.jsonl").read_text(encoding="utf-8").splitlines() if x][:9]
    unrel = json.loads((fixtures / "unreliable_written.jsonl").read_text(encoding="utf-8").splitlines()[0])
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "label": r["label"]}) + "\n"
                              for r in [*rel, unrel]), encoding="utf-8")
    proc = _thresher("train", "--no-builtin", "--fixtures", str(labels), "--out", str(tmp_path / "m"), "--workers",
                     "1", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert ("error: each label needs at least 5 documents for --cv 5-fold cross-validation: unreliable has 1"
            in proc.stderr)
    assert "Warning" not in proc.stderr and "two classes" not in proc.stderr and "featurised" not in proc.stderr
    assert not (tmp_path / "m").exists()


def test_train_out_a_file_is_a_usage_error_before_training(runner, inputs):
    res = runner.invoke(app, ["train", "--out", str(inputs["good"])])
    assert res.exit_code == 2
    assert "is a file; give a folder path" in res.stderr


def test_score_an_html_page_scores_its_main_text_as_scan_does(runner, tmp_path, tiny_model_dir):
    paras = "".join(f"<p>{p}</p>" for p in CLEAN.split("\n") if p.strip())
    nav = "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(12))
    page = (f"<html><head><title>Flood barrier opens | Coast Times</title></head><body><nav><ul>{nav}</ul></nav>"
            f"<article>{paras}</article><footer>Copyright 2025 Coast Times. All rights reserved.</footer></body></html>")
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    (tmp_path / "page.txt").write_text(page, encoding="utf-8")  # the same bytes, read as text
    (tmp_path / "blank.htm").write_text("<html><body><script>var x = 1;</script></body></html>", encoding="utf-8")
    res = runner.invoke(app, ["score", str(tmp_path / "page.html"), str(tmp_path / "page.txt"),
                              str(tmp_path / "blank.htm"), "--model", str(tiny_model_dir)])
    html_rec, txt_rec, blank = _records(res.stdout)
    assert html_rec["html"]["main_text_chars"] < html_rec["html"]["page_text_chars"]
    assert "<p>" not in html_rec["cleaned_text"] and "Section 3" not in html_rec["cleaned_text"]
    assert "html" not in txt_rec and txt_rec["score"] < html_rec["score"]  # markup read as text is no article
    assert blank["error"]["code"] == "empty" and "HTML" in blank["error"]["message"]
    assert res.exit_code == 1


LATIN_ARTICLE = (
    "Le conseil municipal a approuvé mardi la rénovation du marché couvert, fermé depuis l'été dernier.\n"
    "« Les travaux dureront dix-huit mois », a précisé l'adjointe chargée de l'urbanisme, Hélène Dubois.\n"
    "Les commerçants, déplacés place de l'Église, espèrent rouvrir avant les fêtes de fin d'année.\n"
)


def _text_shown(rec: dict) -> str:
    """A record's cleaned text and the text of every line its evidence quotes."""
    every = rec["reasons"] + rec["explanation"]["no_effect"]
    quoted = [str(e["text"]) for x in every for e in x.get("evidence", []) if isinstance(e, dict) and "text" in e]
    return "\n".join([rec["cleaned_text"], *quoted])


def test_score_decodes_other_encodings_as_scan_does(runner, tmp_path, tiny_model_dir):
    from service.scan.sources import decode_text

    cp1252 = tmp_path / "cp1252.txt"
    cp1252.write_bytes((LATIN_ARTICLE + "Coût total : 4,2 millions d’euros – financés par la région.\n").encode("cp1252"))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(LATIN_ARTICLE.encode("latin-1"))
    utf8 = tmp_path / "utf8.txt"
    utf8.write_text(LATIN_ARTICLE, encoding="utf-8")
    res = runner.invoke(app, ["score", str(cp1252), str(latin1), str(utf8), "--model", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    recs = _records(res.stdout)
    for path, rec in zip((cp1252, latin1), recs[:2], strict=True):
        assert "error" not in rec and 0.0 <= rec["score"] <= 100.0, rec
        assert rec["input"] == {"encoding": decode_text(path.read_bytes())[1]} == {"encoding": "cp1252"}
        # the decoded words, wherever the line model put their line: in the cleaned text or in evidence
        seen = _text_shown(rec)
        assert "Hélène Dubois" in seen and "Ã" not in seen
    assert "d’euros – financés" in _text_shown(recs[0])
    assert "error" not in recs[2] and "input" not in recs[2]  # UTF-8: no encoding field
    assert recs[1]["score"] == recs[2]["score"]  # the same text, however it was encoded

    stdin = runner.invoke(app, ["score", "-", "--model", str(tiny_model_dir)], input=LATIN_ARTICLE.encode("latin-1"))
    assert stdin.exit_code == 0, stdin.output
    (rec,) = _records(stdin.stdout)
    assert rec["input"] == {"encoding": "cp1252"} and rec["score"] == recs[2]["score"]


def test_score_an_html_page_in_its_declared_charset(runner, tmp_path, tiny_model_dir):
    russian = ("Правительство объявило в понедельник о новых мерах поддержки фермеров, пострадавших от засухи. "
               "Министр сельского хозяйства заявил, что выплаты начнутся в следующем месяце.")
    page = (f"<html><head><meta charset='windows-1251'><title>Новости</title></head>"
            f"<body><article><p>{russian}</p><p>{russian}</p></article></body></html>")
    (tmp_path / "page.html").write_bytes(page.encode("cp1251"))
    res = runner.invoke(app, ["score", str(tmp_path / "page.html"), "--model", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    (rec,) = _records(res.stdout)
    assert rec["input"] == {"encoding": "cp1251"} and "Министр" in rec["cleaned_text"]


def test_score_undecodable_and_binary_input_are_still_error_records(runner, tmp_path, tiny_model_dir):
    bad_bom = tmp_path / "bad-bom.txt"
    bad_bom.write_bytes(b"\xff\xfe" + b"abc")  # a UTF-16 byte-order mark before an odd number of bytes
    noise = tmp_path / "noise.txt"
    noise.write_bytes(UNDECODABLE)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary\x00payload")
    res = runner.invoke(app, ["score", str(bad_bom), str(noise), str(binary), "--model", str(tiny_model_dir)])
    assert res.exit_code == 1, res.output
    recs = _records(res.stdout)
    assert [r["error"]["code"] for r in recs] == ["not_utf8", "not_utf8", "binary"]
    assert all("score" not in r and "input" not in r and r["error"]["message"] for r in recs)
    assert "re-encode it as UTF-8" in recs[1]["error"]["message"]
    stdin = runner.invoke(app, ["score", "-", "--model", str(tiny_model_dir)], input=UNDECODABLE)
    assert stdin.exit_code == 1
    (rec,) = _records(stdin.stdout)
    assert rec["id"] == "-" and rec["error"]["code"] == "not_utf8"


def test_score_jsonl_stays_utf8_only(runner, tmp_path, tiny_model_dir):
    src = tmp_path / "in.jsonl"
    src.write_bytes(json.dumps({"id": "latin", "text": LATIN_ARTICLE}, ensure_ascii=False).encode("latin-1")
                    + b"\n" + json.dumps({"id": "ok", "text": LATIN_ARTICLE}, ensure_ascii=False).encode() + b"\n")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir)])
    assert res.exit_code == 1, res.output
    bad, good = _records(res.stdout)
    assert bad["error"]["code"] == "not_utf8" and "JSONL is JSON" in bad["error"]["message"]
    assert "error" not in good and "input" not in good


def test_train_without_out_is_a_usage_error_that_touches_nothing(runner, tmp_path, monkeypatch):
    shipped = REPO / "models" / "default"
    before = {p: p.stat().st_mtime_ns for p in shipped.iterdir()} if shipped.is_dir() else {}
    monkeypatch.chdir(tmp_path)  # the old default, models/default, was relative to the working folder
    res = runner.invoke(app, ["train"])
    assert res.exit_code == 2, res.output
    assert "--out is required" in res.stderr and "--out models/mine" in res.stderr
    assert list(tmp_path.iterdir()) == []
    assert ({p: p.stat().st_mtime_ns for p in shipped.iterdir()} if shipped.is_dir() else {}) == before


@pytest.mark.parametrize("name", ["   ", "two\nlines", "tab\tname"])
def test_train_refuses_a_blank_or_multi_line_name_before_any_work(runner, tmp_path, name):
    res = runner.invoke(app, ["train", "--out", str(tmp_path / "m"), "--name", name])
    assert res.exit_code == 2, res.output
    assert "--name" in res.stderr and "one line of visible text" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_one_training_at_a_time_per_out_and_no_lock_file_left_behind(tmp_path):
    """While one training holds OUT, another `thresher train --out OUT` stops at once (exit 2) and touches
    nothing; once the first is done, no lock file stays beside OUT and the next training may take it."""
    import typer

    from service.cli import _model_folder_lock

    out = tmp_path / "models" / "mine"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with _model_folder_lock(out):
        second = subprocess.run([sys.executable, "-m", "service.cli", "train", "--out", str(out)], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 2, second.stderr
        assert "another thresher train is writing" in second.stderr
        with pytest.raises(typer.Exit), _model_folder_lock(out):
            pass
    assert list((tmp_path / "models").iterdir()) == []
    with _model_folder_lock(out):
        pass
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_stops_cleanly_on_sigterm(tmp_path, tiny_model_dir, workers):
    import os
    import signal
    import time

    from liveserver import start_server, stop_server

    temp = tmp_path / "tmp"  # where the server makes its folders (the metrics, the model's copies)
    temp.mkdir()
    server = start_server(tmp_path, env={"THRESHER_MODEL_DIR": str(tiny_model_dir), "TMPDIR": str(temp)},
                          workers=workers)
    try:
        os.kill(server.proc.pid, signal.SIGTERM)  # to the command only, as docker stop and systemd send it
        start = time.monotonic()
        code = server.proc.wait(timeout=20)
        elapsed = time.monotonic() - start
    finally:
        stop_server(server)
    assert code == 0, server.log_text()[-3000:]
    assert elapsed < 10, elapsed
    assert "Traceback" not in server.log_text()
    assert sorted(p.name for p in temp.iterdir()) == []  # with --workers 2 a thresher-metrics-* folder stayed


def test_score_jsonl_reads_title_url_and_lang_as_the_api_does(runner, tmp_path, tiny_model):
    """The same record through thresher score --jsonl and POST /v1/score: the same score, reasons and lines."""
    from service.api import _article, _score

    body = CLEAN.split("\n", 2)[2].strip()  # the article without its headline: the title is read as line 0
    record = {"id": "t", "text": body, "title": CLEAN_TITLE, "url": "https://coast.example.com/a", "lang": "en"}
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(record) + "\n" + json.dumps({"id": "plain", "text": body}) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model.path)])
    assert res.exit_code == 0, res.output
    titled, plain = _records(res.stdout)
    api = _score(_article(record), tiny_model, True)
    api.pop("elapsed_ms")
    assert titled.pop("url") == record["url"]  # the record's own url, which the API does not echo
    assert titled == json.loads(json.dumps(api))
    assert titled["stats"]["lines"] == plain["stats"]["lines"] + 1 and titled["score"] != plain["score"]
    assert titled["lines"][0]["line"] == 0  # the title, numbered as the API numbers it
    assert titled["language"]["declared"] == "en" and titled["language"]["matches_declared"] is True


def test_score_jsonl_refuses_a_bad_title_or_lang_as_a_record_error(runner, tmp_path, tiny_model_dir):
    rows = [{"id": "n", "text": CLEAN, "title": 5}, {"id": "l", "text": CLEAN, "lang": "English"},
            {"id": "ok", "text": CLEAN, "title": None, "url": None, "lang": "pt-BR"}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 1, res.output
    bad_title, bad_lang, ok = _records(res.stdout)
    assert bad_title["error"] == {"code": "bad_record", "message": "'title' must be a string or null, not a JSON number"}
    assert bad_lang["error"]["code"] == "bad_record" and "'lang'" in bad_lang["error"]["message"]
    assert "error" not in ok and ok["language"]["declared"] == "pt-BR"


def test_scan_reads_a_records_title_url_lang_and_id_as_score_jsonl_does(runner, tmp_path, tiny_model, tiny_model_dir):
    """The scan ignored a record's lang (score --jsonl echoes it as language.declared) and scored a record whose
    title, url or lang was not a string, or whose lang was no code, which score --jsonl refuses as bad_record;
    an id of 1e400 was "Infinity" in both. The same file now gives the same records, one per record."""
    from service.scan.runner import score_document
    from service.scan.sources import iter_documents

    paragraphs = "".join(f"<p>{p}</p>" for p in CLEAN.split("\n\n")[1:])
    lines = [json.dumps(r) for r in (
        {"id": "en", "text": CLEAN, "lang": "en"},
        {"id": "page", "html": f"<html><body><article>{paragraphs}</article></body></html>", "lang": "de"},
        {"id": "t", "text": CLEAN, "title": 5},
        {"id": "u", "text": CLEAN, "url": {"href": "https://coast.example.com/a"}},
        {"id": "l", "text": CLEAN, "lang": 3},
        {"id": "c", "text": CLEAN, "lang": "English", "url": "https://coast.example.com/c"},
        {"id": "s", "text": CLEAN, "lang": "en\ud800"},
    )] + ['{"id": 1e400, "text": ' + json.dumps(CLEAN) + "}", '{"id": [1, -1e999], "text": ' + json.dumps(CLEAN) + "}"]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
    assert res.exit_code == 1, res.output
    got = _records(res.stdout)
    scanned = [score_document(d, tiny_model, explain=False) for d in iter_documents([src])]
    assert len(got) == len(scanned) == len(lines)
    codes = [(r["id"], (r.get("error") or {}).get("code")) for r in got]
    assert codes == [("en", None), ("page", None), ("t", "bad_record"), ("u", "bad_record"), ("l", "bad_record"),
                     ("c", "bad_record"), ("s", "not_utf8"), (f"{src}:8", "bad_record"), (f"{src}:9", "bad_record")]
    assert [(r["id"], (r.get("error") or {}).get("code")) for r in scanned] == codes
    for n, (mine, theirs) in enumerate(zip(got, scanned, strict=True), start=1):
        if "error" in mine:  # the same sentence; the scan's says which line
            assert theirs["error"]["message"] == f"line {n}: {mine['error']['message']}"
            assert theirs.get("url") == mine.get("url")
        else:
            assert theirs["score"] == mine["score"] and theirs["language"] == mine["language"]
    assert got[0]["language"]["declared"] == "en" and got[0]["language"]["matches_declared"] is True
    assert got[1]["language"]["declared"] == "de" and got[1]["language"]["matches_declared"] is False  # a page too
    assert got[2]["error"]["message"] == "'title' must be a string or null, not a JSON number"
    assert got[5]["url"] == "https://coast.example.com/c"
    assert "1e400" in got[7]["error"]["message"] and "Infinity" not in res.stdout


def test_eval_on_one_class_says_so_and_tells_where_it_wrote(runner, tmp_path, tiny_model, monkeypatch):
    labels = tmp_path / "only-reliable.jsonl"
    labels.write_text("".join(json.dumps({"id": f"r{i}", "text": t, "label": "reliable"}) + "\n"
                              for i, t in enumerate((CLEAN, SPUN))), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    res = runner.invoke(app, ["eval", "--fixtures", str(labels), "--model", str(tiny_model.path), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "ROC AUC n/a (one class), PR AUC n/a (one class)" in res.stdout and "None" not in res.stdout
    folder = Path(f"eval-{tiny_model.name}-{tiny_model.version}")
    assert sorted(p.name for p in (work / folder).iterdir()) == ["metrics.json", "report.html"]
    assert f"wrote {folder / 'report.html'} and {folder / 'metrics.json'} (no --out: a folder in the current " \
           f"folder, {work})" in res.stdout
    out = tmp_path / "ev"
    res = runner.invoke(app, ["eval", "--fixtures", str(labels), "--model", str(tiny_model.path), "--workers", "1",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"wrote {out / 'report.html'} and {out / 'metrics.json'}\n" in res.stdout
    help_text = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"}).stdout
    assert "eval-NAME-VERSION in the current folder" in " ".join(help_text.split())


@pytest.mark.parametrize(("name", "told"), [
    ("feed.jsonl", "give it as --jsonl"),
    ("feed.ndjson.gz", "give it as --jsonl"),
    ("records.json", "scan it with thresher scan"),
    ("shard.parquet", "scan it with thresher scan"),
    ("crawl.warc.gz", "scan it with thresher scan"),
])
def test_score_refuses_a_file_of_many_documents_before_the_model_loads(runner, tmp_path, name, told):
    """A JSONL file given as FILE was scored as one text (its JSON syntax and all), and a gzip or Parquet one was
    a 'binary' error record: neither says that --jsonl or thresher scan reads it."""
    path = tmp_path / name
    path.write_text(json.dumps({"id": "a", "text": CLEAN}) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["score", str(path), "--model", str(tmp_path / "no-model")])
    assert res.exit_code == 2, res.output
    assert f"{path}: a " in res.output and told in res.output and "manifest" not in res.output


def test_eval_without_out_writes_a_new_folder_each_time(runner, tmp_path, tiny_model, monkeypatch):
    """The default folder is a new one: a second evaluation of the same model (on other labels) replaced the
    first's report and metrics in eval-NAME-VERSION."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    for path, texts in ((first, (CLEAN, SPUN)), (second, (CLEAN, SCRAPED))):
        path.write_text("".join(json.dumps({"id": f"r{i}", "text": t, "label": "reliable"}) + "\n"
                                for i, t in enumerate(texts)), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    name = f"eval-{tiny_model.name}-{tiny_model.version}"
    written = []
    for labels in (first, second):
        res = runner.invoke(app, ["eval", "--fixtures", str(labels), "--model", str(tiny_model.path), "--workers", "1"])
        assert res.exit_code == 0, res.output
        written.append(json.loads((tmp_path / name / "metrics.json").read_text(encoding="utf-8")))
    assert written[0] == written[1], "the first evaluation's metrics were replaced"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("eval-")) == [name, f"{name}-2"]
    assert f"wrote {name}-2/report.html and {name}-2/metrics.json" in res.stdout
    assert json.loads((tmp_path / f"{name}-2" / "metrics.json").read_text(encoding="utf-8")) != written[0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_jsonl_saved_as_utf16_or_utf32_is_read_as_the_scan_reads_it(runner, tmp_path, tiny_model_dir, encoding):
    """PowerShell saves text as UTF-16 with a byte-order mark; without one, its NUL bytes tell it."""
    rows = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\r\n" for i, t in (("a", CLEAN), ("b", SPUN)))
    plain, wide = tmp_path / "plain.jsonl", tmp_path / "wide.jsonl"
    plain.write_text(rows, encoding="utf-8", newline="")
    wide.write_bytes(rows.encode(encoding))
    got = {}
    for src in (plain, wide):
        res = runner.invoke(app, ["score", "--jsonl", str(src), "--model", str(tiny_model_dir), "--no-explain"])
        assert res.exit_code == 0, res.output
        got[src] = [(r["id"], r["score"]) for r in _records(res.stdout)]
    assert got[wide] == got[plain] and [i for i, _ in got[wide]] == ["a", "b"]


def _quick_labels(tmp_path: Path) -> Path:
    fixtures = REPO / "training" / "fixtures"
    rel = [json.loads(x) for x in (fixtures / "reliable_a.jsonl").read_text(encoding="utf-8").splitlines() if x][-6:]
    unrel = [json.loads(x) for x in (fixtures / "unreliable_written.jsonl").read_text(encoding="utf-8").splitlines()
             if x][-6:]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"id": r["id"], "text": r["text"] + "\n\nReviewed.", "label": r["label"]})
                              + "\n" for r in rel + unrel), encoding="utf-8")
    return labels


def test_a_trained_model_folder_is_readable_as_the_umask_allows_not_private(tmp_path, shipped_model_dir):
    """The model folder was made by mkdtemp and kept its mode 0700: a model trained by one user could not be
    loaded by another (the service's account), though every file in it was 0644."""
    labels = _quick_labels(tmp_path)
    out = tmp_path / "models" / "mine"
    for _ in range(2):  # a new folder, then one replacing a model already there
        proc = _thresher("train", "--no-builtin", "--fixtures", str(labels), "--cv", "2", "--line-model-from",
                         str(shipped_model_dir), "--names-from", str(shipped_model_dir), "--out", str(out),
                         "--workers", "1", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        umask = os.umask(0)
        os.umask(umask)
        mode = out.stat().st_mode & 0o777
        assert mode == 0o777 & ~umask == (tmp_path / "models").stat().st_mode & 0o777, oct(mode)


def test_eval_without_out_writes_in_the_current_folder_whatever_the_models_name(tmp_path, shipped_model_dir):
    """The default folder eval-NAME-VERSION took the model's name as a path: a model named "team/v2" or
    "x/../../elsewhere" (any string given to --name, or in a model received from someone else) had the
    evaluation written in a nested folder or outside the current folder."""
    labels = _quick_labels(tmp_path)
    model = tmp_path / "models" / "m"
    work = tmp_path / "work" / "here"
    work.mkdir(parents=True)
    for name in ("team/v2", "x/../../../elsewhere"):  # (train refuses a name with a control character)
        proc = _thresher("train", "--no-builtin", "--fixtures", str(labels), "--cv", "2", "--line-model-from",
                         str(shipped_model_dir), "--names-from", str(shipped_model_dir), "--name", name, "--out",
                         str(model), "--workers", "1", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        version = json.loads((model / "manifest.json").read_text(encoding="utf-8"))["version"]
        proc = _thresher("eval", "--fixtures", str(labels), "--model", str(model), "--workers", "1", cwd=work)
        assert proc.returncode == 0, proc.stderr[-3000:]
        folder = "eval-" + name.replace("/", "_").replace("\t", "_") + f"-{version}"
        assert sorted(p.name for p in (work / folder).iterdir()) == ["metrics.json", "report.html"]
        assert f"wrote {folder}/report.html and {folder}/metrics.json" in proc.stdout
    assert len(list(work.iterdir())) == 2  # one folder per evaluation, each in the current folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl", "models", "work"]


@pytest.mark.parametrize(("name", "expected"), [
    ("eval-m-1", "eval-m-1"),
    ("eval-team/v2-1", "eval-team_v2-1"),
    ("eval-x/../../y-1", "eval-x_.._.._y-1"),
    ("eval-a\\b-1", "eval-a_b-1"),
    ("eval-tab\there-1", "eval-tab_here-1"),
    ("eval-line\nbreak-1", "eval-line_break-1"),
    ("eval-cr\rlf-1", "eval-cr_lf-1"),
    ("eval-nul\x00-1", "eval-nul_-1"),
    ("eval-esc\x1b[31m-1", "eval-esc_[31m-1"),  # a terminal escape: the printed path would recolour the screen
    ("eval-del\x7f-1", "eval-del_-1"),
    ("eval-c1\x85\x9b-1", "eval-c1__-1"),  # C1 controls: NEL and CSI
    ("eval-bidi\u202eevil-1", "eval-bidi_evil-1"),  # an invisible format character that reorders the name
    ("eval-nl\u2028ls-1", "eval-nl_ls-1"),
    ("eval-café-ümlaut-日本-1", "eval-café-ümlaut-日本-1"),  # printable letters stay
    ("eval-a b-1", "eval-a b-1"),
])
def test_the_eval_folder_name_has_no_separator_or_control_character(name, expected):
    """The default eval folder is named from the model's name, any string (train refuses a control character in
    --name, a model received from elsewhere may have one): a separator or a character that is not printable
    becomes _, so the name is one file name that a terminal shows as it is."""
    assert _file_name(name) == expected
    assert all(ch.isprintable() and ch not in "/\\" for ch in _file_name(name))


def test_eval_says_when_it_cannot_check_the_models_training_data_from_another_folder(tmp_path, shipped_model_dir):
    """The manifest keeps a labeled path as given to train ("labels.jsonl"): eval run from another folder could
    not find it and said nothing, so a model's own training documents were evaluated with no in-sample WARNING."""
    labels = _quick_labels(tmp_path)
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(labels.read_text(encoding="utf-8").splitlines(keepends=True)[::2]), encoding="utf-8")
    proc = _thresher("train", "--no-builtin", "--fixtures", "labels.jsonl", "--cv", "2", "--line-model-from",
                     str(shipped_model_dir), "--names-from", str(shipped_model_dir), "--out", "m", "--workers", "1",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    here = _thresher("eval", "--fixtures", str(subset), "--model", "m", "--out", "ev", "--workers", "1", cwd=tmp_path)
    assert here.returncode == 0 and "WARNING: 6 of the 6 documents were in" in here.stderr, here.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _thresher("eval", "--fixtures", str(subset), "--model", str(tmp_path / "m"), "--out", "ev", "--workers",
                     "1", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = f"was trained on labels.jsonl, not found from {elsewhere}"
    assert said in proc.stderr and "run eval in the folder training ran in" in proc.stderr, proc.stderr[-2000:]
    assert any(said in w for w in json.loads((elsewhere / "ev" / "metrics.json").read_text())["warnings"])
    assert "not found from" not in here.stderr
    # a training file changed since, not given here: which documents it held at training is not known either
    labels.write_text(labels.read_text(encoding="utf-8").splitlines(keepends=True)[0], encoding="utf-8")
    proc = _thresher("eval", "--fixtures", str(subset), "--model", "m", "--out", "ev", "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "was trained on an earlier version of labels.jsonl: whether documents given here were in its training " \
           "data cannot be checked" in proc.stderr, proc.stderr[-2000:]


def test_out_in_a_folder_a_labeled_folder_links_to_is_refused_before_training(tmp_path, shipped_model_dir):
    """--out inside a labeled folder is refused, but one in a folder reached through a symbolic link in it was
    not: the model's report.html was then read by the next training as a labeled reliable document."""
    fixtures = REPO / "training" / "fixtures"
    rel = [json.loads(x) for x in (fixtures / "reliable_b.jsonl").read_text(encoding="utf-8").splitlines() if x][:3]
    unrel = [json.loads(x) for x in (fixtures / "unreliable_written.jsonl").read_text(encoding="utf-8").splitlines()
             if x][:3]
    labeled = tmp_path / "labeled"
    for r in rel + unrel:
        (labeled / r["label"]).mkdir(parents=True, exist_ok=True)
        (labeled / r["label"] / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    models = tmp_path / "models"
    models.mkdir()
    (labeled / "reliable" / "archive").symlink_to(models, target_is_directory=True)
    quick = ["--no-builtin", "--line-model-from", str(shipped_model_dir), "--names-from", str(shipped_model_dir),
             "--cv", "2", "--workers", "1"]
    proc = _thresher("train", "--fixtures", str(labeled), *quick, "--out", str(models / "mine"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert f"--out {models / 'mine'} is inside {models}, a folder read as labeled data" in proc.stderr
    assert "featurised" not in proc.stderr and not (models / "mine").exists()
    proc = _thresher("eval", "--fixtures", str(labeled), "--model", str(shipped_model_dir), "--out",
                     str(models / "ev"), "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 2 and "a folder read as labeled data" in proc.stderr, proc.stderr[-3000:]
    assert not (models / "ev").exists()
    proc = _thresher("train", "--fixtures", str(labeled), *quick, "--out", str(tmp_path / "elsewhere"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_eval_on_labels_that_are_all_unusable_says_so_not_that_scoring_failed(tmp_path, shipped_model_dir):
    """Every row skipped (a bad weight, an unknown label): eval said "no example could be scored", as if the
    model had failed on documents, though none was given to it."""
    labels = tmp_path / "labels.csv"
    labels.write_text("text,label,weight\nThe council met on Tuesday.,reliable,heavy\nBuy now!,spam,1\n",
                      encoding="utf-8")
    proc = _thresher("eval", "--fixtures", str(labels), "--model", str(shipped_model_dir), "--out",
                     str(tmp_path / "ev"), "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "skipped 2: bad_label 1, bad_weight 1" in proc.stderr
    assert ("error: no usable labeled document to evaluate on: every row or file was skipped, duplicated or "
            "labeled both ways (listed above)") in proc.stderr
    assert "could be scored" not in proc.stderr and not (tmp_path / "ev").exists()
