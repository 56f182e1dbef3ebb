"""training.labels: labeled data from JSONL, CSV, folders and relabeled scan output, read from real files."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from training.dataset import FIXTURES_DIR, FixtureError, fixture_hash, read_jsonl
from training.labels import LabeledSet, read_labeled, text_key


def _fixture_rows(name: str) -> list[dict]:
    return [
        json.loads(x) for x in (FIXTURES_DIR / name).read_text(encoding="utf-8").splitlines() if x.strip()
    ]


RELIABLE = _fixture_rows("reliable_a.jsonl")
UNRELIABLE = _fixture_rows("unreliable_written.jsonl")
R1, R2, R3, R4 = (r["text"] for r in RELIABLE[:4])
U1, U2, U3 = (r["text"] for r in UNRELIABLE[:3])

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Council approves the Harbor Road budget</title></head>
<body><nav><a href="/">Home</a> | <a href="/news">News</a></nav><article><h1>Council approves the
Harbor Road budget</h1>
<p>The city council voted seven to two on Tuesday to approve a revised budget for the Harbor Road
reconstruction, ending a dispute that had delayed the project since the spring.</p>
<p>The new plan trims the cost of the drainage works by moving part of the pipe replacement to next year,
according to figures presented by the public works department during the evening session.</p>
<p>Residents who spoke at the meeting said they welcomed the decision but asked the council to publish a
timetable for the lane closures before construction begins in the autumn.</p>
</article><footer>Copyright 2024 Example Gazette</footer></body></html>
"""


def _jsonl(path: Path, rows: list, *, raw_lines: tuple[str, ...] = ()) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join([*lines, *raw_lines]) + "\n", encoding="utf-8")
    return path


def _csv(
    path: Path, header: list[str], rows: list[list[str]], *, delimiter: str = ",", bom: bool = False
) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def _by_id(ls: LabeledSet) -> dict:
    return {ex.id: ex for ex in ls.examples}


def _skips(ls: LabeledSet) -> dict[str, tuple[str, str]]:
    """where → (code, reason)"""
    return {s["where"]: (s["code"], s["reason"]) for s in ls.skipped}


def _dump(ls: LabeledSet) -> list[tuple]:
    return [(e.id, e.text, e.label, e.tags, e.origin, e.source_id, e.weight, e.extra) for e in ls.examples]


# ------------------------------------------------------------------------------------------------ JSONL


def test_jsonl_rows_with_every_optional_field(tmp_path):
    f = _jsonl(
        tmp_path / "mine.jsonl",
        [
            {"id": "a", "text": R1, "label": "reliable", "tags": ["politics", "dateline"], "weight": 2.5},
            {"text": U1, "label": " Unreliable ", "tags": "scraped, spam;teaser"},
            {"id": 7, "text": R2, "label": "RELIABLE", "weight": "3", "origin": "written"},
        ],
    )
    ls = read_labeled([f])
    assert [e.id for e in ls.examples] == ["a", "mine.jsonl:2", "7"]
    a, b, c = ls.examples
    assert (a.text, a.label, a.tags, a.weight, a.origin, a.source_id) == (
        R1,
        "reliable",
        ["politics", "dateline"],
        2.5,
        "mine.jsonl",
        "a",
    )
    assert (b.label, b.tags, b.weight) == ("unreliable", ["scraped", "spam", "teaser"], 1.0)
    assert (c.label, c.weight, c.origin) == ("reliable", 3.0, "written")
    assert a.extra["where"] == f"{f}:1" and a.extra["text_from"] == "text"
    assert ls.skipped == [] and ls.duplicates == [] and ls.conflicts == []
    assert ls.counts[str(f)] == {
        "read": 3,
        "used": 3,
        "skipped": 0,
        "duplicates": 0,
        "conflicts": 0,
        "from_path": 0,
        "cleaned_text": 0,
    }
    assert ls.sources == {str(f): fixture_hash([f])}


def test_the_projects_fixtures_read_as_read_jsonl_reads_them():
    files = [FIXTURES_DIR / "reliable_a.jsonl", FIXTURES_DIR / "unreliable_written.jsonl"]
    ls = read_labeled(files)
    old = [ex for f in files for ex in read_jsonl(f)]
    assert [(e.id, e.text, e.label, e.tags, e.origin, e.weight) for e in ls.examples] == [
        (e.id, e.text, e.label, e.tags, e.origin, e.weight) for e in old
    ]
    assert ls.sources == {str(f): fixture_hash([f]) for f in files}


