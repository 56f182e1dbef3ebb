"""A crawl folder on disk with every format ``thresher scan`` reads, and every way a file can be bad.

``build_crawl(root)`` writes it and returns what a correct reader must yield from ``iter_documents([root])``
(keys are relative to ``root``, as with a single root). The article texts are the project's own reliable
fixtures (training/fixtures/reliable_*.jsonl); the pages, the Latin-1 and Windows-1252 texts and all the
boilerplate are written here. Other tests import it: ``from crawlfolder import build_crawl``.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import os
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "training" / "fixtures"

LATIN1_TEXT = (
    "Café owners in Zürich count the cost of the summer rain\n"
    "ZÜRICH - Café owners along the Limmat said on Monday that the wettest July in two decades had cut "
    "their terrace takings by almost a third, and several said they would ask the city to delay this "
    "year's increase in pavement fees.\n"
    "Jürg Näf, who runs a small café near the Rathausbrücke, said his outdoor tables had been empty on "
    "nineteen of thirty-one days. A British visitor, paying £4 for a coffee on one of the few dry "
    'afternoons, said the prices were "steep but fair for the view".\n'
    "The city's economic office said it would publish figures for the season in September. A spokeswoman "
    "said any change to the fees would need the approval of the municipal council, which next meets on "
    "the 14th.\n"
    "Meteorologists expect a drier August, with temperatures near the seasonal average of 24°C."
)

WINDOWS_TEXT = (
    "Harbour ferry fares to rise by €0.40 from March\n"
    "The harbour authority said on Tuesday that single ferry fares would rise by €0.40 from 1 March, "
    "the first increase in four years, citing fuel and insurance costs.\n"
    "“We held prices for as long as we could,” the authority’s finance director, Maren Ødegård, told a "
    "meeting of the transport committee. Season tickets will rise by 6 per cent.\n"
    "Commuter groups said the timing – weeks before the spring timetable – was “unhelpful”, and asked "
    "for a discount for students and pensioners, which the authority said it would consider."
)

# The news page's furniture: none of it may end up in the extracted article text.
NAV = ["Home", "World", "Business", "Local News", "Sport", "Weather", "Opinion", "Subscribe"]
BOILERPLATE = [
    "We use cookies to improve your experience on our site. Accept all cookies",
    "Sign up for the Morning Briefing newsletter",
    "Most read: Council approves new cycle lanes on Quay Street",
    "Most read: Schools prepare for autumn term staffing shortfall",
    "Most read: Weekend weather: showers clearing from the west",
    "© 2024 The Harbour Gazette Ltd. All rights reserved.",
    "Privacy policy",
    "Contact the newsroom",
]


def load_articles(n: int = 28) -> list[dict[str, Any]]:
    """The first ``n`` English reliable fixture articles, in a fixed order."""
    rows: list[dict[str, Any]] = []
    for f in sorted(FIXTURES.glob("reliable_*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if not any(str(t).startswith("lang-") for t in row.get("tags", [])):
                    rows.append(row)
    if len(rows) < n:
        raise RuntimeError(f"need {n} English reliable fixtures, found {len(rows)}")
    return rows[:n]


def _paragraphs(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def news_page(
    article: str, *, site: str = "The Harbour Gazette", url: str = "https://gazette.example/news"
) -> str:
    """A real-looking news page: head with scripts and styles, navigation, cookie banner, the article
    (headline, byline, date, paragraphs), a most-read box, a newsletter box and a footer."""
    paras = _paragraphs(article)
    headline, body = paras[0], paras[1:]
    e = html.escape
    nav = "\n".join(
        f'        <li><a href="/{e(item.lower().replace(" ", "-"))}">{e(item)}</a></li>' for item in NAV
    )
    most_read = "\n".join(
        f'        <li><a href="/story/{i}">{e(line.removeprefix("Most read: "))}</a></li>'
        for i, line in enumerate(BOILERPLATE[2:5])
    )
    body_html = "\n".join(f"      <p>{e(p)}</p>" for p in body)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{e(headline)} | {e(site)}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta property="og:title" content="{e(headline)}">
  <link rel="canonical" href="{e(url)}">
  <style>body {{ font-family: Georgia, serif; }} .cookie {{ position: fixed; bottom: 0; }}</style>
  <script>window.dataLayer = window.dataLayer || []; function track() {{ return "tracking code"; }}</script>
</head>
<body>
  <div class="cookie" id="cookie-banner"><p>{e(BOILERPLATE[0])}</p><button>OK</button></div>
  <header class="masthead">
    <a class="logo" href="/">{e(site)}</a>
    <nav class="main-nav">
      <ul>
{nav}
      </ul>
    </nav>
  </header>
  <main>
    <article class="story">
      <h1>{e(headline)}</h1>
      <p class="byline">By Staff Reporter</p>
      <time datetime="2024-06-12T08:30:00Z">12 June 2024</time>
{body_html}
    </article>
    <aside class="most-read">
      <h2>Most read</h2>
      <ol>
{most_read}
      </ol>
    </aside>
    <section class="newsletter">
      <h2>{e(BOILERPLATE[1])}</h2>
      <form><input type="email"><button>Sign up</button></form>
    </section>
  </main>
  <footer>
    <p>{e(BOILERPLATE[5])}</p>
    <ul>
      <li><a href="/privacy">{e(BOILERPLATE[6])}</a></li>
      <li><a href="/contact">{e(BOILERPLATE[7])}</a></li>
    </ul>
  </footer>
  <script>track();</script>
</body>
</html>
"""


