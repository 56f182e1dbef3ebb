"""service.scan.sources: every document and every bad thing in a crawl folder gives exactly one record."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from crawlfolder import BOILERPLATE, NAV, build_crawl, news_page
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from service.scan import RawDocument
from service.scan.sources import (
    ERROR_CODES,
    FileUnit,
    ScanStats,
    _cheap_title,
    decode_text,
    extract_html,
    iter_documents,
    iter_units,
    read_unit,
    source_format,
)

WALK_TIMEOUT = 60  # seconds; a reader that opens a FIFO blocks forever, and must fail here instead


def walk(paths: list[Path], **kwargs: Any) -> list[RawDocument]:
    """iter_documents in a thread with a deadline: a blocked read fails the test instead of hanging it."""
    result: list[RawDocument] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.extend(iter_documents(paths, **kwargs))
        except BaseException as exc:  # pragma: no cover - reported below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WALK_TIMEOUT)
    assert not thread.is_alive(), "iter_documents blocked (did it open a FIFO?)"
    if failure:
        raise failure[0]
    return result


@pytest.fixture(scope="module")
def scanned(crawl_folder: dict[str, Any]) -> tuple[list[RawDocument], ScanStats]:
    stats = ScanStats()
    return walk([crawl_folder["root"]], stats=stats), stats


def by_key(docs: list[RawDocument]) -> dict[str, RawDocument]:
    return {d.key: d for d in docs}


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------------------- the crawl folder


def test_units_read_in_any_order_give_the_same_documents(crawl_folder, scanned):
    """What a cluster does: the walk lists the files, other processes read them in any order."""
    docs, _ = scanned
    units = list(iter_units([crawl_folder["root"]]))
    files = [u for u in units if isinstance(u, FileUnit)]
    assert files and {u.fmt for u in files} >= {"txt", "html", "jsonl", "warc", "json"}
    shuffled = list(units)
    random.Random(1).shuffle(shuffled)
    got: list[RawDocument] = []
    for u in shuffled:
        got += list(read_unit(u)) if isinstance(u, FileUnit) else [u]
    assert sorted(got, key=lambda d: d.order) == docs


def test_records_out_equal_documents_in(crawl_folder, scanned):
    docs, stats = scanned
    keys = [d.key for d in docs]
    assert len(keys) == len(set(keys)), "keys must be unique"
    assert set(keys) == set(crawl_folder["documents"]) | set(crawl_folder["errors"])
    assert len(docs) == crawl_folder["records"]
    assert stats.records == len(docs)
    assert stats.documents == len(crawl_folder["documents"])
    assert stats.errors == Counter(crawl_folder["errors"].values())


def test_error_codes(crawl_folder, scanned):
    docs = by_key(scanned[0])
    got = {k: d.error[0] for k, d in docs.items() if d.error}
    assert got == crawl_folder["errors"]
    for key in crawl_folder["errors"]:
        d = docs[key]
        assert d.error is not None and d.error[0] in ERROR_CODES and d.error[1]
        assert d.text is None and d.html is None
        assert d.id and d.path


def test_documents_have_exactly_one_of_text_or_html(crawl_folder, scanned):
    docs = by_key(scanned[0])
    for key, want in crawl_folder["documents"].items():
        d = docs[key]
        assert d.error is None, (key, d.error)
        assert (d.text is None) != (d.html is None), key
        assert d.source_format == want["format"], key
        assert d.id == want["id"], key
        assert d.path == want["path"], key
        assert d.url == want["url"], key
        assert d.lang == want["lang"], key
        if want["kind"] == "text":
            assert d.text == want["text"], key
        else:
            assert d.html is not None and "<html" in d.html.lower(), key
        if "title" in want:
            assert d.title == want["title"], key
        assert d.meta.get("encoding", "utf-8") == want.get("encoding", "utf-8"), key


def test_latin1_text_is_decoded_and_its_encoding_noted(crawl_folder, scanned):
    d = by_key(scanned[0])[crawl_folder["latin1"]["key"]]
    assert d.text is not None and d.text == crawl_folder["latin1"]["text"]
    assert "é" in d.text and "ü" in d.text and "£" in d.text
    assert d.meta["encoding"] in {"cp1252", "iso8859-1", "iso8859-15"}


def test_windows_1252_page_uses_its_meta_charset(scanned):
    d = by_key(scanned[0])["news/fares.html"]
    assert d.meta == {"encoding": "cp1252"}
    assert d.html is not None and "“We held prices" in d.html and "€0.40" in d.html


def test_jsonl_ids_come_from_the_record_else_path_and_line(crawl_folder, scanned):
    docs = by_key(scanned[0])
    batch = str(crawl_folder["root"] / "feeds" / "batch.jsonl")
    assert docs["feeds/batch.jsonl#1"].id == "feed-1"
    assert docs["feeds/batch.jsonl#1"].url == "https://wire.example/1"
    assert docs["feeds/batch.jsonl#1"].title == "Wire one"
    assert docs["feeds/batch.jsonl#2"].id == f"{batch}:2"
    assert docs["feeds/batch.jsonl#7"].id == "7"  # stringified
    assert docs["feeds/batch.jsonl#4"].id == f"{batch}:4"  # a broken line: path:line
    assert docs["feeds/batch.jsonl#6"].id == "feed-6"  # no text, but the id was readable
    assert "feeds/batch.jsonl#3" not in docs  # the blank line is not a record
    assert docs["feeds/archive.jsonl.gz#2"].id == "gz-2"


def test_warc_documents_are_html_responses_keyed_by_target_uri(crawl_folder, scanned):
    docs, stats = scanned
    warc = {d.key: d for d in docs if d.key.startswith("warc/crawl.warc.gz")}
    assert set(warc) == {"warc/crawl.warc.gz#3", "warc/crawl.warc.gz#6"}
    for d in warc.values():
        assert d.id == d.url and d.id.startswith("https://gazette.example/")
        assert d.source_format == "warc" and d.html is not None and d.text is None
        assert d.meta["http_status"] == 200 and d.meta["warc_date"] == "2024-06-12T08:30:00Z"
    assert dict(stats.skipped) == crawl_folder["skipped"]
    # the second page was sent gzip-compressed and chunked: it must come out as the page
    text, _, _ = extract_html(warc["warc/crawl.warc.gz#6"].html or "", warc["warc/crawl.warc.gz#6"].url)
    want = crawl_folder["documents"]["warc/crawl.warc.gz#6"]["article"]
    assert paragraphs(want)[1] in text


def test_truncated_warc_keeps_what_was_read_and_reports_the_rest_once(scanned):
    warc = [d for d in scanned[0] if d.key.startswith("warc/truncated.warc.gz")]
    assert [d.key for d in warc] == ["warc/truncated.warc.gz#1", "warc/truncated.warc.gz#2"]
    assert warc[0].error is None and warc[0].id == "https://gazette.example/c"
    assert warc[1].error is not None and warc[1].error[0] == "bad_archive"


def test_truncated_jsonl_gz_keeps_the_lines_before_the_cut(scanned):
    cut = [d for d in scanned[0] if d.key.startswith("feeds/cut.jsonl.gz")]
    assert [(d.key, d.error[0] if d.error else None) for d in cut] == [
        ("feeds/cut.jsonl.gz#1", None),
        ("feeds/cut.jsonl.gz#2", None),
        ("feeds/cut.jsonl.gz#3", "bad_archive"),
    ]


def test_a_jsonl_file_saved_as_utf16_or_utf32_is_read_line_by_line(tmp_path):
    rows = [{"id": "a", "text": "Le conseil a voté le budget du port.\u2028Une ligne de plus."},
            {"id": "b", "text": "Zürich: the council met on Tuesday."}]
    body = "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n"  # as PowerShell writes it
    (tmp_path / "bom16.jsonl").write_bytes(body.encode("utf-16"))
    (tmp_path / "le16.jsonl").write_bytes(body.encode("utf-16-le"))
    (tmp_path / "bom32.jsonl").write_bytes(body.encode("utf-32"))
    (tmp_path / "packed.jsonl.gz").write_bytes(gzip.compress(body.encode("utf-16")))
    (tmp_path / "zzz.jsonl").write_bytes(b"\x00\x01\x02binary\x00" * 20)
    docs = walk([tmp_path])
    assert [(d.key, d.error[0] if d.error else None) for d in docs] == [
        *((f"{name}#{n}", None) for name in ("bom16.jsonl", "bom32.jsonl", "le16.jsonl", "packed.jsonl.gz")
          for n in (1, 2)),
        ("zzz.jsonl", "binary"),
    ]
    assert [(d.id, d.text) for d in docs[:2]] == [(r["id"], r["text"]) for r in rows]
    assert [d.meta.get("encoding") for d in docs[:-1]] == ["utf-16", "utf-16", "utf-32", "utf-32",
                                                           "utf-16-le", "utf-16-le", "utf-16", "utf-16"]


def test_a_small_damaged_jsonl_gz_keeps_the_lines_before_the_damage(tmp_path):
    # under 8 KB once decompressed: the damage is within the first bytes read to look for NUL bytes
    lines = [json.dumps({"id": f"n{i}", "text": f"Article {i} about the harbour budget."}) + "\n" for i in range(3)]
    packed = gzip.compress("".join(lines).encode("utf-8"))
    (tmp_path / "cut.jsonl.gz").write_bytes(packed[:-12])  # the end of the stream and its trailer are lost
    (tmp_path / "junk.jsonl.gz").write_bytes(packed + b"not gzip")  # a whole member, then garbage
    (tmp_path / "nul.jsonl.gz").write_bytes(gzip.compress(b'{"text": "a\x00b"}\n')[:-6])
    docs = walk([tmp_path])
    assert [(d.key, d.error[0] if d.error else d.id) for d in docs] == [
        ("cut.jsonl.gz#1", "n0"),
        ("cut.jsonl.gz#2", "n1"),
        ("cut.jsonl.gz#3", "bad_archive"),
        ("junk.jsonl.gz#1", "n0"),
        ("junk.jsonl.gz#2", "n1"),
        ("junk.jsonl.gz#3", "n2"),
        ("junk.jsonl.gz#4", "bad_archive"),
        ("nul.jsonl.gz", "binary"),
    ]


def test_fifo_is_reported_not_opened(crawl_folder, scanned):
    if not crawl_folder["special"]["fifo"]:
        pytest.skip("no FIFOs here")
    d = by_key(scanned[0])["broken/pipe.txt"]
    assert d.error is not None and d.error[0] == "special_file"


def test_symlink_loop_is_reported_once_and_not_followed(crawl_folder, scanned):
    if not crawl_folder["special"]["symlinks"]:
        pytest.skip("no symbolic links here")
    docs = scanned[0]
    loops = [d for d in docs if d.error and d.error[0] == "symlink_loop"]
    assert [d.key for d in loops] == ["loops/inner/back"]
    assert not any(d.key.startswith("loops/inner/back/") for d in docs)
    # the second name of a scanned folder is not scanned again; a dangling link is unreadable
    assert not any(d.key.startswith("zz-latest/") for d in docs)
    dangling = by_key(docs)["broken/dangling.txt"]
    assert dangling.error is not None and "dangling" in dangling.error[1]


def test_order_is_deterministic_and_follows_the_walk(crawl_folder, scanned):
    first = scanned[0]
    again = walk([crawl_folder["root"]])
    assert again == first
    orders = [d.order for d in first]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


def test_keys_escape_hash_signs(crawl_folder, scanned):
    d = by_key(scanned[0])["news/odd%23name.txt"]
    assert d.path == str(crawl_folder["root"] / "news" / "odd#name.txt")


def test_a_name_with_a_backslash_and_a_name_that_is_not_utf8_are_two_keys(tmp_path):
    # the byte 0xE9 is shown as \xe9: a file whose name holds those four characters is another document
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_text("An article about the harbour.", encoding="utf-8")
    (tmp_path / "caf\\xe9.txt").write_text("An article about the council.", encoding="utf-8")
    docs = walk([tmp_path])
    assert [d.key for d in docs] == ["caf%5Cxe9.txt", "caf\\xe9.txt"]
    assert [d.text for d in docs] == ["An article about the council.", "An article about the harbour."]


# ------------------------------------------------------------------------------------------ roots and keys


def test_several_roots_prefix_keys_with_their_index(crawl_folder):
    root = crawl_folder["root"]
    docs = walk([root / "news" / "2024", root / "feeds" / "single.json", root / "nowhere"])
    keys = [d.key for d in docs]
    assert keys == [
        "0:06/council-budget.txt",
        "0:markets.md",
        "1:single.json",
        "2:nowhere",
    ]
    assert docs[-1].error is not None and docs[-1].error[0] == "unreadable"
    assert docs[0].path == str(root / "news" / "2024" / "06" / "council-budget.txt")


def test_a_file_root_is_keyed_by_its_name(crawl_folder):
    docs = walk([crawl_folder["root"] / "feeds" / "batch.jsonl"])
    assert [d.key for d in docs] == [f"batch.jsonl#{n}" for n in (1, 2, 4, 5, 6, 7)]


def test_the_same_folder_twice_is_scanned_once(crawl_folder):
    news = crawl_folder["root"] / "news" / "2024"
    docs = walk([news, news])
    assert [d.key for d in docs][-1] == "1:."
    assert docs[-1].error is not None and docs[-1].error[0] == "already_scanned"
    assert len(docs) == 3


# ------------------------------------------------------------------------------------------ limits, decoding


def test_too_large_is_per_file_per_line_per_record(tmp_path):
    big = "word " * 400  # 2000 bytes
    (tmp_path / "big.txt").write_text(big)
    (tmp_path / "ok.txt").write_text("A short text that fits.")
    lines = [
        json.dumps({"id": "small", "text": "fits"}),
        json.dumps({"id": "large", "text": big}),
        json.dumps({"id": "after", "text": "still read"}),
    ]
    (tmp_path / "lines.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "array.json").write_text(json.dumps([{"text": big}, {"text": "fits"}]))
    page = f"<html><body><p>{big}</p></body></html>".encode()
    (tmp_path / "pages.warc.gz").write_bytes(
        _warc_bytes(
            [("https://x.example/big", page), ("https://x.example/ok", b"<html><body>ok</body></html>")]
        )
    )
    docs = by_key(walk([tmp_path], max_bytes=1000))
    codes = {k: (d.error[0] if d.error else None) for k, d in docs.items()}
    assert codes == {
        "array.json#1": "too_large",
        "array.json#2": None,
        "big.txt": "too_large",
        "lines.jsonl#1": None,
        "lines.jsonl#2": "too_large",
        "lines.jsonl#3": None,
        "ok.txt": None,
        "pages.warc.gz#1": "too_large",
        "pages.warc.gz#2": None,
    }
    assert docs["lines.jsonl#3"].text == "still read"
    assert docs["pages.warc.gz#1"].id == "https://x.example/big"


def test_a_long_jsonl_line_is_skipped_not_held(tmp_path):
    huge = b'{"text": "' + b"x" * 300_000 + b'"}\n'
    (tmp_path / "a.jsonl").write_bytes(huge + b'{"id": "next", "text": "after the long line"}\n')
    docs = walk([tmp_path], max_bytes=1000)
    assert [(d.key, d.error[0] if d.error else d.id) for d in docs] == [
        ("a.jsonl#1", "too_large"),
        ("a.jsonl#2", "next"),
    ]


def test_decoding_boms_utf8_and_detection():
    assert decode_text("\ufeffHello".encode()) == ("Hello", "utf-8")
    assert decode_text("Grüße aus Köln".encode("utf-16")) == ("Grüße aus Köln", "utf-16")
    russian = (
        "Правительство объявило в понедельник о новых мерах поддержки фермеров, пострадавших от засухи. "
        "Министр сельского хозяйства заявил, что выплаты начнутся в следующем месяце."
    )
    text, enc = decode_text(russian.encode("cp1251"))
    assert text == russian and enc == "cp1251"
    text, enc = decode_text("Price: £5".encode("latin-1"))
    assert (text, enc) == ("Price: £5", "cp1252")
    text, enc = decode_text("“Quoted” – ok".encode("cp1252"), declared="windows-1252")
    assert (text, enc) == ("“Quoted” – ok", "cp1252")


def test_binary_and_undecodable_files(tmp_path):
    (tmp_path / "nul.txt").write_bytes(b"text\x00more")
    noise = bytes(b for b in random.Random(7).randbytes(4000) if b) + b"\xff\xfe\xfd"
    (tmp_path / "noise.txt").write_bytes(b"\x81\x8d\x8f\x90\x9d" + noise)
    (tmp_path / "bom.md").write_bytes(b"\xef\xbb\xbf# Title\n\nBody")
    docs = by_key(walk([tmp_path]))
    assert docs["nul.txt"].error is not None and docs["nul.txt"].error[0] == "binary"
    assert docs["bom.md"].text == "# Title\n\nBody"
    err = docs["noise.txt"].error
    assert err is not None and err[0] == "not_utf8"


def test_json_records_may_carry_html(tmp_path):
    page = news_page("Headline about the harbour\nThe harbour reopened on Monday after repairs.")
    rows = [
        {"id": "h1", "html": page, "url": "https://x.example/h"},
        {"id": "n", "text": 3},
        {"id": "e", "text": "  "},
    ]
    (tmp_path / "pages.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    docs = walk([tmp_path])
    assert docs[0].html == page and docs[0].text is None and docs[0].url == "https://x.example/h"
    assert docs[0].title == "Headline about the harbour | The Harbour Gazette"
    assert [d.error[0] if d.error else None for d in docs] == [None, "no_text", "empty"]
    custom = walk([tmp_path / "pages.jsonl"], text_field="body")
    assert custom[0].html == page  # falls back to the html field


def test_unpaired_surrogates_in_json_records(tmp_path):
    # "\ud800" is valid JSON but not Unicode text: the text is refused, and so are a title, url or lang holding
    # one, as thresher score --jsonl and the API refuse them (not_utf8); an id is kept escaped, and so is the url
    # of the error record.
    (tmp_path / "s.jsonl").write_text(
        '{"id": "t", "text": "A sentence \\ud800 with a lone surrogate in it."}\n'
        '{"id": "i\\ud800d", "text": "Fine text."}\n'
        '{"id": "u", "url": "https://x.example/\\udfff", "text": "Fine text."}\n'
        '{"id": "h", "title": "T\\ud801", "text": "Fine text."}\n',
        encoding="utf-8",
    )
    bad, good, bad_url, bad_title = walk([tmp_path])
    assert bad.error is not None and bad.error[0] == "not_utf8" and "surrogate" in bad.error[1]
    assert good.error is None and good.text == "Fine text." and good.id == "i\\ud800d"
    assert bad_url.error == ("not_utf8", "line 3: 'url' holds an unpaired surrogate (\\ud800-\\udfff): not valid "
                                         "Unicode")
    assert bad_url.url == "https://x.example/\\udfff"
    assert bad_title.error is not None and bad_title.error[0] == "not_utf8" and "'title'" in bad_title.error[1]
    for value in (good.id, bad_url.url):
        value.encode("utf-8")  # writable


def test_bad_and_empty_archives(tmp_path):
    (tmp_path / "garbage.warc").write_bytes(b"this is not a WARC file\n" * 10)
    (tmp_path / "empty.warc.gz").write_bytes(gzip.compress(b""))
    whole = _warc_bytes(
        [
            ("https://x.example/1", b"<html><body>one</body></html>"),
            ("https://x.example/2", b"<html><body>two</body></html>"),
        ],
        compress=False,
    )
    (tmp_path / "plain.warc").write_bytes(whole[: len(whole) - 40])
    (tmp_path / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (tmp_path / "broken.json").write_text('{"text": ')
    (tmp_path / "scalar.json").write_text("42")
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "garbage.parquet").write_bytes(b"PAR1 this is not a Parquet file")
    docs = walk([tmp_path])
    got = [(d.key, d.error[0] if d.error else None) for d in docs]
    assert got == [
        ("broken.json", "bad_json"),
        ("broken.jsonl.gz#1", "bad_archive"),
        ("empty.parquet", "empty"),
        ("empty.warc.gz", "empty"),
        ("garbage.parquet", "bad_archive"),
        ("garbage.warc#1", "bad_archive"),
        ("plain.warc#1", None),
        ("plain.warc#2", "bad_archive"),
        ("scalar.json", "bad_record"),
    ]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied_is_unreadable(tmp_path):
    (tmp_path / "secret.txt").write_text("hidden")
    (tmp_path / "secret.txt").chmod(0)
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "a.txt").write_text("inside")
    (tmp_path / "closed").chmod(0)
    try:
        docs = walk([tmp_path])
    finally:
        (tmp_path / "closed").chmod(0o755)
    assert [(d.key, d.error[0] if d.error else None) for d in docs] == [
        ("closed", "unreadable"),
        ("secret.txt", "unreadable"),
    ]


def test_os_errors_are_unreadable(tmp_path, monkeypatch):
    """The same as permission denied, for runs as root (which may read anything)."""
    from service.scan import sources

    (tmp_path / "secret.txt").write_text("hidden")
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "a.txt").write_text("inside")
    (tmp_path / "fine.txt").write_text("readable")
    real_open, real_scandir = sources._open_regular, os.scandir

    def refuse_open(path: str):
        if path.endswith("secret.txt"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path)

    def refuse_scandir(path):
        if str(path).endswith("closed"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(sources, "_open_regular", refuse_open)
    monkeypatch.setattr(sources.os, "scandir", refuse_scandir)
    docs = walk([tmp_path])
    assert [(d.key, d.error[0] if d.error else None) for d in docs] == [
        ("closed", "unreadable"),
        ("fine.txt", None),
        ("secret.txt", "unreadable"),
    ]
    assert all("Permission denied" in d.error[1] for d in docs if d.error)


def test_source_format_by_extension():
    assert source_format("A.JSONL.GZ") == "jsonl"
    assert source_format("x.ndjson") == "jsonl"
    assert source_format("page.Htm") == "html"
    assert source_format("c.warc.gz") == "warc"
    assert source_format("notes.md") == "md"
    assert source_format("image.png") is None
    assert source_format("README") is None
    assert source_format(".txt") is None


def test_stats_count_what_was_read(crawl_folder, scanned):
    _, stats = scanned
    assert stats.files > 0
    assert stats.skipped["warc_response:non_html"] == 1


# ------------------------------------------------------------------------------------------ extract_html


def test_extract_html_gets_the_article_and_measures_the_boilerplate(crawl_folder):
    news = crawl_folder["news_page"]
    text, title, info = extract_html(news["html"], "https://gazette.example/news")
    for para in paragraphs(news["article"]):
        assert para in text
    lines = set(paragraphs(text))
    for furniture in BOILERPLATE + NAV:
        assert furniture not in lines
    assert "tracking code" not in text
    assert "\n" in text  # line breaks kept
    assert title is not None and title.endswith("| The Harbour Gazette")
    assert info["extractor"] == "trafilatura" and info["fallback"] is False
    assert info["page_text_chars"] > info["main_text_chars"] == len(text)
    assert 0 < info["boilerplate_share"] < 1
    assert info["boilerplate_share"] == round(1 - info["main_text_chars"] / info["page_text_chars"], 4)


def test_extract_html_falls_back_to_the_visible_text():
    # trafilatura refuses a lone fragment: the page's visible text stands in, and the info says so
    text, title, info = extract_html("<p>Only a fragment.<br>Second line.</p>", None)
    assert text == "Only a fragment.\nSecond line."
    assert title is None and info["fallback"] is True and info["boilerplate_share"] == 0.0


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "<",
        "<<<>>>",
        "\x00\x01\x02\x03",
        "<html><head><title>Only a title</title></head><body></body></html>",
        "<script>alert('x')</script><style>p{}</style>",
        "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 10,
        "<?xml version='1.0' encoding='latin-1'?><html><body><p>é</p></body></html>",
        "<p>unclosed <b>tags <i>everywhere" * 50,
        "\ud800 a lone surrogate <b>x</b>",
        "<html><body><p>Text with\x0bcontrol\x0ccharacters\x01 in it.</p></body></html>",
        "<table>" + "<tr><td>cell</td></tr>" * 2000 + "</table>",
        "plain text without any tags at all",
        "<html><body><svg><text>drawn</text></svg><iframe src='x'></iframe></body></html>",
    ],
)
def test_extract_html_never_raises(garbage):
    text, title, info = extract_html(garbage, None)
    assert isinstance(text, str)
    assert title is None or isinstance(title, str)
    assert 0.0 <= info["boilerplate_share"] <= 1.0
    assert info["main_text_chars"] == len(text)


def test_build_crawl_is_repeatable(tmp_path):
    a = build_crawl(tmp_path / "a")
    b = build_crawl(tmp_path / "b")
    assert a["records"] == b["records"]
    assert [d.key for d in walk([tmp_path / "a"])] == [d.key for d in walk([tmp_path / "b"])]


# ------------------------------------------------------------------------------------------ helpers


def _warc_bytes(pages: list[tuple[str, bytes]], *, compress: bool = True) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=compress)
    for url, body in pages:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
        )
    return buf.getvalue()


def test_a_file_given_twice_or_inside_a_folder_given_is_scanned_once(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.txt").write_text("An article about the harbour.", encoding="utf-8")
    (site / "b.txt").write_text("An article about the council.", encoding="utf-8")
    f = site / "a.txt"

    docs = walk([f, f])
    assert [d.error for d in docs][0] is None
    assert docs[1].error is not None and docs[1].error[0] == "already_scanned"
    assert str(f) in docs[1].error[1]

    docs = walk([site, f])  # the folder first: the file was read there
    assert [d.error is None for d in docs] == [True, True, False]
    assert docs[2].error is not None and docs[2].error[0] == "already_scanned" and str(site) in docs[2].error[1]

    docs = walk([f, site])  # the file first: its folder skips it
    assert sum(d.error is None for d in docs) == 2 and len(docs) == 3
    assert [d.error[0] for d in docs if d.error] == ["already_scanned"]


def test_a_folder_reached_again_through_a_link_names_the_path_it_was_scanned_under(tmp_path):
    real = tmp_path / "crawl" / "real"
    real.mkdir(parents=True)
    (real / "a.txt").write_text("An article about the harbour.", encoding="utf-8")
    (tmp_path / "crawl" / "alias").symlink_to(real, target_is_directory=True)  # walked first: "alias" < "real"
    docs = walk([tmp_path / "crawl"])
    errors = [d for d in docs if d.error]
    assert len(errors) == 1 and errors[0].error[0] == "already_scanned"
    assert errors[0].path.endswith("real") and "alias" in errors[0].error[1]


def test_the_site_of_a_document_without_url_is_its_top_folder_under_the_root(tmp_path):
    from service.scan import folder_site
    from service.scan.runner import _site

    for name in ("site-a/2025/10/a.txt", "site-b/b.txt", "top.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Some words of an article.", encoding="utf-8")
    assert [_site(d) for d in walk([tmp_path])] == ["site-a", "site-b", "."]
    assert [_site(d) for d in walk([tmp_path, tmp_path / "site-b"])][:3] == ["site-a", "site-b", "."]
    assert folder_site("1:site-b/x.jsonl#3") == "site-b" and folder_site("0:top.jsonl#2") == "."


def test_a_broken_json_record_says_where_it_breaks(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "fine"}\n{"text": "tab\tinside"}\n', encoding="utf-8")
    (tmp_path / "b.json").write_text('{"text": "unclosed', encoding="utf-8")
    docs = {d.key: d for d in walk([tmp_path])}
    assert docs["a.jsonl#2"].error == ("bad_json", "line 2 is not valid JSON: Invalid control character at (column 14)")
    code, message = docs["b.json"].error
    assert code == "bad_json" and "line 1 column 10 (char 9)" in message


def test_the_site_of_odd_folder_names_is_the_name_itself(tmp_path):
    from service.scan.runner import _site

    for name in ("12:30/a.txt", "2024:archive/b.txt", "C# news/c.txt", "100%/d.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Some words of an article.", encoding="utf-8")
    sites = [_site(d) for d in walk([tmp_path])]
    assert sites == ["100%", "12:30", "2024:archive", "C# news"]
    assert [_site(d) for d in walk([tmp_path, tmp_path])][:4] == sites


def test_a_file_reached_through_a_link_and_given_by_its_path_is_scanned_exactly_once(tmp_path):
    crawl, elsewhere = tmp_path / "crawl", tmp_path / "elsewhere"
    crawl.mkdir()
    elsewhere.mkdir()
    (elsewhere / "x.txt").write_text("An article about the harbour.", encoding="utf-8")
    (crawl / "link.txt").symlink_to(elsewhere / "x.txt")
    for roots in ([crawl, crawl / "link.txt"], [crawl, elsewhere / "x.txt"], [elsewhere / "x.txt", crawl]):
        docs = walk(roots)
        assert sum(d.error is None for d in docs) == 1, roots
        assert [d.error[0] for d in docs if d.error] == ["already_scanned"], roots


@pytest.mark.parametrize(
    ("html", "want"),
    [
        ("<html><head><title>Harbour news | Gazette</title></head><body>x</body></html>", "Harbour news | Gazette"),
        ("<HEAD><TITLE lang='en'>A &amp; B <b>bold</b></TITLE ></HEAD>", "A & B bold"),
        ("<head><title>first</title><title>second</title></head>", "first"),
        ("<head><title>never closed</head><body><title>in the body</title></body>", None),
        ("<head><meta name='x'></head><body><p>no title</p></body>", None),
        ("<title>" + "<" * 50 + "</title>", "<" * 50),
    ],
)
def test_cheap_title_reads_the_first_title_of_the_head(html, want):
    assert _cheap_title(html) == want


def test_cheap_title_is_not_quadratic_on_unclosed_titles():
    """64 KB of "<title>" that never closes (or of "<" in a title) took 3.5 s (2 s) with one pattern for
    the whole element, tried from every opening tag to the end of the head; the bounded searches take
    under a millisecond, so even a slow machine stays far below the bound."""
    import time

    for head in ("<title>" * 9400, "<title " * 9400, "<title>" + "<" * 65000 + "</title>"):
        start = time.perf_counter()
        _cheap_title(head)
        assert time.perf_counter() - start < 1.0


IDS = [("a", "a"), (True, "true"), (7, "7"), (1.5, "1.5"), ({"a": 1}, '{"a":1}'), ([1, "x"], '[1,"x"]')]


def test_ids_of_any_json_type_are_their_json_text_as_the_api_and_score_write_them(tmp_path):
    """One rule for a record's id wherever it is read: a string as it is, another JSON value as its JSON
    text; null or "" (no id) gives path:line."""
    from service.scan.sources import iter_documents

    lines = [{"id": value, "text": f"Text number {i} is here."} for i, (value, _) in enumerate(IDS)]
    lines += [{"id": None, "text": "No id."}, {"id": "", "text": "Empty id."}]
    (tmp_path / "ids.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    got = [d.id for d in iter_documents([tmp_path / "ids.jsonl"])]
    assert got[: len(IDS)] == [want for _, want in IDS]
    assert got[len(IDS):] == [f"{tmp_path / 'ids.jsonl'}:{len(IDS) + 1}", f"{tmp_path / 'ids.jsonl'}:{len(IDS) + 2}"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_not_called_binary(tmp_path, encoding):
    from service.scan.sources import iter_documents

    text = "Café society: the council met on Tuesday and said it would publish the report.\n" * 3
    (tmp_path / "wide.txt").write_bytes(text.encode(encoding))
    (tmp_path / "zip.txt").write_bytes(b"PK\x03\x04\x00\x00binary\x00payload\x00\x01" * 4)
    docs = {Path(d.path).name: d for d in iter_documents([tmp_path])}
    assert docs["wide.txt"].error is None and docs["wide.txt"].text.strip() == text.strip()
    assert docs["wide.txt"].meta.get("encoding") == encoding
    assert docs["zip.txt"].error is not None and docs["zip.txt"].error[0] == "binary"


# ------------------------------------------------------------------------------------- WET and Parquet


def _parquet(path: Path, columns: dict[str, list[Any]], **kwargs: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path, **kwargs)


def test_a_parquet_column_of_bytes_is_decoded_and_text_field_names_the_column(tmp_path):
    latin1 = "Café owners in the old town said the rain had cost them a third of the summer."
    _parquet(tmp_path / "shard.parquet", {
        "content": [latin1.encode("cp1252"), b"\x00\x01\x02" * 50, None],
        "id": [17, 18, 19],
    })
    docs = walk([tmp_path], text_field="content")
    assert [d.id for d in docs] == ["17", "18", "19"]
    assert docs[0].error is None and docs[0].text == latin1 and docs[0].source_format == "parquet"
    assert docs[1].error is not None and docs[1].error[0] == "binary" and "row 2" in docs[1].error[1]
    assert docs[2].error is not None and docs[2].error[0] == "no_text"
    # without --text-field the column is not found: one record says so for the file (not one per row: a
    # wrong --text-field on a shard of millions of rows), naming the columns there are
    (only,) = walk([tmp_path])
    assert only.error is not None and only.error[0] == "no_text" and "its columns: content, id" in only.error[1]


def test_a_parquet_value_python_cannot_hold_costs_its_field_not_the_scan(tmp_path):
    """An id of timestamp type out of datetime's range crashed the whole scan (OverflowError, exit 1, no
    output); an html column of bytes that the row does not use made the row an error."""
    import pyarrow as pa

    text = "The council met on Tuesday to discuss the harbour budget for the coming year."
    _parquet(tmp_path / "ts.parquet", {"text": [text] * 4, "id": pa.array([0, 1, 2, 10**16], pa.timestamp("ms")),
                                       "html": [b"\x00\x01" * 20] * 4}, row_group_size=2)
    docs = walk([tmp_path])
    assert [d.error for d in docs] == [None] * 4 and all(d.text == text for d in docs)
    assert docs[0].id == "1970-01-01 00:00:00" and docs[3].id  # the odd one gets some id, never a crash


def test_a_parquet_rows_lang_is_read_and_a_title_url_or_lang_of_another_type_is_a_bad_record(tmp_path):
    """The lang column was not read, and a title or url column of numbers or bytes was silently dropped: each
    such row is a bad_record naming the column's Parquet type, as a JSON record's number is one."""
    text = "The council met on Tuesday to discuss the harbour budget for the coming year."
    _parquet(tmp_path / "a.parquet", {"text": [text] * 3, "id": ["t1", "t2", "t3"], "title": [5, None, 7],
                                      "lang": ["de", "en", "xx-not a code"]})
    _parquet(tmp_path / "b.parquet", {"text": [text], "url": [b"https://x.example/"]})
    docs = walk([tmp_path])
    assert [(d.id, d.error) for d in docs] == [
        ("t1", ("bad_record", "row 1: 'title' must be a string or null, not a Parquet int64")),
        ("t2", None),
        ("t3", ("bad_record", "row 3: 'title' must be a string or null, not a Parquet int64")),
        (f"{tmp_path / 'b.parquet'}:1", ("bad_record", "row 1: 'url' must be a string or null, not a Parquet binary")),
    ]
    assert docs[1].lang == "en" and docs[1].title is None
    _parquet(tmp_path / "a.parquet", {"text": [text] * 2, "lang": ["pt-BR", "English"]})
    (tmp_path / "b.parquet").unlink()
    good, bad = walk([tmp_path])
    assert good.error is None and good.lang == "pt-BR"
    assert bad.error == ("bad_record", "row 2: 'lang' must be a language code such as 'en' or 'pt-BR', got 'English'")


def test_a_parquet_file_damaged_in_the_middle_keeps_the_rows_before_it(tmp_path):
    texts = [f"Report {i}: the harbour board met on Monday and approved the budget for the year." for i in range(40)]
    good = tmp_path / "good.parquet"
    _parquet(good, {"text": texts}, row_group_size=10, compression="NONE")
    data = bytearray(good.read_bytes())
    at = data.find(b"Report 25")  # inside the third row group's data; the footer stays intact
    data[at - 40 : at + 400] = os.urandom(440)
    (tmp_path / "bad.parquet").write_bytes(bytes(data))
    docs = walk([tmp_path / "bad.parquet"])
    read = [d for d in docs if d.error is None]
    assert [d.text for d in read] == texts[: len(read)] and 10 <= len(read) <= 30
    assert len(docs) == len(read) + 1
    code, message = docs[-1].error
    assert code == "bad_archive" and f"row {len(read) + 1}" in message and docs[-1].key == f"bad.parquet#{len(read) + 1}"


def test_a_wet_conversion_over_the_size_limit_is_an_error_and_the_next_one_is_read(tmp_path):
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, body in (("https://a.example/long", b"word " * 2000), ("https://a.example/short", b"A short text.")):
        writer.write_record(writer.create_warc_record(url, "conversion", payload=io.BytesIO(body),
                                                      warc_content_type="text/plain"))
    (tmp_path / "x.warc.wet.gz").write_bytes(buf.getvalue())
    docs = walk([tmp_path], max_bytes=5000)
    assert [d.id for d in docs] == ["https://a.example/long", "https://a.example/short"]
    assert docs[0].error is not None and docs[0].error[0] == "too_large"
    assert docs[1].error is None and docs[1].text == "A short text." and docs[1].html is None
    assert docs[1].meta["warc_type"] == "conversion"


def test_a_number_over_pythons_digits_is_told_as_the_writer_can_fix_it(tmp_path):
    """Python's own advice ("use sys.set_int_max_str_digits()") is no advice to whoever wrote the crawl; the
    API and ``thresher score --jsonl`` say the same."""
    (tmp_path / "a.jsonl").write_text('{"text": "fine words", "n": ' + "9" * 5000 + "}\n", encoding="utf-8")
    code, message = next(iter(walk([tmp_path]))).error
    assert code == "bad_json" and "4300 digits" in message and "as a string" in message
    assert "set_int_max_str_digits" not in message