def test_gzipped_jsonl_and_a_truncated_archive_keeps_the_rows_before_the_damage(tmp_path):
    rows = [{"id": f"r{i}", "text": r["text"], "label": "reliable"} for i, r in enumerate(RELIABLE)]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(gzip.compress(data))
    ls = read_labeled([good])
    assert [e.id for e in ls.examples] == [r["id"] for r in rows] and ls.skipped == []

    bad = tmp_path / "bad.jsonl.gz"
    packed = gzip.compress(data)
    bad.write_bytes(packed[: len(packed) * 3 // 5])
    ls = read_labeled([bad])
    n = len(ls.examples)
    assert 1 <= n < len(rows)
    assert [e.id for e in ls.examples] == [f"r{i}" for i in range(n)]
    (skip,) = ls.skipped
    assert skip["code"] == "bad_archive" and skip["where"] == f"{bad}:{n + 1}"
    assert "the lines before it were read" in skip["reason"]


def test_unusable_rows_are_listed_with_their_reason(tmp_path):
    f = _jsonl(
        tmp_path / "rows.jsonl",
        [
            {"id": "ok", "text": R1, "label": "reliable"},
            {"id": "nolabel", "text": R2},
            {"id": "badlabel", "text": R2, "label": "trustworthy"},
            {"id": "numeric", "text": R2, "label": 1},
            {"id": "numstr", "text": R2, "label": "1"},
            {"id": "w0", "text": R2, "label": "reliable", "weight": 0},
            {"id": "wneg", "text": R2, "label": "reliable", "weight": -2},
            {"id": "wtxt", "text": R2, "label": "reliable", "weight": "heavy"},
            {"id": "wbool", "text": R2, "label": "reliable", "weight": True},
            {"id": "winf", "text": R2, "label": "reliable", "weight": "inf"},
            {"id": "empty", "text": "  \n ", "label": "reliable"},
            {"id": "notstr", "text": ["a", "b"], "label": "reliable"},
            {"id": "notext", "label": "reliable"},
            {"id": "badtags", "text": R2, "label": "reliable", "tags": {"a": 1}},
            [1, 2, 3],
        ],
        raw_lines=("{not json",),
    )
    ls = read_labeled([f])
    assert [e.id for e in ls.examples] == ["ok"]
    s = _skips(ls)
    codes = {where.rsplit(":", 1)[1]: code for where, (code, _) in s.items()}
    assert codes == {
        "2": "no_label",
        "3": "bad_label",
        "4": "bad_label",
        "5": "bad_label",
        "6": "bad_weight",
        "7": "bad_weight",
        "8": "bad_weight",
        "9": "bad_weight",
        "10": "bad_weight",
        "11": "no_text",
        "12": "bad_text",
        "13": "no_text",
        "14": "bad_tags",
        "15": "bad_record",
        "16": "bad_json",
    }
    assert "trustworthy" in s[f"{f}:3"][1]
    assert "ambiguous" in s[f"{f}:4"][1]
    assert "not valid JSON" in s[f"{f}:16"][1]
    assert ls.counts[str(f)]["read"] == 16 and ls.counts[str(f)]["skipped"] == 15
    assert all(set(x) == {"where", "code", "reason"} for x in ls.skipped)


def test_unpaired_surrogates_skip_the_row_as_not_utf8_and_an_id_keeps_them_escaped(tmp_path):
    """JSON's "\\ud800" escape gives a string that is not Unicode text: in a text it crashed the duplicate
    key (UnicodeEncodeError); such rows are skipped and listed, as thresher score --jsonl and scan do."""
    f = _jsonl(
        tmp_path / "s.jsonl",
        [],
        raw_lines=(
            '{"text": "a\\ud800b and more words", "label": "reliable"}',
            '{"id": "x\\udc80y", "text": "An id with a surrogate.", "label": "reliable", "origin": "o\\ud800"}',
            '{"text": "words", "label": "reli\\ud800able"}',
            '{"text": "words", "label": "reliable", "tags": ["ok", "b\\udfffad"]}',
            '{"text": "words", "label": "reliable", "tags": "b\\udfffad, x"}',
            '{"path": "p\\ud800.txt", "label": "reliable"}',
            '{"html": "<p>x\\ud800</p>", "label": "reliable"}',
            '{"cleaned_text": "x\\ud800", "label": "reliable"}',
            '{"label": "reliable", "error": {"code": "unreadable", "message": "m\\ud800"}}',
        ),
    )
    ls = read_labeled([f])
    assert [(e.id, e.origin, e.text) for e in ls.examples] == [("x\\udc80y", "o\\ud800", "An id with a surrogate.")]
    s = _skips(ls)
    fields = ["text", "label", "tags", "tags", "path", "html", "cleaned_text"]
    for line, name in zip((1, 3, 4, 5, 6, 7, 8), fields, strict=True):
        assert s[f"{f}:{line}"] == (
            "not_utf8", f"'{name}' holds an unpaired surrogate (\\ud800-\\udfff): not valid Unicode"
        )
    assert s[f"{f}:9"][0] == "no_text" and "m\\ud800" in s[f"{f}:9"][1]  # the message, escaped
    "\n".join(ls.summary_lines()).encode("utf-8")  # all of it can be printed


def test_a_bad_json_line_says_what_and_where_in_full(tmp_path):
    f = _jsonl(tmp_path / "j.jsonl", [{"text": R1, "label": "reliable"}],
               raw_lines=('{"text": "a\tb", "label": "reliable"}', '{"text": "x", "label": }'))
    s = _skips(read_labeled([f]))
    # json's message alone stopped at "Invalid control character at"
    assert s[f"{f}:2"] == ("bad_json", "not valid JSON: Invalid control character at (column 12)")
    assert s[f"{f}:3"] == ("bad_json", "not valid JSON: Expecting value (column 24)")


def test_a_text_with_a_nul_character_is_skipped_as_binary_as_scoring_refuses_it(tmp_path):
    """The JSON escape "\\u0000", a NUL in a CSV field or deep in a document file: scoring refuses such text
    as binary, so training on it would teach the model a text it never scores."""
    f = _jsonl(tmp_path / "n.jsonl", [{"id": "ok", "text": R1, "label": "reliable"},
                                      {"id": "nul", "text": "A line\u0000 and more words here.", "label": "reliable"}])
    long = U1 + "\n" + "Filler words for a long first row. " * 300  # the NUL is beyond the first 8 KiB
    c = _csv(tmp_path / "n.csv", ["text", "label"], [[long, "unreliable"], ["csv\x00field text", "unreliable"]])
    root = tmp_path / "folder"
    (root / "reliable").mkdir(parents=True)
    (root / "reliable" / "late.txt").write_text(R2 + " " * 9000 + "\x00tail", encoding="utf-8")
    ls = read_labeled([f, c, root])
    assert [e.id for e in ls.examples] == ["ok", "n.csv:2"]
    s = _skips(ls)
    reason = "the text contains NUL characters: it looks binary, not text (scoring refuses it too)"
    assert s[f"{f}:2"] == ("binary", reason)
    assert [v for k, v in s.items() if k.startswith(f"{c}:")] == [("binary", reason)]
    late = root / "reliable" / "late.txt"
    assert s[str(late)] == ("binary", f"{late}: {reason}")


def test_a_text_of_invisible_characters_only_is_listed_as_skipped_not_dropped_later(tmp_path):
    """A zero-width space, a soft hyphen or control characters are no text: scoring refuses them as empty.
    They were read as usable examples and then left out by training and evaluation with no word on the
    terminal ("27 used", then "documents 25")."""
    from training.document import EmptyDocumentError, parse

    invisible = ["\u200b\u200b", "\u00ad", "\u0001\u0002 \u007f", "\ufeff\n\u2060"]
    for text in invisible:
        with pytest.raises(EmptyDocumentError):
            parse(text)
    f = _jsonl(tmp_path / "i.jsonl", [{"id": "ok", "text": R1, "label": "reliable"},
                                      *({"id": f"x{n}", "text": t, "label": "unreliable"} for n, t in enumerate(invisible))])
    c = _csv(tmp_path / "i.csv", ["text", "label"], [[U1, "unreliable"], ["\u200b", "reliable"]])
    root = tmp_path / "folder"
    (root / "reliable").mkdir(parents=True)
    (root / "reliable" / "zw.txt").write_text("\u200b\u00ad\n", encoding="utf-8")
    ls = read_labeled([f, c, root])
    assert [e.id for e in ls.examples] == ["ok", "i.csv:2"]
    s = _skips(ls)
    assert [s[f"{f}:{n}"][0] for n in range(2, 6)] == ["no_text"] * 4
    assert "'text' has no visible characters" in s[f"{f}:2"][1]
    assert [v[0] for k, v in s.items() if k.startswith(f"{c}:")] == ["no_text"]
    zw = root / "reliable" / "zw.txt"
    assert s[str(zw)] == ("empty", f"{zw} has no visible text")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_jsonl_file_saved_as_utf16_or_utf32_is_read_as_the_scan_reads_it(tmp_path, encoding):
    """PowerShell saves UTF-16: `thresher score --jsonl` and the scan read such a file, but as labeled data it
    was refused whole as binary ("looks binary (NUL bytes)")."""
    rows = [{"id": "r", "text": R1, "label": "reliable"}, {"id": "u", "text": "Müller – “quoted” ✓ " + U1,
                                                           "label": "unreliable"}]
    data = ("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode(encoding)
    plain = tmp_path / f"{encoding}.jsonl"
    plain.write_bytes(data)
    packed = tmp_path / f"{encoding}.jsonl.gz"
    packed.write_bytes(gzip.compress(data))
    for f in (plain, packed):
        ls = read_labeled([f])
        assert [(e.id, e.text, e.label) for e in ls.examples] == [(r["id"], r["text"], r["label"]) for r in rows]
        assert ls.skipped == []
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"text": "a", "label": "reliable"}\n\x00\x01\x02\xff\x00\x00\x00\x07\n')
    with pytest.raises(FixtureError, match="looks binary"):
        read_labeled([binary])


def test_a_non_utf8_line_is_decoded_by_charset_detection(tmp_path):
    f = tmp_path / "latin.jsonl"
    row = {
        "id": "de",
        "text": "Müller sagte am Dienstag, die Straße werde im Frühjahr geöffnet.",
        "label": "reliable",
    }
    f.write_bytes(json.dumps(row, ensure_ascii=False).encode("cp1252") + b"\n")
    ls = read_labeled([f])
    assert ls.examples[0].text == row["text"] and ls.skipped == []


# ------------------------------------------------------------------------------------- scan output JSONL


def test_relabeled_scan_records_take_their_text_from_path_or_cleaned_text(tmp_path, monkeypatch):
    crawl = tmp_path / "crawl"
    (crawl / "news").mkdir(parents=True)
    (crawl / "a.txt").write_text(R1, encoding="utf-8")
    (crawl / "news" / "b.md").write_text(R2, encoding="utf-8")
    (crawl / "page.html").write_text(PAGE, encoding="utf-8")
    (crawl / "feed.jsonl").write_text(json.dumps({"id": "f1", "text": R3}) + "\n", encoding="utf-8")
    labeled = tmp_path / "runs" / "scan.jsonl"
    labeled.parent.mkdir()
    (tmp_path / "runs" / "beside.txt").write_text(R4, encoding="utf-8")
    base = {"source_format": "txt", "score": 12.0, "verdict": "unreliable", "reasons": []}
    _jsonl(
        labeled,
        [
            {"id": "a.txt", "path": str(crawl / "a.txt"), **base, "label": "reliable"},  # absolute path
            {"id": "news/b.md", "path": "crawl/news/b.md", **base, "label": "reliable"},  # relative to cwd
            {"id": "beside.txt", "path": "beside.txt", **base, "label": "reliable"},  # relative to the JSONL
            {"id": "page.html", "path": str(crawl / "page.html"), **base, "label": "reliable"},
            {
                "id": "gone.txt",
                "path": "crawl/gone.txt",
                **base,
                "label": "unreliable",
                "cleaned_text": "Cleaned content lines only.\nSecond content line of the gone page.",
            },
            {"id": "only-clean", **base, "label": "unreliable", "cleaned_text": U2},
            {"id": "f1", "path": str(crawl / "feed.jsonl"), **base, "label": "unreliable"},
            {"id": "lost.txt", "path": "crawl/lost.txt", **base, "label": "unreliable"},
            {"id": "unlabeled.txt", "path": str(crawl / "a.txt"), **base},
            {
                "id": "broken.txt",
                "path": "crawl/broken.txt",
                "source_format": "txt",
                "error": {"code": "binary", "message": "looks binary"},
                "label": "unreliable",
            },
        ],
    )
    monkeypatch.chdir(tmp_path)
    ls = read_labeled([labeled])
    ex = _by_id(ls)
    assert list(ex) == ["a.txt", "news/b.md", "beside.txt", "page.html", "gone.txt", "only-clean"]
    assert ex["a.txt"].text == R1 and ex["a.txt"].label == "reliable"  # the label column, not the verdict
    assert ex["news/b.md"].text == R2 and ex["beside.txt"].text == R4
    page = ex["page.html"].text
    assert page.startswith("Council approves the Harbor Road budget")
    assert "voted seven to two" in page and "Copyright" not in page and "<p>" not in page
    assert (
        ex["gone.txt"].text.startswith("Cleaned content")
        and ex["gone.txt"].extra["text_from"] == "cleaned_text"
    )
    assert ex["only-clean"].text == U2
    assert [ex[k].extra["text_from"] for k in ("a.txt", "news/b.md", "beside.txt", "page.html")] == [
        "from_path"
    ] * 4
    assert ex["a.txt"].source_id == "a.txt" and ex["a.txt"].origin == "scan.jsonl"

    s = {where.rsplit(":", 1)[1]: v for where, v in _skips(ls).items()}
    assert s["7"][0] == "no_text" and "holds many documents" in s["7"][1]
    assert s["8"][0] == "not_found" and "crawl/lost.txt not found" in s["8"][1]
    assert s["9"][0] == "no_label" and "verdict" in s["9"][1]
    assert s["10"][0] == "not_found" and "scan error record (binary" in s["10"][1]
    c = ls.counts[str(labeled)]
    assert (c["read"], c["used"], c["skipped"], c["from_path"], c["cleaned_text"]) == (10, 6, 4, 4, 2)
    assert any("cleaned_text" in w for w in ls.warnings)
    # said in words, not as the counters' keys ("4 text(s) from from_path")
    assert any(line.endswith(", 4 text(s) read from the file in 'path', 2 text(s) from 'cleaned_text'")
               for line in ls.summary_lines())


def test_a_scan_record_whose_cleaned_text_is_empty_is_skipped_saying_so(tmp_path):
    """A scan with explain on writes cleaned_text "" when every line was boilerplate: the reason said there was no
    cleaned_text and to scan with explain on, which the user had done."""
    base = {"source_format": "jsonl", "path": str(tmp_path / "feed.jsonl"), "score": 0.1, "verdict": "unreliable"}
    labeled = _jsonl(tmp_path / "scan.jsonl", [{"id": "all-boilerplate", **base, "cleaned_text": "", "label": "unreliable"},
                                               {"id": "no-explain", **base, "label": "unreliable"}])
    (tmp_path / "feed.jsonl").write_text("", encoding="utf-8")
    s = {where.rsplit(":", 1)[1]: v for where, v in _skips(read_labeled([labeled])).items()}
    assert s["1"][0] == "no_text" and "'cleaned_text' is empty (the scan found no content line" in s["1"][1]
    assert "explain" not in s["1"][1]
    assert "no 'cleaned_text' (scan with explain on" in s["2"][1]


def test_a_source_hash_covers_the_files_its_rows_point_to(tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text(R1, encoding="utf-8")
    f = _jsonl(tmp_path / "l.jsonl", [{"id": "d", "path": "doc.txt", "label": "reliable"}])
    first = read_labeled([f]).sources[str(f)]
    assert first != fixture_hash([f])
    assert read_labeled([f]).sources[str(f)] == first
    doc.write_text(R2, encoding="utf-8")
    assert read_labeled([f]).sources[str(f)] != first


def test_a_path_found_beside_the_labeled_file_and_in_the_cwd_is_warned_about(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.txt").write_text(R1, encoding="utf-8")
    (tmp_path / "x.txt").write_text(R2, encoding="utf-8")
    f = _jsonl(tmp_path / "data" / "l.jsonl", [{"id": "x", "path": "x.txt", "label": "reliable"}])
    monkeypatch.chdir(tmp_path)
    ls = read_labeled([f])
    assert ls.examples[0].text == R1  # the labeled file's folder first
    assert any("exists both" in w for w in ls.warnings)


# ----------------------------------------------------------------------------------------------- CSV


def test_csv_with_text_tags_and_weight(tmp_path):
    f = _csv(
        tmp_path / "sheet.csv",
        ["ID", "Text", "Label", "Tags", "Weight", "notes"],
        [
            ["r1", R1, "Reliable", "politics; dateline", "2", "checked by A."],
            ["u1", U1, "unreliable", "scraped,spam", "", ""],
            ["", R2, "reliable", "", "", ""],
            ["", "", "", "", "", ""],  # a blank row, as spreadsheets leave at the end
            ["bad", R3, "reliable", "", "-1", ""],
            ["extra", R3, "reliable", "", "", "", "surplus"],
        ],
        bom=True,
    )
    ls = read_labeled([f])
    ex = _by_id(ls)
    assert list(ex)[:2] == ["r1", "u1"] and len(ex) == 3
    lines = f.read_text(encoding="utf-8-sig").split("\n")
    default_id = list(ex)[2]  # no id: the file name and the line where the row starts (R1, U1 span lines)
    assert default_id.startswith("sheet.csv:") and lines[int(default_id.split(":")[1]) - 1].startswith(',"')
    assert ex[default_id].text == R2
    assert (ex["r1"].text, ex["r1"].label, ex["r1"].tags, ex["r1"].weight) == (
        R1,
        "reliable",
        ["politics", "dateline"],
        2.0,
    )
    assert ex["u1"].tags == ["scraped", "spam"] and ex["u1"].weight == 1.0
    codes = sorted(code for code, _ in _skips(ls).values())
    assert codes == ["bad_csv", "bad_weight"]
    # line numbers point at the row's first line even when quoted fields span several lines
    bad_line = int(next(w for w, (c, _) in _skips(ls).items() if c == "bad_weight").rsplit(":", 1)[1])
    assert lines[bad_line - 1].startswith("bad,")


def test_semicolon_delimited_csv(tmp_path):
    f = _csv(
        tmp_path / "excel.csv",
        ["id", "text", "label"],
        [["a", R1, "reliable"], ["b", U1, "unreliable"]],
        delimiter=";",
    )
    ls = read_labeled([f])
    assert [(e.id, e.label) for e in ls.examples] == [("a", "reliable"), ("b", "unreliable")]


def test_csv_without_a_label_or_text_column_is_refused(tmp_path):
    with pytest.raises(FixtureError, match="no 'label' column"):
        read_labeled([_csv(tmp_path / "a.csv", ["id", "text"], [["a", R1]])])
    with pytest.raises(FixtureError, match="no 'text' column"):
        read_labeled([_csv(tmp_path / "b.csv", ["id", "label"], [["a", "reliable"]])])


def test_scan_csv_output_with_a_label_column(tmp_path):
    from service.scan.runner import FLAT_COLUMNS, flat_row

    (tmp_path / "a.txt").write_text(R1, encoding="utf-8")
    recs = [
        {
            "id": "a.txt",
            "path": str(tmp_path / "a.txt"),
            "source_format": "txt",
            "score": 80.0,
            "verdict": "reliable",
            "reasons": [],
        },
        {
            "id": "gone.txt",
            "path": str(tmp_path / "gone.txt"),
            "source_format": "txt",
            "score": 9.0,
            "verdict": "unreliable",
            "reasons": [],
            "cleaned_text": U1,
        },
        {
            "id": "c.txt",
            "path": str(tmp_path / "c.txt"),
            "source_format": "txt",
            "score": 50.0,
            "verdict": "suspect",
            "reasons": [],
        },
        {
            "id": "e.txt",
            "path": str(tmp_path / "e.txt"),
            "source_format": "txt",
            "error": {"code": "not_utf8", "message": "not valid UTF-8"},
        },
    ]
    labels = ["reliable", "unreliable", "", "unreliable"]
    f = tmp_path / "scan.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*FLAT_COLUMNS, "label"])
        w.writeheader()
        for rec, lab in zip(recs, labels, strict=True):
            w.writerow({**flat_row(rec), "label": lab})
    # a row whose record column was damaged by hand
    with f.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(
            ["x.txt", str(tmp_path / "x.txt"), *[""] * (len(FLAT_COLUMNS) - 3), "{oops", "reliable"]
        )
    ls = read_labeled([f])
    ex = _by_id(ls)
    assert list(ex) == ["a.txt", "gone.txt"]
    assert ex["a.txt"].text == R1 and ex["a.txt"].extra["text_from"] == "from_path"
    assert ex["gone.txt"].text == U1 and ex["gone.txt"].extra["text_from"] == "cleaned_text"
    s = {where.rsplit(":", 1)[1]: v for where, v in _skips(ls).items()}
    assert s["4"][0] == "no_label"
    assert s["5"][0] == "not_found" and "scan error record (not_utf8" in s["5"][1]
    assert s["6"][0] == "bad_record"


def test_real_scan_output_fed_back_with_labels(tmp_path, tiny_model):
    """The feedback loop end to end: `run_scan` output, a label added to some records, read back."""
    from service.scan.runner import ScanOptions, run_scan

    crawl = tmp_path / "crawl"
    (crawl / "site").mkdir(parents=True)
    for i, t in enumerate((R1, R2, U1)):
        (crawl / "site" / f"{i}.txt").write_text(t, encoding="utf-8")
    (crawl / "page.html").write_text(PAGE, encoding="utf-8")
    for fmt, explain in (("jsonl", False), ("csv", True), ("parquet", False)):
        out = tmp_path / f"scan-{fmt}.{fmt}"
        run_scan([crawl], tiny_model, ScanOptions(out=out, fmt=fmt, workers=1, explain=explain))
        labels = {"site/0.txt": "reliable", "site/2.txt": "unreliable", "page.html": "reliable"}
        if fmt == "parquet":  # as a data engineer adds a column with pyarrow (or pandas)
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pq.read_table(out)
            paths = table.column("path").to_pylist()
            column = [labels.get(Path(p).relative_to(crawl).as_posix()) for p in paths]
            pq.write_table(table.append_column("label", pa.array(column, pa.string())), out)
        elif fmt == "jsonl":
            recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
            _jsonl(
                out,
                [{**r, "label": labels.get(Path(r["path"]).relative_to(crawl).as_posix(), "")} for r in recs],
            )
        else:
            with out.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
            _csv(
                out,
                [*rows[0], "label"],
                [[*r.values(), labels.get(Path(r["path"]).relative_to(crawl).as_posix(), "")] for r in rows],
            )
        ls = read_labeled([out])
        got = {Path(ex.extra["where"]).name: ex for ex in ls.examples}
        assert len(ls.examples) == 3, ls.summary_lines()
        texts = {Path(str(ex.id)).name: ex for ex in ls.examples}
        assert texts["0.txt"].text == R1 and texts["0.txt"].label == "reliable"
        assert texts["2.txt"].text == U1 and texts["2.txt"].label == "unreliable"
        assert "voted seven to two" in texts["page.html"].text
        assert all(ex.extra["text_from"] == "from_path" for ex in ls.examples), got
        assert [s["code"] for s in ls.skipped] == ["no_label"]


# -------------------------------------------------------------------------------------------- folders


def _labeled_folder(root: Path) -> Path:
    (root / "reliable" / "sports" / "uk").mkdir(parents=True)
    (root / "reliable" / "politics").mkdir(parents=True)
    (root / "unreliable").mkdir(parents=True)
    (root / "reliable" / "sports" / "uk" / "match.txt").write_text(R1, encoding="utf-8")
    (root / "reliable" / "politics" / "vote.md").write_text(R2, encoding="utf-8")
    (root / "reliable" / "page.html").write_text(PAGE, encoding="utf-8")
    (root / "reliable" / "latin.txt").write_bytes(
        "Müller sagte am Dienstag, die Straße werde im Frühjahr geöffnet. Die Stadt zahlt.".encode("cp1252")
    )
    (root / "unreliable" / "scrape.txt").write_text(U1, encoding="utf-8")
    (root / "unreliable" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not text")
    (root / "unreliable" / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (root / "unreliable" / "empty.txt").write_text("", encoding="utf-8")
    (root / "README.md").write_text("how we labeled these", encoding="utf-8")
    return root


@pytest.mark.parametrize("name", ["gone.txt", "gone", "gone.jpg"])
def test_a_broken_link_in_a_labeled_folder_is_listed_as_one_whatever_its_name(tmp_path, name):
    root = _labeled_folder(tmp_path / "mylabels")
    (root / "reliable" / name).symlink_to(tmp_path / "nowhere" / name)
    ls = read_labeled([root])
    (skip,) = [s for s in ls.skipped if name in s["where"]]
    assert skip["code"] == "unreadable" and "broken symbolic link" in skip["reason"], skip


def test_a_labeled_folder_with_tags_from_subfolders(tmp_path):
    root = _labeled_folder(tmp_path / "mylabels")
    ls = read_labeled([root])
    ex = _by_id(ls)
    assert list(ex) == [
        "reliable/latin.txt",
        "reliable/page.html",
        "reliable/politics/vote.md",
        "reliable/sports/uk/match.txt",
        "unreliable/scrape.txt",
    ]
    assert ex["reliable/sports/uk/match.txt"].tags == ["sports", "uk"]
    assert ex["reliable/politics/vote.md"].tags == ["politics"] and ex["reliable/page.html"].tags == []
    assert ex["reliable/sports/uk/match.txt"].text == R1 and ex["unreliable/scrape.txt"].label == "unreliable"
    assert "Straße" in ex["reliable/latin.txt"].text  # cp1252, decoded as the scan decodes it
    assert ex["reliable/page.html"].text.startswith("Council approves")
    assert {e.origin for e in ls.examples} == {"mylabels"}
    s = _skips(ls)
    assert s[str(root / "README.md")][0] == "outside_labels"
    assert s[str(root / "unreliable" / "photo.jpg")][0] == "unsupported"
    assert s[str(root / "unreliable" / "blob.txt")][0] == "binary"
    assert s[str(root / "unreliable" / "empty.txt")][0] == "empty"
    c = ls.counts[str(root)]
    assert (c["read"], c["used"], c["skipped"]) == (9, 5, 4)


def test_a_folder_hash_changes_when_a_file_moves_to_the_other_label(tmp_path):
    root = _labeled_folder(tmp_path / "l")
    before = read_labeled([root]).sources[str(root)]
    assert read_labeled([root]).sources[str(root)] == before
    (root / "unreliable" / "scrape.txt").rename(root / "reliable" / "scrape.txt")
    assert read_labeled([root]).sources[str(root)] != before


def test_a_file_name_that_is_not_utf8_is_read_and_shown_escaped(tmp_path):
    """`reliable/caf\xe9.txt` (a Latin-1 name) crashed train and eval: hashing the folder encoded the name
    as UTF-8, and the id then could not be written into the metrics."""
    import os

    root = _labeled_folder(tmp_path / "l")
    try:
        with open(os.path.join(os.fsencode(root / "reliable"), b"caf\xe9.txt"), "w", encoding="utf-8") as fh:
            fh.write(R1 + "\nThe café reopened on Monday.")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    ls = read_labeled([root])
    ex = _by_id(ls)
    assert "reliable/caf\\xe9.txt" in ex and ex["reliable/caf\\xe9.txt"].text.endswith("reopened on Monday.")
    assert ls.sources[str(root)] != read_labeled([_labeled_folder(tmp_path / "m")]).sources[str(tmp_path / "m")]
    json.dumps([e.id for e in ls.examples]).encode("utf-8")  # every id can be written out


def _symlink(link: Path, target: str) -> None:
    try:
        link.symlink_to(target, target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("no symbolic links here")


def test_a_folder_linked_under_both_labels_is_a_conflict_not_the_first_label(tmp_path):
    """reliable/site -> the crawl's site folder, unreliable/spam -> its spam subfolder: the spam pages were
    read under reliable/ (through site/) and, skipped as already read, trained as reliable. Each label now
    reads what it links to, so they are labeled both ways: dropped, listed with why, and warned about."""
    site = tmp_path / "corpus" / "site"
    (site / "spam").mkdir(parents=True)
    (site / "article.txt").write_text(R1, encoding="utf-8")
    for n, text in enumerate((U1, U2)):
        (site / "spam" / f"dump{n}.txt").write_text(text, encoding="utf-8")
    root = tmp_path / "labels"
    (root / "reliable").mkdir(parents=True)
    (root / "unreliable").mkdir()
    (root / "unreliable" / "own.txt").write_text(U3, encoding="utf-8")
    _symlink(root / "reliable" / "site", "../../corpus/site")
    _symlink(root / "unreliable" / "spam", "../../corpus/site/spam")
    ls = read_labeled([root])
    assert [(e.id, e.label) for e in ls.examples] == [
        ("reliable/site/article.txt", "reliable"),
        ("unreliable/own.txt", "unreliable"),
    ]
    why = "one file, reached under both reliable/ and unreliable/ through a symbolic link"
    assert ls.conflicts == [
        {"ids": [f"reliable/site/spam/dump{n}.txt", f"unreliable/spam/dump{n}.txt"],
         "labels": ["reliable", "unreliable"], "why": why}
        for n in (0, 1)
    ]
    assert ls.skipped == [] and ls.counts[str(root)]["conflicts"] == 4
    assert ls.warnings == [
        f"{root / 'unreliable' / 'spam'} (under unreliable/) and {root / 'reliable' / 'site' / 'spam'} (under "
        "reliable/) are the same folder, reached under both labels through a symbolic link: its texts are "
        "labeled both ways and dropped as conflicts"
    ]
    text = "\n".join(ls.summary_lines())
    assert f"reliable/site/spam/dump0.txt (reliable), unreliable/spam/dump0.txt (unreliable): {why}" in text


def _two_labels(root: Path, reliable: dict[str, str], unreliable: dict[str, str]) -> Path:
    """A labeled folder: reliable/ and unreliable/ holding the given files (name -> text)."""
    for label, files in (("reliable", reliable), ("unreliable", unreliable)):
        (root / label).mkdir(parents=True)
        for name, text in files.items():
            (root / label / name).write_text(text, encoding="utf-8")
    return root


def test_a_link_back_to_the_labeled_folder_does_not_relabel_the_other_label(tmp_path):
    """reliable/loop -> .. read the whole unreliable/ folder as reliable, and skipped it under unreliable/."""
    root = _two_labels(tmp_path / "labels", {"r.txt": R1}, {"u.txt": U1})
    _symlink(root / "reliable" / "loop", "..")
    ls = read_labeled([root])
    assert [(e.id, e.label) for e in ls.examples] == [("reliable/r.txt", "reliable")]
    assert [c["ids"] for c in ls.conflicts] == [["reliable/loop/unreliable/u.txt", "unreliable/u.txt"]]
    assert "symbolic link" in ls.conflicts[0]["why"]
    # reliable/ itself, met again through the link under the same label, is read once
    assert _skips(ls) == {
        str(root / "reliable" / "loop" / "reliable"): (
            "already_read",
            f"this folder was already read under reliable/, as {root / 'reliable'} (a symbolic link)",
        )
    }


def test_a_text_labeled_both_ways_in_two_files_has_no_symbolic_link_note(tmp_path):
    root = _two_labels(tmp_path / "labels", {"a.txt": R1}, {"b.txt": R1})
    ls = read_labeled([root])
    assert ls.examples == [] and ls.warnings == []
    assert ls.conflicts == [{"ids": ["reliable/a.txt", "unreliable/b.txt"], "labels": ["reliable", "unreliable"]}]


def test_a_folder_without_label_subfolders_is_refused(tmp_path):
    (tmp_path / "crawl").mkdir()
    (tmp_path / "crawl" / "a.txt").write_text(R1, encoding="utf-8")
    with pytest.raises(FixtureError, match="reliable/ and/or unreliable/"):
        read_labeled([tmp_path / "crawl"])


# ----------------------------------------------------------------------------------- combining sources


def test_sources_combine_with_unique_ids(tmp_path):
    one = _jsonl(
        tmp_path / "one.jsonl",
        [
            {"id": "x", "text": R1, "label": "reliable"},
            {"id": "x", "text": R2, "label": "reliable"},  # repeated id in one source
            {"id": "y", "text": U1, "label": "unreliable"},
        ],
    )
    (tmp_path / "b").mkdir()
    two = _csv(
        tmp_path / "b" / "two.csv", ["id", "text", "label"], [["x", R3, "reliable"], ["z", U2, "unreliable"]]
    )
    (tmp_path / "c").mkdir()
    three = _jsonl(
        tmp_path / "c" / "one.jsonl", [{"id": "z", "text": R4, "label": "reliable"}]
    )  # same file name
    ls = read_labeled([one, two, three])
    ids = [e.id for e in ls.examples]
    # two sources are called one.jsonl: their prefix is the path as given
    assert ids == [f"{one}:x", "x#2", "y", "two.csv:x", "two.csv:z", f"{three}:z"]
    assert len(set(ids)) == len(ids)
    assert all(e.source_id == e.id for e in ls.examples)
    assert [e.origin for e in ls.examples] == ["one.jsonl"] * 3 + ["two.csv"] * 2 + ["one.jsonl"]
    assert list(ls.sources) == [str(one), str(two), str(three)] == list(ls.counts)


def test_duplicates_keep_the_first_and_conflicts_drop_every_copy(tmp_path):
    shouty = "\n\n".join(line.upper() + "   " for line in R1.split("\n"))  # same text: case and blanks differ
    a = _jsonl(
        tmp_path / "a.jsonl",
        [
            {"id": "r1", "text": R1, "label": "reliable"},
            {"id": "u1", "text": U1, "label": "unreliable"},
            {"id": "r2", "text": R2, "label": "reliable"},
        ],
    )
    b = _jsonl(
        tmp_path / "b.jsonl",
        [
            {"id": "r1-copy", "text": shouty, "label": "reliable", "weight": 5},
            {"id": "u1-disputed", "text": U1, "label": "reliable"},
            {"id": "r2-copy", "text": R2, "label": "reliable"},
            {"id": "u1-again", "text": U1 + "\n", "label": "unreliable"},
        ],
    )
    assert text_key(shouty) == text_key(R1)
    ls = read_labeled([a, b])
    assert [e.id for e in ls.examples] == ["r1", "r2"]
    assert ls.examples[0].weight == 1.0  # the kept copy's own weight
    assert ls.duplicates == [
        {"ids": ["r1", "r1-copy"], "label": "reliable", "kept": "r1"},
        {"ids": ["r2", "r2-copy"], "label": "reliable", "kept": "r2"},
    ]
    assert ls.conflicts == [
        {"ids": ["u1", "u1-disputed", "u1-again"], "labels": ["unreliable", "reliable", "unreliable"]}
    ]
    assert ls.counts[str(a)] == {
        "read": 3,
        "used": 2,
        "skipped": 0,
        "duplicates": 0,
        "conflicts": 1,
        "from_path": 0,
        "cleaned_text": 0,
    }
    assert ls.counts[str(b)] == {
        "read": 4,
        "used": 0,
        "skipped": 0,
        "duplicates": 2,
        "conflicts": 2,
        "from_path": 0,
        "cleaned_text": 0,
    }
    text = "\n".join(ls.summary_lines())
    assert "kept r1 (reliable), dropped r1-copy" in text
    assert "labeled both ways" in text and "u1-disputed (reliable)" in text


@pytest.fixture(scope="module")
def builtin():
    from training.dataset import builtin_examples

    return builtin_examples(seed=0)


def test_user_texts_are_checked_against_the_builtin_fixtures(tmp_path, builtin):
    """The rule holds across the built-in examples and the user's: a copy of a built-in text with its label
    is a duplicate (kept once: the built-in copy, in its own group), with the other label a conflict (every
    copy dropped, the built-in ones too); the built-in examples' own copies of each other stay as they are."""
    article = next(ex for ex in builtin if ex.id == "rel-a-001")
    scraped = next(ex for ex in builtin if ex.id == "rel-a-002~scraped")
    f = _jsonl(
        tmp_path / "mine.jsonl",
        [
            {"id": "copy", "text": article.text.upper(), "label": "reliable"},
            {"id": "flipped", "text": scraped.text, "label": "reliable"},
            {"id": "new", "text": "A text of my own, which the project does not have.", "label": "unreliable"},
        ],
    )
    ls = read_labeled([f], builtin=builtin)
    assert [e.id for e in ls.examples] == ["new"]
    # rel-a-001~reformat differs from its article only in layout: the same text, kept as the project keeps it
    assert ls.duplicates == [{"ids": ["builtin:rel-a-001", "copy"], "label": "reliable", "kept": "builtin:rel-a-001"}]
    assert ls.conflicts == [{"ids": ["builtin:rel-a-002~scraped", "flipped"], "labels": ["unreliable", "reliable"]}]
    assert [e.id for e in ls.builtin] == [e.id for e in builtin if e.id != "rel-a-002~scraped"]
    assert all(a is b for a, b in zip(ls.builtin, [e for e in builtin if e is not scraped], strict=True))
    c = ls.counts[str(f)]
    assert (c["read"], c["used"], c["duplicates"], c["conflicts"]) == (3, 1, 1, 1)
    text = "\n".join(ls.summary_lines())
    assert "kept builtin:rel-a-001 (reliable), dropped copy" in text
    assert "builtin:rel-a-002~scraped (unreliable), flipped (reliable)" in text
    assert "warning: 1 built-in example(s) dropped" in text
    # without user texts in common, every built-in example is kept, and nothing is said
    plain = read_labeled([_jsonl(tmp_path / "other.jsonl", [{"text": "Mine alone.", "label": "reliable"}])],
                         builtin=builtin)
    assert plain.builtin == builtin and plain.duplicates == plain.conflicts == plain.warnings == []


def test_a_user_id_equal_to_a_builtin_one_is_numbered_apart(tmp_path, builtin):
    """Cross-validation keeps the documents of one id in one fold: a user's document that happens to be
    called "rel-a-001" must not share the built-in article's fold, nor its line in the report."""
    f = _jsonl(tmp_path / "mine.jsonl", [{"id": "rel-a-001", "text": "A text of my own, not the project's.",
                                          "label": "reliable"}])
    ls = read_labeled([f], builtin=builtin)
    (mine,) = ls.examples
    assert mine.id == mine.source_id == "rel-a-001#2"
    assert "rel-a-001" in {ex.id for ex in ls.builtin}


def test_same_inputs_same_examples_in_the_same_order(tmp_path, monkeypatch):
    root = _labeled_folder(tmp_path / "folder")
    (tmp_path / "doc.txt").write_text(R3, encoding="utf-8")
    j = _jsonl(
        tmp_path / "j.jsonl",
        [
            {"id": "reliable/politics/vote.md", "text": R4, "label": "reliable"},
            {"id": "p", "path": "doc.txt", "label": "reliable", "verdict": "suspect"},
            {"id": "q", "text": R1, "label": "reliable"},
        ],
    )
    c = _csv(tmp_path / "c.csv", ["id", "text", "label", "tags"], [["q", U3, "unreliable", "a;b"]])
    monkeypatch.chdir(tmp_path)
    first = read_labeled([root, j, c])
    second = read_labeled([root, j, c])
    assert _dump(first) == _dump(second)
    assert (first.sources, first.counts, first.skipped, first.duplicates, first.conflicts) == (
        second.sources,
        second.counts,
        second.skipped,
        second.duplicates,
        second.conflicts,
    )
    assert first.summary_lines() == second.summary_lines()
    assert [e.id for e in first.examples][:2] == ["reliable/latin.txt", "reliable/page.html"]
    assert "folder:reliable/politics/vote.md" in _by_id(first)
    assert first.duplicates == [
        {
            "ids": ["reliable/sports/uk/match.txt", "j.jsonl:q"],
            "label": "reliable",
            "kept": "reliable/sports/uk/match.txt",
        }
    ]


# ------------------------------------------------------------------------------------------ bad paths


def test_bad_paths_raise_a_fixture_error(tmp_path):
    with pytest.raises(FixtureError, match="no such file or folder"):
        read_labeled([tmp_path / "missing.jsonl"])
    (tmp_path / "data.json").write_text("[]", encoding="utf-8")
    with pytest.raises(FixtureError, match="unknown extension"):
        read_labeled([tmp_path / "data.json"])
    f = _jsonl(tmp_path / "a.jsonl", [{"text": R1, "label": "reliable"}])
    with pytest.raises(FixtureError, match="given twice"):
        read_labeled([f, tmp_path / "." / "a.jsonl"])
    (tmp_path / "bin.jsonl").write_bytes(b"\x00\x01" * 100)
    with pytest.raises(FixtureError, match="binary"):
        read_labeled([tmp_path / "bin.jsonl"])


def test_empty_inputs(tmp_path):
    assert read_labeled([]).examples == []
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    ls = read_labeled([tmp_path / "empty.jsonl"])
    assert ls.examples == [] and ls.skipped == [] and any("no labeled rows" in w for w in ls.warnings)


def test_a_row_with_html_instead_of_text_gets_the_pages_main_text(tmp_path):
    f = _jsonl(
        tmp_path / "pages.jsonl",
        [
            {"id": "p", "html": PAGE, "url": "https://example.com/harbor", "label": "reliable"},
            {"id": "blank", "html": "<html><body><script>x()</script></body></html>", "label": "reliable"},
        ],
    )
    ls = read_labeled([f])
    (ex,) = ls.examples
    assert ex.text.startswith("Council approves the Harbor Road budget") and "voted seven to two" in ex.text
    assert "<p>" not in ex.text and ex.extra["text_from"] == "html"
    assert [(s["code"], "nothing extracted from 'html'" in s["reason"]) for s in ls.skipped] == [
        ("no_text", True)
    ]


def test_the_current_folder_given_as_dot_is_named_after_itself(tmp_path, monkeypatch):
    root = _labeled_folder(tmp_path / "team-labels")
    monkeypatch.chdir(root)
    ls = read_labeled([Path(".")])
    assert {e.origin for e in ls.examples} == {"team-labels"} and len(ls.examples) == 5
    assert list(ls.sources) == ["."]


@pytest.mark.parametrize(
    ("title", "heading", "added"),
    [
        ("Harbor Road budget approved | Example Gazette", "<h1>Council approves the Harbor Road budget</h1>", False),
        ("Council approves the Harbor Road budget", "<h1>Council approves the Harbor Road budget</h1>", False),
        ("Council  approves the\u00a0Harbor Road budget", "", True),
    ],
)
def test_a_page_is_read_as_thresher_score_and_the_scan_read_it(tmp_path, title, heading, added):
    """A page's title went above its text unless the text started with the title's exact words, where the
    scan and `thresher score page.html` add it only when the text has no headline of its own: a page whose
    <title> differs from its <h1> (most do: "Headline | Site") was trained on with one more line than it is
    scored with."""
    from service.scan.sources import extract_html
    from training.document import parse

    body = "".join(f"<p>{p}</p>" for p in (
        "The city council voted seven to two on Tuesday to approve a revised budget for the Harbor Road "
        "reconstruction, ending a dispute that had delayed the project since the spring.",
        "The new plan trims the cost of the drainage works by moving part of the pipe replacement to next year, "
        "according to figures presented by the public works department during the evening session.",
        "Residents who spoke at the meeting said they welcomed the decision but asked the council to publish a "
        "timetable for the lane closures before construction begins in the autumn."))
    page = f"<html><head><title>{title}</title></head><body><article>{heading}{body}</article></body></html>"
    root = tmp_path / "pages"
    (root / "reliable").mkdir(parents=True)
    (root / "reliable" / "p.html").write_text(page, encoding="utf-8")
    f = _jsonl(tmp_path / "pages.jsonl", [{"id": "p", "html": page, "label": "reliable"}])
    main, found, _ = extract_html(page)
    scored = parse(main, title=found)  # what score_text reads for the page
    assert bool(scored.title_lines) is added
    for ex in read_labeled([root, f]).examples:
        trained = parse(ex.text)
        assert trained.text == scored.text
        assert [ln.text for ln in trained.lines] == [ln.text for ln in scored.lines]


def test_a_records_title_is_read_as_the_scan_and_score_jsonl_read_it(tmp_path):
    """A crawl record with a `title` beside its `text` (or its `html`) is scored by the scan and `thresher score
    --jsonl` with that title as its first line when the text has no headline of its own; as labeled data the
    title was ignored, so the record was trained and evaluated on another text than it is scored on."""
    from service.scan.sources import extract_html
    from training.document import parse

    body = R1.split("\n", 1)[1].strip()  # the article without its headline: the title goes above it
    page = f"<html><head><title>Page title</title></head><body><article>{PAGE.split('<article>')[1]}"
    f = _jsonl(tmp_path / "records.jsonl", [
        {"id": "t", "text": body, "title": "Council approves the Harbor Road budget", "label": "reliable"},
        {"id": "h", "html": page, "title": "Harbor budget | Gazette", "label": "reliable"},
        {"id": "plain", "text": R2, "label": "reliable"},
    ])
    main, _, _ = extract_html(page)
    expected = {"t": parse(body, title="Council approves the Harbor Road budget"),
                "h": parse(main, title="Harbor budget | Gazette"), "plain": parse(R2)}
    assert expected["t"].title_lines == 2
    for ex in read_labeled([f]).examples:
        assert parse(ex.text).text == expected[ex.id].text, ex.id


@pytest.mark.parametrize("weight", [1e300, 1e-300, "2e6", 1e-7])
def test_a_weight_too_large_or_too_small_for_the_fit_is_a_listed_bad_row(tmp_path, weight):
    """Weights of 1e300 and 1e-300 overflowed the fit, which wrote a model with ROC AUC 0.5 and no error."""
    f = _jsonl(tmp_path / "rows.jsonl", [{"id": "ok", "text": R1, "label": "reliable", "weight": 1e6},
                                         {"id": "w", "text": R2, "label": "reliable", "weight": weight}])
    ls = read_labeled([f])
    assert [e.id for e in ls.examples] == ["ok"]
    ((code, message),) = _skips(ls).values()
    assert code == "bad_weight" and "from 1e-06 to 1e+06" in message