def _gzip_members(lines: list[bytes]) -> tuple[bytes, list[int]]:
    """One gzip member per line (as crawlers append): the bytes and where each member starts."""
    out = io.BytesIO()
    starts = []
    for line in lines:
        starts.append(out.tell())
        out.write(gzip.compress(line, mtime=0))
    return out.getvalue(), starts


def _warc(records: list[dict[str, Any]]) -> tuple[bytes, list[int]]:
    """A gzipped WARC (one member per record) and the offset of each record."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    offsets = []
    for i, r in enumerate(records, start=1):
        fixed = {
            "WARC-Date": "2024-06-12T08:30:00Z",
            "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>",
        }
        if r["type"] == "warcinfo":
            rec = writer.create_warcinfo_record(
                "crawl.warc.gz", {"software": "crawlfolder test", "format": "WARC 1.0"}
            )
        elif r["type"] == "conversion":  # what a WET file holds: a page's extracted text
            rec = writer.create_warc_record(
                r["url"], "conversion", payload=io.BytesIO(r["body"]), warc_content_type=r.get("ctype", "text/plain"),
                warc_headers_dict={**fixed, "WARC-Refers-To": f"<urn:uuid:10000000-0000-4000-8000-{i:012d}>"},
            )
        elif r["type"] == "request":
            http = StatusAndHeaders(
                f"GET {r['path']} HTTP/1.1", [("Host", "gazette.example")], is_http_request=True
            )
            rec = writer.create_warc_record(
                r["url"], "request", payload=io.BytesIO(b""), http_headers=http, warc_headers_dict=fixed
            )
        else:
            http = StatusAndHeaders(r.get("status", "200 OK"), r["headers"], protocol="HTTP/1.1")
            rec = writer.create_warc_record(
                r["url"],
                "response",
                payload=io.BytesIO(r["body"]),
                http_headers=http,
                warc_headers_dict=fixed,
            )
        offsets.append(buf.tell())
        writer.write_record(rec)
    return buf.getvalue(), offsets


def _chunked(data: bytes, size: int = 700) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def build_crawl(root: Path) -> dict[str, Any]:
    """Write the crawl folder under ``root`` (created if needed) and return the expectations:

    ``documents``: key -> {"format", "id", "kind" ("text" or "html"), "text" (exact, for text documents),
    "article" (the article inside an HTML page), "url", "title", "lang", "encoding" (if not UTF-8)};
    ``errors``: key -> error code; ``records``: how many records a reader must yield;
    ``skipped``: the WARC records that are not documents, by ScanStats key; ``news_page``: the key, the
    article and the boilerplate lines of the handmade news page; ``latin1``: key and text; ``special``:
    which special entries could be made here (``fifo``, ``symlinks``).
    """
    root.mkdir(parents=True, exist_ok=True)
    arts = load_articles()
    texts = [a["text"] for a in arts]
    docs: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}

    def write(rel: str, data: bytes | str) -> Path:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return p

    def path_of(rel: str) -> str:
        return str(root / rel)

    # --- plain text and markdown, nested
    write("news/2024/06/council-budget.txt", texts[0])
    docs["news/2024/06/council-budget.txt"] = {"format": "txt", "kind": "text", "text": texts[0]}
    md = "# " + texts[1].replace("\n", "\n\n", 1)
    write("news/2024/markets.md", md)
    docs["news/2024/markets.md"] = {"format": "md", "kind": "text", "text": md}
    write("news/latin1-cafe.txt", LATIN1_TEXT.encode("latin-1"))
    docs["news/latin1-cafe.txt"] = {
        "format": "txt",
        "kind": "text",
        "text": LATIN1_TEXT,
        "encoding": "cp1252",
    }
    write("news/odd#name.txt", texts[2])
    docs["news/odd%23name.txt"] = {
        "format": "txt",
        "kind": "text",
        "text": texts[2],
        "path": path_of("news/odd#name.txt"),
    }

    # --- HTML: the handmade news page, an upper-case .HTM, a Windows-1252 page with a meta charset
    page = news_page(texts[3])
    write("news/harbour-bridge.html", page)
    headline = _paragraphs(texts[3])[0]
    docs["news/harbour-bridge.html"] = {
        "format": "html",
        "kind": "html",
        "article": texts[3],
        "title": f"{headline} | The Harbour Gazette",
    }
    write("news/brief.HTM", news_page(texts[4], site="Evening Post"))
    docs["news/brief.HTM"] = {"format": "html", "kind": "html", "article": texts[4]}
    win_title = _paragraphs(WINDOWS_TEXT)[0]
    win_page = news_page(WINDOWS_TEXT).replace('<meta charset="utf-8">', '<meta charset="windows-1252">')
    write("news/fares.html", win_page.encode("cp1252"))
    docs["news/fares.html"] = {
        "format": "html",
        "kind": "html",
        "article": WINDOWS_TEXT,
        "encoding": "cp1252",
        "title": f"{win_title} | The Harbour Gazette",
    }

    # --- JSONL: good records, a blank line, a broken line, a non-object, a record without text
    batch = [
        json.dumps({"id": "feed-1", "text": texts[5], "url": "https://wire.example/1", "title": "Wire one",
                    "lang": "en"}),
        json.dumps({"text": texts[6]}),
        "",
        '{"id": "feed-4", "text": "unterminated',
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "feed-6", "body": texts[7]}),
        json.dumps({"id": 7, "text": texts[8]}),
    ]
    write("feeds/batch.jsonl", "\n".join(batch) + "\n")
    bpath = path_of("feeds/batch.jsonl")
    docs["feeds/batch.jsonl#1"] = {
        "format": "jsonl",
        "kind": "text",
        "text": texts[5],
        "id": "feed-1",
        "url": "https://wire.example/1",
        "title": "Wire one",
        "lang": "en",
    }
    docs["feeds/batch.jsonl#2"] = {"format": "jsonl", "kind": "text", "text": texts[6], "id": f"{bpath}:2"}
    errors["feeds/batch.jsonl#4"] = "bad_json"
    errors["feeds/batch.jsonl#5"] = "bad_record"
    errors["feeds/batch.jsonl#6"] = "no_text"
    docs["feeds/batch.jsonl#7"] = {"format": "jsonl", "kind": "text", "text": texts[8], "id": "7"}
    # records whose title, url, lang or id thresher score --jsonl refuses (bad_record): so does the scan
    context = [json.dumps({"id": "c-1", "text": texts[5], "title": 5}),
               json.dumps({"id": "c-2", "text": texts[5], "url": ["x"]}),
               json.dumps({"id": "c-3", "text": texts[5], "lang": "English"}),
               '{"id": 1e400, "text": ' + json.dumps(texts[5]) + "}"]  # 1e400 as sent: json.dumps writes Infinity
    write("feeds/context.jsonl", "".join(line + "\n" for line in context))
    for i in range(1, len(context) + 1):
        errors[f"feeds/context.jsonl#{i}"] = "bad_record"

    gz_lines = [json.dumps({"id": f"gz-{i}", "text": texts[9 + i]}) for i in (1, 2)]
    write("feeds/archive.jsonl.gz", gzip.compress(("\n".join(gz_lines) + "\n").encode(), mtime=0))
    for i in (1, 2):
        docs[f"feeds/archive.jsonl.gz#{i}"] = {
            "format": "jsonl",
            "kind": "text",
            "text": texts[9 + i],
            "id": f"gz-{i}",
        }

    cut_lines = [(json.dumps({"id": f"cut-{i}", "text": texts[12 + i]}) + "\n").encode() for i in (1, 2, 3)]
    data, starts = _gzip_members(cut_lines)
    write("feeds/cut.jsonl.gz", data[: starts[2] + (len(data) - starts[2]) // 2])
    for i in (1, 2):
        docs[f"feeds/cut.jsonl.gz#{i}"] = {
            "format": "jsonl",
            "kind": "text",
            "text": texts[12 + i],
            "id": f"cut-{i}",
        }
    errors["feeds/cut.jsonl.gz#3"] = "bad_archive"

    write("feeds/extra.NDJSON", json.dumps({"id": "nd-1", "text": texts[16]}) + "\n")
    docs["feeds/extra.NDJSON#1"] = {"format": "jsonl", "kind": "text", "text": texts[16], "id": "nd-1"}
    write("feeds/none.jsonl", "\n  \n\n")
    errors["feeds/none.jsonl"] = "empty"

    # --- JSON: one object, an array (two records and a string)
    write(
        "feeds/single.json",
        json.dumps({"id": "json-object", "text": texts[17], "url": "https://wire.example/s"}),
    )
    docs["feeds/single.json"] = {
        "format": "json",
        "kind": "text",
        "text": texts[17],
        "id": "json-object",
        "url": "https://wire.example/s",
    }
    write(
        "feeds/many.json",
        json.dumps([{"id": "arr-1", "text": texts[18]}, {"text": texts[19]}, "a string"], indent=1),
    )
    docs["feeds/many.json#1"] = {"format": "json", "kind": "text", "text": texts[18], "id": "arr-1"}
    docs["feeds/many.json#2"] = {
        "format": "json",
        "kind": "text",
        "text": texts[19],
        "id": f"{path_of('feeds/many.json')}:2",
    }
    errors["feeds/many.json#3"] = "bad_record"

    # --- WARC: warcinfo, request, an HTML page, an image, a redirect, a gzip+chunked HTML page
    page1 = news_page(texts[20], url="https://gazette.example/a").encode()
    page2 = news_page(texts[21], url="https://gazette.example/b").encode()
    warc_records: list[dict[str, Any]] = [
        {"type": "warcinfo"},
        {"type": "request", "url": "https://gazette.example/a", "path": "/a"},
        {
            "type": "response",
            "url": "https://gazette.example/a",
            "body": page1,
            "headers": [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page1)))],
        },
        {
            "type": "response",
            "url": "https://gazette.example/logo.png",
            "body": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "headers": [("Content-Type", "image/png")],
        },
        {
            "type": "response",
            "url": "https://gazette.example/old",
            "status": "301 Moved Permanently",
            "body": b"<html><body><a href='/a'>Moved</a></body></html>",
            "headers": [("Content-Type", "text/html"), ("Location", "https://gazette.example/a")],
        },
        {
            "type": "response",
            "url": "https://gazette.example/b",
            "body": _chunked(gzip.compress(page2, mtime=0)),
            "headers": [
                ("Content-Type", "text/html"),
                ("Content-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked"),
            ],
        },
    ]
    data, _ = _warc(warc_records)
    write("warc/crawl.warc.gz", data)
    docs["warc/crawl.warc.gz#3"] = {
        "format": "warc",
        "kind": "html",
        "article": texts[20],
        "id": "https://gazette.example/a",
        "url": "https://gazette.example/a",
    }
    docs["warc/crawl.warc.gz#6"] = {
        "format": "warc",
        "kind": "html",
        "article": texts[21],
        "id": "https://gazette.example/b",
        "url": "https://gazette.example/b",
    }
    skipped = {
        "warc_record:warcinfo": 1,
        "warc_record:request": 1,
        "warc_response:non_html": 1,
        "warc_response:http_status": 1,
    }

    page3 = news_page(texts[22], url="https://gazette.example/c").encode()
    page4 = news_page(texts[23], url="https://gazette.example/d").encode()
    data, offsets = _warc(
        [
            {
                "type": "response",
                "url": "https://gazette.example/c",
                "body": page3,
                "headers": [("Content-Type", "text/html")],
            },
            {
                "type": "response",
                "url": "https://gazette.example/d",
                "body": page4,
                "headers": [("Content-Type", "text/html")],
            },
        ]
    )
    write("warc/truncated.warc.gz", data[: offsets[1] + (len(data) - offsets[1]) // 2])
    docs["warc/truncated.warc.gz#1"] = {
        "format": "warc",
        "kind": "html",
        "article": texts[22],
        "id": "https://gazette.example/c",
        "url": "https://gazette.example/c",
    }
    errors["warc/truncated.warc.gz#2"] = "bad_archive"

    # --- Common Crawl's WET: a warcinfo record, then one conversion record (extracted text) per page
    wet, _ = _warc(
        [
            {"type": "warcinfo"},
            {"type": "conversion", "url": "https://courier.example/harbour", "body": texts[24].encode()},
            {"type": "conversion", "url": "https://courier.example/scan.pdf", "body": b"%PDF-1.7",
             "ctype": "application/pdf"},
            {"type": "conversion", "url": "https://courier.example/schools", "body": texts[25].encode()},
        ]
    )
    write("wet/CC-MAIN-test-00000.warc.wet.gz", wet)
    for n, t in ((2, texts[24]), (4, texts[25])):
        url = "https://courier.example/" + ("harbour" if n == 2 else "schools")
        docs[f"wet/CC-MAIN-test-00000.warc.wet.gz#{n}"] = {"format": "warc", "kind": "text", "text": t, "id": url,
                                                           "url": url}
    skipped["warc_record:warcinfo"] += 1
    skipped["warc_conversion:non_text"] = 1

    # --- Parquet, as datasets ship their shards: id, url, text; a row without text, a row without id
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "id": ["pq-1", "pq-2", None],
        "url": ["https://ledger.example/1", None, None],
        "lang": ["en", None, None],
        "text": [texts[26], None, texts[27]],
        "language_score": [0.98, 0.5, 0.97],
    })
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=2)
    write("feeds/shard-000.parquet", buf.getvalue())
    docs["feeds/shard-000.parquet#1"] = {"format": "parquet", "kind": "text", "text": texts[26], "id": "pq-1",
                                         "url": "https://ledger.example/1", "lang": "en"}
    errors["feeds/shard-000.parquet#2"] = "no_text"
    docs["feeds/shard-000.parquet#3"] = {"format": "parquet", "kind": "text", "text": texts[27],
                                         "id": f"{path_of('feeds/shard-000.parquet')}:3"}

    # --- bad files
    write("broken/binary.txt", b"GIF89a\x00\x01\x00\x00" + os.urandom(64) + b"\x00" * 16)
    errors["broken/binary.txt"] = "binary"
    write("broken/empty.txt", b"")
    errors["broken/empty.txt"] = "empty"
    write("broken/blank.md", "  \n\n\t\n")
    errors["broken/blank.md"] = "empty"
    write("broken/chart.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    errors["broken/chart.png"] = "unsupported_format"
    write("broken/README", "A file without an extension.\n")
    errors["broken/README"] = "unsupported_format"

    special = {"fifo": False, "symlinks": False}
    if hasattr(os, "mkfifo"):
        try:
            os.mkfifo(root / "broken" / "pipe.txt")
            special["fifo"] = True
            errors["broken/pipe.txt"] = "special_file"
        except OSError:
            pass

    # --- symbolic links: a dangling one, a loop back to a parent, a second name for a scanned folder
    write("loops/inner/story.txt", texts[23])
    docs["loops/inner/story.txt"] = {"format": "txt", "kind": "text", "text": texts[23]}
    try:
        os.symlink("missing-target.txt", root / "broken" / "dangling.txt")
        os.symlink("..", root / "loops" / "inner" / "back", target_is_directory=True)
        os.symlink("news", root / "zz-latest", target_is_directory=True)
        special["symlinks"] = True
        errors["broken/dangling.txt"] = "unreadable"
        errors["loops/inner/back"] = "symlink_loop"
        errors["zz-latest"] = "already_scanned"
    except (OSError, NotImplementedError):
        pass

    for key, d in docs.items():
        d.setdefault("path", path_of(key.split("#")[0]))
        if d["kind"] == "text" and d["format"] in ("txt", "md"):
            d.setdefault("id", d["path"])
        if d["format"] == "html":
            d.setdefault("id", d["path"])
        d.setdefault("url", None)
        d.setdefault("lang", None)
    return {
        "root": root,
        "documents": docs,
        "errors": errors,
        "records": len(docs) + len(errors),
        "skipped": skipped,
        "news_page": {
            "key": "news/harbour-bridge.html",
            "article": texts[3],
            "html": page,
            "boilerplate": BOILERPLATE + NAV,
        },
        "latin1": {"key": "news/latin1-cafe.txt", "text": LATIN1_TEXT},
        "special": special,
    }
