"""Walk what a crawler left on disk and yield one :class:`RawDocument` per document, or per thing that
cannot be read. Nothing is dropped silently: records out = documents in, plus one error record for every
file, line, array element, row or archive tail that could not be read (a Parquet file without its text
column is one error record for the file).

Formats, by extension (case-insensitive): ``.txt``, ``.md`` (one text document); ``.html``, ``.htm``
(one HTML document: its main text is extracted later, by :func:`extract_html`, in the scoring workers);
``.json`` (an object is one document, an array of objects one per element); ``.jsonl``, ``.ndjson``,
``.jsonl.gz``, ``.ndjson.gz`` (one per non-blank line); ``.parquet`` (one per row); ``.warc``, ``.warc.gz``
(one per ``response`` record with a 2xx status and an HTML payload, and one per ``conversion`` record with
text: Common Crawl's WET files, ``.wet``, ``.wet.gz``, hold only those; every other record is counted in
:class:`ScanStats`). Anything else is an ``unsupported_format`` error record.

Keys (unique, stable for the same inputs; ``--resume`` relies on them):

* the path relative to the root it was found under, with ``/`` separators, e.g. ``news/2024/a.txt``;
  a root that is itself a file is keyed by its name, a root directory's own error by ``.``;
* ``#N`` appended for the N-th (1-based) line of a JSONL file, element of a JSON array, row of a Parquet
  file or record of a WARC file (N counts every line / record, so it points into the file), e.g. ``feeds/a.jsonl#7``;
  a truncated or corrupt archive's ``bad_archive`` record is keyed by the line or record where reading
  stopped;
* with several roots, every key is prefixed by the root's index: ``0:news/a.txt``, ``1:b.jsonl#2``;
* ``%``, ``#``, ``:`` and ``\\`` inside file names are escaped as ``%25``, ``%23``, ``%3A`` and ``%5C`` so that
  keys never collide, and undecodable bytes in names are shown as ``\\xNN``.

``order`` is (running index of the file or error entry, position in the file: 0 for single-document
files, else N): sorting by it gives the walk order. Directories are walked depth-first, entries sorted
by name, following symbolic links; a link back to a directory being walked is one ``symlink_loop``
error, and a directory reached a second time (through another link, or two overlapping roots) is one
``already_scanned`` error instead of being scanned twice.

Error codes (``RawDocument.error[0]``); the first eight are those of ``thresher score``:

``empty``              no text at all (an empty or blank file, a JSONL file without records, an empty
                       array, a WARC file without records, an empty text field or HTTP body)
``binary``             NUL bytes in the first 8 KB: not a text file
``not_utf8``           not UTF-8, and no other encoding could be detected; or a JSON record's text that
                       holds an unpaired surrogate (the escape ``\\ud800``)
``too_large``          over ``max_bytes``: a whole .txt/.md/.html file, one JSONL line, one JSON array
                       element's text, one WARC response body (a .json file may be up to 64 MiB)
``unreadable``         the operating system refused (permission denied, I/O error, a dangling symlink)
``bad_json``           a JSONL line or a .json file that is not valid JSON
``bad_record``         valid JSON that is not an object; a record whose ``id`` holds a number beyond a double
                       (``1e400``), whose ``title``, ``url`` or ``lang`` is not a string (nor null), or
                       whose ``lang`` is no language code, as ``thresher score --jsonl`` answers it; a WARC
                       response whose HTTP head is unreadable
``no_text``            a JSON record without a string ``text_field`` (nor an ``html`` field)
``bad_archive``        a truncated or corrupt .gz, WARC or Parquet file: the documents before the damage are
                       kept (in a Parquet file, the row groups before the damaged one)
``unsupported_format`` an extension this reader does not handle (images, PDFs, files without one)
``special_file``       a FIFO, socket or device (never opened: reading a FIFO would block)
``symlink_loop``       a symbolic link to a directory that contains it (or a chain of links to itself)
``already_scanned``    a directory already walked under another name
"""

from __future__ import annotations

import codecs
import errno
import gzip
import html as htmllib
import io
import json
import logging
import os
import re
import stat
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from service.charsets import text_codec
from service.scan import RawDocument
from service.schemas import LANG_PATTERN
from service.surrogates import (
    IdError,
    has_lone_surrogate,
    id_text,
    json_type,
    name_text,
    number_too_long,
    utf8_safe,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ERROR_CODES",
    "FileUnit",
    "ReadProblem",
    "ScanStats",
    "decode_text",
    "extract_html",
    "html_declared_charset",
    "iter_documents",
    "iter_units",
    "jsonl_lines_of",
    "read_unit",
    "record_context",
    "source_format",
    "visible_text",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
PARQUET_BATCH_ROWS = 64  # rows of a Parquet file turned into Python objects at a time
MAX_JSON_FILE_BYTES = 64 * 1024 * 1024  # a .json array holds many documents; bigger collections: use JSONL
NUL_WINDOW = 8192
MAX_HEADER_LINE = 64 * 1024  # one WARC header line
MAX_HEADER_LINES = 1000
HTTP_HEAD_MAX = 256 * 1024  # the HTTP status line and headers of one WARC response
CHUNK = 256 * 1024

ERROR_CODES = (
    "empty",
    "binary",
    "not_utf8",
    "too_large",
    "unreadable",
    "bad_json",
    "bad_record",
    "no_text",
    "bad_archive",
    "unsupported_format",
    "special_file",
    "symlink_loop",
    "already_scanned",
)

_EXTENSIONS = (  # compound ones first
    (".jsonl.gz", "jsonl"),
    (".ndjson.gz", "jsonl"),
    (".warc.gz", "warc"),
    (".wet.gz", "warc"),  # Common Crawl's extracted text (CC-MAIN-...warc.wet.gz): WARC conversion records
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
    (".warc", "warc"),
    (".wet", "warc"),
    (".parquet", "parquet"),
    (".json", "json"),
    (".txt", "txt"),
    (".md", "md"),
    (".html", "html"),
    (".htm", "html"),
)
SUPPORTED_EXTENSIONS = tuple(ext for ext, _ in _EXTENSIONS)

# Read errors of a compressed or archived stream: everything after them is lost.
_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


@dataclass
class ScanStats:
    """Counters filled while :func:`iter_documents` runs (pass one in to read them afterwards).

    ``skipped`` counts what is not a document and so yields no record at all: WARC records other than
    responses (``warc_record:request``, ``warc_record:warcinfo``, ...) and responses that are not HTML
    pages (``warc_response:non_html``, ``warc_response:http_status`` for non-2xx, ``warc_response:not_http``).
    """

    files: int = 0  # regular files opened
    documents: int = 0  # records yielded without an error
    errors: Counter[str] = field(default_factory=Counter)  # error records yielded, by code
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def records(self) -> int:
        return self.documents + sum(self.errors.values())


class _Problem(Exception):
    """A document that cannot be read, with an error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


ReadProblem = _Problem  # the public name, for callers of decode_text (thresher score)


def source_format(name: str) -> str | None:
    """The format of a file name (``txt``, ``md``, ``html``, ``json``, ``jsonl``, ``warc``), or None."""
    lower = name.lower()
    for ext, fmt in _EXTENSIONS:
        if lower.endswith(ext) and len(lower) > len(ext):
            return fmt
    return None


# --------------------------------------------------------------------------------------------- decoding

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that browsers (WHATWG) read as windows-1252, a superset of their printable characters.
_AS_CP1252 = {"iso8859-1", "ascii", "cp1252"}
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)


def _codec(label: str | None) -> str | None:
    """A Python codec name for a declared charset label, or None if unknown."""
    name = text_codec(label) if label else None
    return "cp1252" if name in _AS_CP1252 else name


def _detect(data: bytes) -> str | None:
    """charset-normalizer's guess. On short texts several single-byte encodings tie with no mess at all;
    then a Western one wins (the crawls here are mostly English and Western European news)."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    best = min(m.chaos for m in matches)
    tied = [m.encoding for m in matches if m.chaos <= best + 0.01]
    for enc in _WESTERN:
        if enc in tied:
            return "cp1252" if enc == "latin_1" else enc
    return str(matches[0].encoding)


def _utf16_without_bom(data: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" for text saved as UTF-16 without a byte-order mark (Windows tools do): mostly
    Latin text then has a NUL byte at every odd (LE) or even (BE) position and almost none at the others."""
    head = data[: NUL_WINDOW - NUL_WINDOW % 2]
    if len(head) < 8 or len(data) % 2:
        return None
    even, odd = head[0::2], head[1::2]
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd > 0.8 and zeros_even < 0.05:
        return "utf-16-le"
    if zeros_even > 0.8 and zeros_odd < 0.05:
        return "utf-16-be"
    return None


def decode_text(data: bytes, *, declared: str | None = None, check_binary: bool = True) -> tuple[str, str]:
    """Bytes to (text, encoding): a byte-order mark, else UTF-8, else the ``declared`` charset (an HTML
    meta tag or an HTTP header), else charset-normalizer's detection. Raises ``ReadProblem`` with code
    ``binary`` (NUL bytes in the first 8 KB) or ``not_utf8`` (nothing decodes it)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), "utf-8" if enc == "utf-8-sig" else enc
            except UnicodeDecodeError as exc:
                raise _Problem("not_utf8", f"starts with a {enc} byte-order mark but is not {enc}") from exc
    if check_binary and b"\x00" in data[:NUL_WINDOW]:
        wide = _utf16_without_bom(data)
        if wide is not None:
            try:
                return data.decode(wide), wide
            except UnicodeDecodeError:
                pass
        raise _Problem("binary", "looks binary (it contains NUL bytes); expected text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    for candidate in (_codec(declared), _detect(data)):
        if candidate:
            try:
                return data.decode(candidate), candidate
            except UnicodeError:  # UnicodeDecodeError, or a codec that fails without saying where
                continue
    raise _Problem(
        "not_utf8",
        f"not valid UTF-8 (byte {first_bad}) and no other encoding detected; re-encode it as UTF-8",
    )


def _encoding_meta(enc: str) -> dict[str, Any]:
    return {} if enc == "utf-8" else {"encoding": enc}


def _html_declared_charset(data: bytes) -> str | None:
    m = _META_CHARSET.search(data[:4096])
    return m.group(1).decode("ascii", "replace") if m else None


html_declared_charset = _html_declared_charset  # the public name: an HTML file's ``declared`` for decode_text


# The opening tag and the closing tag are searched apart, and runs are bounded: one pattern for the
# whole element, tried from every "<title" of a head that never closes it, took 3.5 s on 64 KB.
_TITLE_OPEN = re.compile(r"<title\b[^<>]{0,1000}>", re.I)
_TITLE_CLOSE = re.compile(r"</title\s*>", re.I)
_BODY = re.compile(r"<body\b", re.I)
_TAG = re.compile(r"<[^<>]*>")  # no "<" inside: a run of "<" is not a tag tried from each one to the end


def _clean_title(raw: str) -> str | None:
    title = " ".join(htmllib.unescape(_TAG.sub(" ", raw)).split())
    return title[:1000] or None


def _cheap_title(html: str) -> str | None:
    """The <title> of a page, found by regular expressions in its head (cheap, no parsing): the text
    from the first opening tag to the next closing tag, before <body>."""
    head = html[:65536]
    body = _BODY.search(head)
    end = body.start() if body else len(head)
    start = _TITLE_OPEN.search(head, 0, end)
    if start is None:
        return None
    close = _TITLE_CLOSE.search(head, start.end(), end)
    return _clean_title(head[start.end() : close.start()]) if close else None


# ----------------------------------------------------------------------------------------------- HTML

_DROP_XPATH = (
    "//script|//style|//noscript|//template|//head|//svg|//math|//iframe|//object|//embed|//canvas"
    "|//select|//*[@hidden]"
)
_BLOCK = frozenset(
    "address article aside blockquote body br caption dd details dialog div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr legend li main nav ol p pre section summary table tbody td "
    "tfoot th thead tr ul option button label".split()
)


_CONTROLS: dict[int, str | None] = {c: " " for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}
_CONTROLS[0] = None


def _normalise(text: str) -> str:
    """Collapse runs of blanks inside lines, drop blank lines, keep the line breaks."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _parse_html(html: str) -> Any:
    import lxml.html

    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        return lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except Exception:  # lxml raises ParserError on empty input, and can raise on odd bytes
        return None


def _tree_title(tree: Any) -> str | None:
    for xpath in ("//head//title", "//title", "//meta[@property='og:title']/@content"):
        for found in tree.xpath(xpath):
            text = found if isinstance(found, str) else found.text_content()
            title = _clean_title(text)
            if title:
                return title
    return None


def _visible_text(tree: Any) -> str:
    """All the text a reader sees on the page (menus, footers and all), one block per line. Modifies tree."""
    for element in tree.xpath(_DROP_XPATH):
        if element.getparent() is not None:
            element.drop_tree()
    for element in tree.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK:
            element.text = "\n" + (element.text or "")
            element.tail = "\n" + (element.tail or "")
    return _normalise(tree.text_content())


def visible_text(html: str) -> str:
    """The visible text of a page, one block element per line; "" if it cannot be parsed."""
    try:
        tree = _parse_html(html.translate(_CONTROLS))
        return _visible_text(tree) if tree is not None else ""
    except Exception:  # never raise on bad HTML
        log.debug("visible_text failed", exc_info=True)
        return ""


def extract_html(html: str, url: str | None = None) -> tuple[str, str | None, dict[str, Any]]:
    """The main text of a page (line breaks kept), its title (or None) and what was measured of it.

    The boilerplate is measured, not thrown away unseen: ``page_text_chars`` counts all the visible text
    (menus, footers, related links...), ``main_text_chars`` the article that trafilatura extracted,
    ``boilerplate_share`` = 1 - main / page (0..1). When trafilatura finds nothing, the main text is the
    page's whole visible text and ``fallback`` is True; when that is empty too, the text is "" (the
    caller reports the document as ``empty``). Never raises: bad HTML gives less text, not an exception.
    """
    info: dict[str, Any] = {"extractor": "trafilatura", "fallback": False}
    title: str | None = None
    page = ""
    parsed = False
    try:
        html = html.translate(_CONTROLS)  # lxml refuses text with C0 control characters
        tree = _parse_html(html)
        if tree is not None:
            title = _tree_title(tree)
            page = _visible_text(tree)
            parsed = True
        else:
            title = _cheap_title(html)
    except Exception as exc:
        log.debug("parsing the page failed", exc_info=True)
        info["parse_error"] = type(exc).__name__
    main = ""
    if page or not parsed:  # nothing visible: do not ask trafilatura (it logs errors about empty trees)
        try:
            import trafilatura

            main = _normalise(
                trafilatura.extract(
                    html,
                    url=url,
                    include_comments=False,
                    include_tables=True,
                    favor_recall=True,
                    with_metadata=False,
                    output_format="txt",
                    deduplicate=False,
                )
                or ""
            )
        except Exception as exc:
            log.debug("trafilatura failed on %s", url, exc_info=True)
            info["extractor_error"] = type(exc).__name__
    if not main:
        main = page
        info["fallback"] = True
    info["page_text_chars"] = len(page)
    info["main_text_chars"] = len(main)
    info["boilerplate_share"] = round(min(1.0, max(0.0, 1.0 - len(main) / len(page))), 4) if page else 0.0
    return main, title, info


# ------------------------------------------------------------------------------------------- file reading


def _open_regular(path: str) -> IO[bytes]:
    """Open a regular file for reading without ever blocking (a FIFO swapped in after the walk looked at
    it opens at once with O_NONBLOCK, and is refused)."""
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    )
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Problem("special_file", "not a regular file (a FIFO, socket or device); not read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _oserror(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _read_line(handle: IO[bytes], limit: int) -> tuple[bytes, bool]:
    """One line of at most ``limit`` bytes (plus its newline): (line, too_long); (b"", False) at the end.
    An over-long line is skipped in chunks, never held in memory."""
    line = handle.readline(limit + 1)
    if len(line) <= limit or line.endswith(b"\n"):
        return line, False
    while True:
        rest = handle.readline(CHUNK)
        if not rest or rest.endswith(b"\n"):
            return b"", True


def _head(handle: IO[bytes]) -> bytes:
    """The first ``NUL_WINDOW`` bytes of a stream, then rewound to its start. Of a damaged stream (a truncated
    .gz), the bytes before the damage: read a chunk at a time (``read1``), a failing read loses only its own
    chunk, and the reading that follows stops at the damage, after the documents before it."""
    data = b""
    try:
        while len(data) < NUL_WINDOW:
            more = handle.read1(NUL_WINDOW - len(data))  # type: ignore[attr-defined]
            if not more:
                break
            data += more
    except _STREAM_ERRORS:
        pass
    handle.seek(0)
    return data


def _wide_encoding(start: bytes) -> str | None:
    """"utf-16" or "utf-32" (by a byte-order mark), "utf-16-le" or "utf-16-be" (by the NUL bytes of text saved
    without one), or None: how a stream that starts with ``start`` is written when it is Unicode text of wide
    characters, which holds NUL bytes and has no line to read as bytes."""
    for bom, enc in _BOMS:  # UTF-32 LE's mark starts as UTF-16 LE's: the list checks it first
        if enc in ("utf-16", "utf-32") and start.startswith(bom):
            return enc
    return _utf16_without_bom(start)


class _Utf8Lines:
    """The lines of a UTF-16 or UTF-32 stream, as UTF-8 bytes: what the JSONL reader reads. A line ends at
    "\n" only (a JSON string may hold U+2028); ``limit`` counts characters; a byte that is not of the encoding
    reads as U+FFFD."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self.text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="\n")  # type: ignore[arg-type]

    def readline(self, limit: int = -1) -> bytes:
        return self.text.readline(limit).encode("utf-8", "surrogatepass")


def jsonl_lines_of(handle: IO[bytes], start: bytes) -> tuple[Any, str | None]:
    """What to read a JSONL stream's lines from, and its wide encoding: the stream itself (None), or, when its
    first bytes ``start`` say UTF-16 or UTF-32 (Windows tools save JSONL so), its lines as UTF-8. One rule for
    the scan and ``thresher score --jsonl``."""
    wide = _wide_encoding(start)
    return (_Utf8Lines(handle, wide) if wide else handle), wide


def _open_maybe_gzip(raw: IO[bytes]) -> IO[bytes]:
    """The stream itself, or its decompressed view when it starts with the gzip magic number."""
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


# ----------------------------------------------------------------------------------------------- WARC


@dataclass
class _WarcRecord:
    headers: dict[str, str]  # WARC headers, names lower-cased
    length: int
    http_status: int | None = None
    http_headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # the raw HTTP body (still chunked/compressed), only for HTML responses;
    # for a conversion record (a WET file's extracted text), its whole content
    conversion: bool = False
    skip: str | None = None  # why this record is not a document (a ScanStats.skipped key)
    problem: _Problem | None = None  # a response that is a page but cannot be used


class _Corrupt(Exception):
    """The WARC stream is damaged here: nothing after this point can be trusted."""


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) < n:
        raise _Corrupt(f"the file ends inside a record ({len(data)} of {n} bytes)")
    return data


def _skip(stream: IO[bytes], n: int) -> None:
    while n > 0:
        got = len(stream.read(min(n, CHUNK)))
        if got == 0:
            raise _Corrupt("the file ends inside a record")
        n -= got


def _parse_http_head(head: bytes) -> tuple[int, dict[str, str], int] | None:
    """(status, headers, length of the head) of an HTTP response, or None if it is not one."""
    end = head.find(b"\r\n\r\n")
    sep = 4
    alt = head.find(b"\n\n")
    if alt != -1 and (end == -1 or alt < end):
        end, sep = alt, 2
    if end == -1:
        return None
    lines = head[:end].decode("latin-1").splitlines()
    if not lines:
        return None
    status_line = lines[0].split(None, 2)
    if len(status_line) < 2 or not status_line[0].upper().startswith("HTTP/") or not status_line[1].isdigit():
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return int(status_line[1]), headers, end + sep


def _looks_html(body: bytes) -> bool:
    start = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head"))


def _dechunk(data: bytes) -> bytes:
    """Undo HTTP chunked transfer encoding; raises ValueError if the data is not chunked."""
    out = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol == -1:
            raise ValueError("no chunk size")
        size = int(data[pos:eol].split(b";")[0].strip() or b"x", 16)
        if size == 0:
            return bytes(out)
        start = eol + 2
        if start + size > len(data):
            raise ValueError("short chunk")
        out += data[start : start + size]
        pos = start + size + 2


def _http_body(rec: _WarcRecord, limit: int) -> bytes:
    """The HTTP body as the server meant it: de-chunked and decompressed. Both are lenient: crawlers often
    store bodies already decoded while keeping the headers, so a body that does not decode stays as is."""
    body = rec.body or b""
    if "chunked" in rec.http_headers.get("transfer-encoding", "").lower():
        try:
            body = _dechunk(body)
        except ValueError:
            pass
    encoding = rec.http_headers.get("content-encoding", "").lower().strip()
    if encoding in ("gzip", "x-gzip", "deflate"):
        for wbits in (47, -15):  # gzip or zlib (auto), then raw deflate
            try:
                d = zlib.decompressobj(wbits)
                decoded = d.decompress(body, limit + 1)
                body = decoded
                break
            except zlib.error:
                continue
    elif encoding and encoding != "identity":
        raise _Problem("unsupported_format", f"HTTP body uses content-encoding {encoding!r}, not supported")
    if len(body) > limit:
        raise _Problem(
            "too_large", f"HTTP body has more than {limit} bytes; the limit is {limit} (--max-bytes)"
        )
    return body


def _read_warc_record(stream: IO[bytes], limit: int) -> _WarcRecord | None:
    """The next record of a WARC stream (None at its clean end). Only HTML responses keep their body."""
    while True:
        line = stream.readline(MAX_HEADER_LINE)
        if not line:
            return None
        if line.strip():
            break
    if not line.startswith(b"WARC/"):
        raise _Corrupt(f"expected a WARC record ('WARC/1.x'), found {line[:40]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = stream.readline(MAX_HEADER_LINE)
        if not line:
            raise _Corrupt("the file ends inside a record's headers")
        if not line.strip():
            break
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon:
            raise _Corrupt(f"bad WARC header line {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    else:
        raise _Corrupt("too many WARC header lines")
    try:
        length = int(headers["content-length"])
        if length < 0:
            raise ValueError(length)
    except (KeyError, ValueError) as exc:
        raise _Corrupt("a WARC record without a valid Content-Length") from exc
    rec = _WarcRecord(headers=headers, length=length)
    rtype = headers.get("warc-type", "").lower()
    if rtype == "conversion":  # text a crawler extracted from a page: Common Crawl's WET files hold only these
        rec.conversion = True
        if not headers.get("content-type", "text/plain").lower().lstrip().startswith("text/"):
            rec.skip = "warc_conversion:non_text"
        elif length > limit:
            rec.problem = _Problem("too_large", f"the converted text has {length} bytes; the limit is {limit}")
        if rec.skip or rec.problem:
            _skip(stream, length)
        else:
            rec.body = _read_exact(stream, length)
        return rec
    if rtype != "response":
        rec.skip = f"warc_record:{rtype or 'untyped'}"
        _skip(stream, length)
        return rec
    if "application/http" not in headers.get("content-type", "application/http").lower():
        rec.skip = "warc_response:not_http"  # dns: records and the like
        _skip(stream, length)
        return rec
    head = _read_exact(stream, min(length, HTTP_HEAD_MAX))
    parsed = _parse_http_head(head)
    if parsed is None:
        rec.problem = _Problem(
            "bad_record", "a WARC response whose HTTP status line and headers cannot be read"
        )
        _skip(stream, length - len(head))
        return rec
    rec.http_status, rec.http_headers, head_len = parsed
    body_start = head[head_len:]
    ctype = rec.http_headers.get("content-type")
    if not 200 <= rec.http_status < 300:
        rec.skip = "warc_response:http_status"
    elif not ("html" in ctype.lower() if ctype else _looks_html(body_start)):
        rec.skip = "warc_response:non_html"
    elif length - head_len > limit + 64 * 1024:  # room for chunk sizes
        rec.problem = _Problem("too_large", f"HTTP body has {length - head_len} bytes; the limit is {limit}")
    if rec.skip or rec.problem:
        _skip(stream, length - len(head))
        return rec
    rec.body = body_start + _read_exact(stream, length - len(head))
    return rec


# ------------------------------------------------------------------------------------------------ walk


def _key_part(name: str) -> str:
    # ":" then only in a root's "N:" prefix, and a backslash only in the \xNN of a byte that is not UTF-8: a file
    # named "caf\xe9.txt" and one named with the byte 0xE9 are two documents, not one key
    name = name.replace("%", "%25").replace("#", "%23").replace(":", "%3A").replace("\\", "%5C")
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_display = name_text  # a path as shown in records and messages


@dataclass(frozen=True)
class FileUnit:
    """A regular file the walk found, to be read by :func:`read_unit` (in another process, or on another
    machine that sees the same path): the unit of work of a scan."""

    path: str
    key: str
    unit: int  # its running index in the walk: the first part of its documents' ``order``
    fmt: str
    size: int
    mtime_ns: int = 0


class _Scan:
    def __init__(self, *, text_field: str, max_bytes: int, stats: ScanStats) -> None:
        self.text_field = text_field
        self.max_bytes = max_bytes
        self.stats = stats
        self.visited: dict[tuple[int, int], str] = {}  # real directories walked so far -> the path walked
        self.root_files: dict[tuple[int, int], str] = {}  # files given as roots -> the path given
        # Files met while walking folders, remembered only when some root is a file (it may be one of them)
        self.track_files = False
        self.walked_files: dict[tuple[int, int], str] = {}
        self.unit = -1

    # --- records

    def _next_unit(self) -> int:
        self.unit += 1
        return self.unit

    def doc(self, **kwargs: Any) -> RawDocument:
        self.stats.documents += 1
        return RawDocument(**kwargs)

    def error(
        self,
        key: str,
        order: tuple[int, int],
        path: str,
        code: str,
        message: str,
        *,
        fmt: str = "unknown",
        doc_id: str | None = None,
        url: str | None = None,
    ) -> RawDocument:
        self.stats.errors[code] += 1
        return RawDocument(
            key=key, order=order, id=doc_id or path, path=path, source_format=fmt, error=(code, message), url=url
        )

    def entry_error(self, key: str, path: str, code: str, message: str) -> RawDocument:
        return self.error(key, (self._next_unit(), 0), path, code, message)

    # --- walking

    def roots(self, paths: Sequence[Path | str]) -> Iterator[RawDocument | FileUnit]:
        """Walk every root in turn; keys start with ``N:`` (the root's index) when there are several."""
        self.track_files = any(not Path(p).is_dir() for p in paths)  # a root file may be met in a walk
        several = len(paths) > 1
        for index, root in enumerate(paths):
            yield from self.root(index, Path(root), f"{index}:" if several else "")

    def root(self, index: int, root: Path, prefix: str) -> Iterator[RawDocument | FileUnit]:
        path = os.fspath(root)
        name = _key_part(root.name or path)
        try:
            st = os.stat(path)
        except OSError as exc:
            yield self.stat_error(prefix + name, path, exc)
            return
        if stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in self.visited:
                yield self.entry_error(
                    prefix + ".",
                    _display(path),
                    "already_scanned",
                    f"the same directory as {_display(self.visited[ident])}, already scanned; not scanned twice",
                )
                return
            self.visited[ident] = path
            yield from self.walk(path, prefix, ident)
        else:
            ident = (st.st_dev, st.st_ino)
            earlier = self.root_files.get(ident) or self.walked_files.get(ident)
            if earlier is not None:
                yield self.entry_error(prefix + name, _display(path), "already_scanned",
                                       f"the same file as {_display(earlier)}, already scanned; not scanned twice")
                return
            self.root_files[ident] = path
            yield from self.entry(path, prefix + name, st, root=True)

    def stat_error(self, key: str, path: str, exc: OSError) -> RawDocument:
        shown = _display(path)
        if exc.errno == errno.ELOOP:
            return self.entry_error(key, shown, "symlink_loop", "a symbolic link that leads back to itself")
        if isinstance(exc, FileNotFoundError) and os.path.islink(path):
            try:
                target = _display(os.readlink(path))
            except OSError:
                target = "?"
            return self.entry_error(
                key, shown, "unreadable", f"dangling symbolic link (to {target}, which does not exist)"
            )
        return self.entry_error(key, shown, "unreadable", f"cannot read {shown}: {_oserror(exc)}")

    def walk(self, top: str, prefix: str, top_ident: tuple[int, int]) -> Iterator[RawDocument | FileUnit]:
        # An explicit stack (depth-first, entries sorted by name): deep trees do not hit the recursion limit.
        stack: list[tuple[Iterator[os.DirEntry[str]], str, frozenset[tuple[int, int]]]] = []

        def enter(path: str, rel: str, ancestors: frozenset[tuple[int, int]]) -> RawDocument | None:
            try:
                with os.scandir(path) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                return self.entry_error(
                    prefix + (rel or "."),
                    _display(path),
                    "unreadable",
                    f"cannot list directory {_display(path)}: {_oserror(exc)}",
                )
            stack.append((iter(entries), rel, ancestors))
            return None

        failed = enter(top, "", frozenset({top_ident}))
        if failed:
            yield failed
        while stack:
            entries, rel, ancestors = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            child_rel = f"{rel}/{_key_part(entry.name)}" if rel else _key_part(entry.name)
            key = prefix + child_rel
            try:
                st = os.stat(entry.path)  # follows symbolic links
            except OSError as exc:
                yield self.stat_error(key, entry.path, exc)
                continue
            if not stat.S_ISDIR(st.st_mode):
                yield from self.entry(entry.path, key, st)
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                target = _display(os.path.realpath(entry.path))
                yield self.entry_error(
                    key,
                    _display(entry.path),
                    "symlink_loop",
                    f"a symbolic link to {target}, a directory that contains it; not followed",
                )
            elif ident in self.visited:
                yield self.entry_error(
                    key,
                    _display(entry.path),
                    "already_scanned",
                    f"the same directory as {_display(self.visited[ident])}, already scanned; not scanned twice",
                )
            else:
                self.visited[ident] = entry.path
                failed = enter(entry.path, child_rel, ancestors | {ident})
                if failed:
                    yield failed

    def entry(self, path: str, key: str, st: os.stat_result, *, root: bool = False) -> Iterator[RawDocument | FileUnit]:
        shown = _display(path)
        if not root:
            if self.root_files:
                earlier = self.root_files.get((st.st_dev, st.st_ino))
                if earlier is not None:  # given as a root before its folder: scanned there already
                    yield self.entry_error(key, shown, "already_scanned",
                                           f"the same file as {_display(earlier)}, already scanned; not scanned twice")
                    return
            if self.track_files:
                self.walked_files.setdefault((st.st_dev, st.st_ino), path)
        if not stat.S_ISREG(st.st_mode):
            yield self.entry_error(
                key, shown, "special_file", "a FIFO, socket or device, not a regular file; not read"
            )
            return
        fmt = source_format(os.path.basename(path))
        if fmt is None:
            yield self.entry_error(
                key,
                shown,
                "unsupported_format",
                "unsupported file type; readable: " + " ".join(SUPPORTED_EXTENSIONS),
            )
            return
        yield FileUnit(path=path, key=key, unit=self._next_unit(), fmt=fmt, size=st.st_size, mtime_ns=st.st_mtime_ns)

    def read(self, unit: FileUnit) -> Iterator[RawDocument]:
        """The documents of one file the walk found (its error record if it cannot be read), each with the
        file's stamp (its size and modification time when the walk found it)."""
        stamp = (unit.size, unit.mtime_ns)
        for doc in self._read(unit):
            yield replace(doc, stamp=stamp)

    def _read(self, unit: FileUnit) -> Iterator[RawDocument]:
        path, key, fmt = unit.path, unit.key, unit.fmt
        shown = _display(path)
        unit_no = unit.unit
        try:
            handle = _open_regular(path)
        except _Problem as exc:
            yield self.error(key, (unit_no, 0), shown, exc.code, str(exc), fmt=fmt)
            return
        except OSError as exc:
            yield self.error(
                key, (unit_no, 0), shown, "unreadable", f"cannot read {shown}: {_oserror(exc)}", fmt=fmt
            )
            return
        self.stats.files += 1
        with handle:
            if fmt == "jsonl":
                yield from self.jsonl(handle, shown, key, unit_no)
            elif fmt == "warc":
                yield from self.warc(handle, shown, key, unit_no)
            elif fmt == "parquet":
                yield from self.parquet(handle, shown, key, unit_no)
            else:
                yield from self.whole_file(handle, shown, key, unit_no, fmt, unit.size)

    # --- formats

    def whole_file(
        self, handle: IO[bytes], path: str, key: str, unit: int, fmt: str, size: int
    ) -> Iterator[RawDocument]:
        order = (unit, 0)
        limit = max(self.max_bytes, MAX_JSON_FILE_BYTES) if fmt == "json" else self.max_bytes
        try:
            if size > limit:
                raise _Problem(
                    "too_large",
                    f"{size} bytes; the limit is {limit}" + (" (--max-bytes)" if fmt != "json" else ""),
                )
            try:
                data = handle.read(limit + 1)
            except OSError as exc:
                raise _Problem("unreadable", f"cannot read {path}: {_oserror(exc)}") from exc
            if len(data) > limit:
                raise _Problem("too_large", f"more than {limit} bytes; the limit is {limit}")
            if not data.strip():
                raise _Problem("empty", "the file is empty" if not data else "the file is blank")
            declared = _html_declared_charset(data) if fmt == "html" else None
            text, enc = decode_text(data, declared=declared)
            if not text.strip():
                raise _Problem("empty", "the file is blank")
        except _Problem as exc:
            yield self.error(key, order, path, exc.code, str(exc), fmt=fmt)
            return
        meta = _encoding_meta(enc)
        if fmt == "html":
            yield self.doc(
                key=key,
                order=order,
                id=path,
                path=path,
                source_format=fmt,
                html=text,
                title=_cheap_title(text),
                meta=meta,
            )
        elif fmt == "json":
            yield from self.json_file(text, path, key, unit, meta)
        else:
            yield self.doc(key=key, order=order, id=path, path=path, source_format=fmt, text=text, meta=meta)

    def json_file(
        self, text: str, path: str, key: str, unit: int, meta: dict[str, Any]
    ) -> Iterator[RawDocument]:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            yield self.error(
                key, (unit, 0), path, "bad_json", f"not valid JSON: {exc}", fmt="json"
            )
            return
        if isinstance(value, dict):
            yield self.record(
                value, key=key, order=(unit, 0), path=path, default_id=path, fmt="json", meta=meta
            )
            return
        if not isinstance(value, list):
            yield self.error(
                key,
                (unit, 0),
                path,
                "bad_record",
                f"a JSON {json_type(value)}, not an object or an array of objects",
                fmt="json",
            )
            return
        if not value:
            yield self.error(key, (unit, 0), path, "empty", "an empty JSON array", fmt="json")
            return
        for n, item in enumerate(value, start=1):
            yield self.record(
                item,
                key=f"{key}#{n}",
                order=(unit, n),
                path=path,
                default_id=f"{path}:{n}",
                fmt="json",
                meta=meta,
                where=f"element {n}",
            )

    def record(
        self,
        row: Any,
        *,
        key: str,
        order: tuple[int, int],
        path: str,
        default_id: str,
        fmt: str,
        meta: dict[str, Any],
        where: str = "the record",
    ) -> RawDocument:
        """One JSON value as a document: text from ``text_field``, else HTML from ``html``."""
        if not isinstance(row, dict):
            return self.error(
                key,
                order,
                path,
                "bad_record",
                f"{where} is a JSON {json_type(row)}, not an object",
                fmt=fmt,
                doc_id=default_id,
            )
        url = utf8_safe(row["url"]) if isinstance(row.get("url"), str) else None
        try:
            rid = _record_id(row, default_id)
        except IdError as exc:
            return self.error(key, order, path, "bad_record", f"{where}: {exc}", fmt=fmt, doc_id=default_id, url=url)
        value, _, is_html = record_text(row, self.text_field)
        if not isinstance(value, str):
            return self.error(
                key,
                order,
                path,
                "no_text",
                f"{where} has no string field '{self.text_field}' (nor 'html')",
                fmt=fmt,
                doc_id=rid,
                url=url,
            )
        if len(value) > self.max_bytes or (
            len(value) * 4 > self.max_bytes and len(value.encode("utf-8", "replace")) > self.max_bytes
        ):
            return self.error(
                key,
                order,
                path,
                "too_large",
                f"its text is over {self.max_bytes} bytes (--max-bytes)",
                fmt=fmt,
                doc_id=rid,
                url=url,
            )
        if not value.strip():
            return self.error(
                key, order, path, "empty", f"{where} has an empty '{self.text_field}'", fmt=fmt, doc_id=rid, url=url
            )
        if has_lone_surrogate(value):  # JSON's "\ud800" escape: not text, and it cannot be written out
            return self.error(
                key, order, path, "not_utf8",
                f"{where}'s '{self.text_field}' holds an unpaired surrogate (\\ud800-\\udfff): not valid Unicode",
                fmt=fmt, doc_id=rid,
                url=url,
            )
        try:
            title, _, lang = record_context(row)
        except _Problem as problem:
            return self.error(key, order, path, problem.code, f"{where}: {problem}", fmt=fmt, doc_id=rid, url=url)
        if is_html:
            return self.doc(
                key=key,
                order=order,
                id=rid,
                path=path,
                source_format=fmt,
                html=value,
                url=url,
                title=title or _cheap_title(value),
                lang=lang,
                meta=dict(meta),
            )
        return self.doc(
            key=key,
            order=order,
            id=rid,
            path=path,
            source_format=fmt,
            text=value,
            url=url,
            title=title,
            lang=lang,
            meta=dict(meta),
        )

    def jsonl(self, raw: IO[bytes], path: str, key: str, unit: int) -> Iterator[RawDocument]:
        lineno = 0
        produced = False
        try:
            handle = _open_maybe_gzip(raw)
            start = _head(handle)
        except _STREAM_ERRORS as exc:
            yield self.archive_error(key, unit, 1, path, exc, "jsonl", raw)
            return
        lines, wide = jsonl_lines_of(handle, start)  # JSONL saved as UTF-16 (Windows tools do): read as UTF-8
        if b"\x00" in start and not wide:
            yield self.error(
                key,
                (unit, 0),
                path,
                "binary",
                "looks binary (it contains NUL bytes); expected JSONL",
                fmt="jsonl",
            )
            return
        while True:
            try:
                line, too_long = _read_line(lines, self.max_bytes)
            except _STREAM_ERRORS as exc:
                yield self.archive_error(key, unit, lineno + 1, path, exc, "jsonl", handle)
                return
            if not line and not too_long:
                break
            lineno += 1
            if not too_long and not line.strip():
                continue
            produced = True
            yield self.jsonl_line(line, too_long, path, f"{key}#{lineno}", (unit, lineno), lineno, wide)
        if not produced:
            yield self.error(
                key, (unit, 0), path, "empty", "no records (the file is empty or blank)", fmt="jsonl"
            )

    def archive_error(
        self, key: str, unit: int, n: int, path: str, exc: BaseException, fmt: str, handle: IO[bytes]
    ) -> RawDocument:
        """The error record for the rest of a file that broke at record (or line) ``n``."""
        damaged = isinstance(exc, _Corrupt | EOFError | zlib.error | gzip.BadGzipFile) or isinstance(
            handle, gzip.GzipFile
        )
        if damaged or not isinstance(exc, OSError):
            reason = str(exc) or type(exc).__name__
            return self.error(
                f"{key}#{n}",
                (unit, n),
                path,
                "bad_archive",
                f"truncated or corrupt from record {n} on ({reason}); the records before it were read",
                fmt=fmt,
                doc_id=f"{path}:{n}",
            )
        return self.error(
            f"{key}#{n}",
            (unit, n),
            path,
            "unreadable",
            f"read error from record {n} on: {_oserror(exc)}",
            fmt=fmt,
            doc_id=f"{path}:{n}",
        )

    def jsonl_line(
        self, line: bytes, too_long: bool, path: str, key: str, order: tuple[int, int], lineno: int,
        encoding: str | None = None,
    ) -> RawDocument:
        """One line of a JSONL file; ``encoding``: the file's, when it is not the line's own (a UTF-16 file's
        lines come as UTF-8)."""
        rid = f"{path}:{lineno}"
        where = f"line {lineno}"
        if too_long:
            return self.error(
                key,
                order,
                path,
                "too_large",
                f"{where} is over {self.max_bytes} bytes (--max-bytes)",
                fmt="jsonl",
                doc_id=rid,
            )
        try:
            text, enc = decode_text(line, check_binary=False)
        except _Problem as exc:
            return self.error(key, order, path, exc.code, f"{where}: {exc}", fmt="jsonl", doc_id=rid)
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            return self.error(
                key, order, path, "bad_json", f"{where} is not valid JSON: {exc.msg} (column {exc.colno})", fmt="jsonl",
                doc_id=rid
            )
        except RecursionError as exc:
            return self.error(
                key, order, path, "bad_json", f"{where} is not valid JSON: {exc}", fmt="jsonl", doc_id=rid
            )
        except ValueError as exc:  # an integer over Python's 4,300 digits
            return self.error(
                key, order, path, "bad_json", f"{where} cannot be read as JSON: {number_too_long(exc)}", fmt="jsonl",
                doc_id=rid
            )
        return self.record(
            row,
            key=key,
            order=order,
            path=path,
            default_id=rid,
            fmt="jsonl",
            meta=_encoding_meta(encoding or enc),
            where=where,
        )

    def warc(self, raw: IO[bytes], path: str, key: str, unit: int) -> Iterator[RawDocument]:
        n = 0
        handle = raw
        try:
            handle = _open_maybe_gzip(raw)
        except _STREAM_ERRORS as exc:
            yield self.archive_error(key, unit, 1, path, exc, "warc", raw)
            return
        while True:
            try:
                rec = _read_warc_record(handle, self.max_bytes)
            except (_Corrupt, *_STREAM_ERRORS) as exc:
                yield self.archive_error(key, unit, n + 1, path, exc, "warc", handle)
                return
            if rec is None:
                break
            n += 1
            if rec.skip:
                self.stats.skipped[rec.skip] += 1
                continue
            yield self.warc_doc(rec, path, f"{key}#{n}", (unit, n), n)
        if n == 0:
            yield self.error(key, (unit, 0), path, "empty", "no WARC records (the file is empty)", fmt="warc")

    def parquet(self, raw: IO[bytes], path: str, key: str, unit: int) -> Iterator[RawDocument]:
        """One document per row of a Parquet file (a dataset's shard, as FineWeb and many others ship): the
        text from the ``text_field`` column (else ``html``), the id from ``id`` (else path:row), ``url`` and
        ``title`` and ``lang`` when there are such columns. Read a few rows at a time; other columns are never read."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if os.fstat(raw.fileno()).st_size == 0:  # a shard its writer never got to: empty, as any other empty file
            yield self.error(key, (unit, 0), path, "empty", "the file is empty", fmt="parquet")
            return
        try:
            pf = pq.ParquetFile(raw)
            names = set(pf.schema_arrow.names)
            rows = pf.metadata.num_rows
        except (pa.ArrowException, OSError, ValueError) as exc:
            yield self.error(key, (unit, 0), path, "bad_archive", f"not a readable Parquet file: {exc}",
                             fmt="parquet")
            return
        if rows == 0:
            yield self.error(key, (unit, 0), path, "empty", "no rows (the Parquet file is empty)", fmt="parquet")
            return
        if self.text_field not in names and "html" not in names:  # one record for the file, not one per row
            shown_cols = ", ".join(sorted(names)[:20]) + (", ..." if len(names) > 20 else "")
            yield self.error(key, (unit, 0), path, "no_text",
                             f"no column '{self.text_field}' (nor 'html') in its {rows} rows; its columns: {shown_cols}"
                             " (--text-field names the text column)", fmt="parquet")
            return
        columns = [c for c in dict.fromkeys((self.text_field, "html", "id", "url", "title", "lang")) if c in names]
        types = {c: str(pf.schema_arrow.field(c).type) for c in columns}
        n = 0
        for group in range(pf.num_row_groups):  # damage in one loses the rows from its start on, not the groups before
            batches = pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group], columns=columns)
            while True:
                try:
                    batch = next(batches, None)
                except (pa.ArrowException, OSError, ValueError) as exc:
                    at = n + 1  # the first row not read
                    yield self.error(f"{key}#{at}", (unit, at), path, "bad_archive",
                                     f"truncated or corrupt from row {at} on ({exc}); the rows before it were read",
                                     fmt="parquet", doc_id=f"{path}:{at}")
                    return
                if batch is None:
                    break
                # a few rows in Python at a time; html only for the rows whose text is not a string
                values = {name: _python_values(batch.column(name)) for name in columns if name != "html"}
                texts = values.get(self.text_field)
                if "html" in columns and (texts is None or not all(isinstance(t, str) for t in texts)):
                    values["html"] = _python_values(batch.column("html"))
                for i in range(batch.num_rows):
                    n += 1
                    yield self.parquet_row({name: v[i] for name, v in values.items()}, path, key, unit, n, types)

    def parquet_row(self, row: dict[str, Any], path: str, key: str, unit: int, n: int,
                    types: dict[str, str]) -> RawDocument:
        """One row as a JSON record is read (:meth:`record`); ``types``: the Arrow type of each column read."""
        rid = row.get("id")
        if rid is not None and not isinstance(rid, str | int | float | bool):
            row["id"] = str(rid)  # a timestamp, bytes, a decimal: its text
        for name in ("title", "url", "lang"):  # as a JSON record's, named by their Parquet type
            if row.get(name) is not None and not isinstance(row[name], str):
                url = row.get("url")
                return self.error(f"{key}#{n}", (unit, n), path, "bad_record",
                                  f"row {n}: '{name}' must be a string or null, not a Parquet {types[name]}",
                                  fmt="parquet", doc_id=_record_id(row, f"{path}:{n}", strict=False),
                                  url=utf8_safe(url) if isinstance(url, str) else None)
        field = self.text_field if isinstance(row.get(self.text_field), str | bytes) else "html"
        if isinstance(row.get(field), bytes):  # a binary column: decoded as a file's bytes are (only the one used)
            try:
                row[field] = decode_text(row[field])[0]
            except _Problem as problem:
                return self.error(f"{key}#{n}", (unit, n), path, problem.code, f"row {n}: {problem}",
                                  fmt="parquet", doc_id=_record_id(row, f"{path}:{n}", strict=False))
        return self.record(row, key=f"{key}#{n}", order=(unit, n), path=path, default_id=f"{path}:{n}",
                           fmt="parquet", meta={}, where=f"row {n}")

    def warc_doc(self, rec: _WarcRecord, path: str, key: str, order: tuple[int, int], n: int) -> RawDocument:
        uri = rec.headers.get("warc-target-uri", "").strip("<> ") or None
        rid = uri or f"{path}:{n}"
        what = "converted text" if rec.conversion else "HTTP response"
        try:
            if rec.problem:
                raise rec.problem
            # a conversion's type is in its WARC headers; a response's in its HTTP headers, or its page's meta tag
            body = (rec.body or b"") if rec.conversion else _http_body(rec, self.max_bytes)
            ctype = (rec.headers if rec.conversion else rec.http_headers).get("content-type", "")
            m = _CT_CHARSET.search(ctype)
            declared = m.group(1) if m else (None if rec.conversion else _html_declared_charset(body))
            if not body.strip():
                raise _Problem("empty", f"the {what} is empty")
            text, enc = decode_text(body, declared=declared)
            if not text.strip():
                raise _Problem("empty", f"the {what} is blank")
        except _Problem as exc:
            return self.error(key, order, path, exc.code, f"WARC record {n}: {exc}", fmt="warc", doc_id=rid, url=uri)
        meta = _encoding_meta(enc)
        if rec.conversion:
            meta["warc_type"] = "conversion"
        else:
            meta["http_status"] = rec.http_status
        for name in ("warc-date", "warc-record-id", "warc-refers-to", "warc-identified-content-language"):
            if name in rec.headers:
                meta[name.replace("-", "_")] = rec.headers[name]
        if rec.conversion and "html" not in ctype.lower():
            return self.doc(key=key, order=order, id=rid, path=path, source_format="warc", text=text, url=uri,
                            meta=meta)
        return self.doc(
            key=key,
            order=order,
            id=rid,
            path=path,
            source_format="warc",
            html=text,
            url=uri,
            title=_cheap_title(text),
            meta=meta,
        )


def _record_id(row: dict[str, Any], default: str, *, strict: bool = True) -> str:
    """A record's id: its ``id`` as text (:func:`service.surrogates.id_text`), else ``default`` (path:N).
    :class:`IdError` for an id that has no JSON text (1e400), or, not ``strict`` (the id of an error record
    for another reason), ``default``."""
    if row.get("id") in (None, ""):
        return default
    try:
        return id_text(row["id"])
    except IdError:
        if strict:
            raise
        return default


def _python_values(column: Any) -> list[Any]:
    """A Parquet column's values as Python objects; a value Python cannot hold (a timestamp out of
    datetime's range, say) as Arrow's text of it, or None: one odd value costs its row's field, not the file."""
    try:
        return list(column.to_pylist())
    except Exception:  # OverflowError, ValueError ...: value by value
        out: list[Any] = []
        for scalar in column:
            try:
                out.append(scalar.as_py())
            except Exception:
                try:
                    out.append(str(scalar))
                except Exception:
                    out.append(None)
        return out


def record_context(row: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A JSON record's ``title``, ``url`` and ``lang``, read as ``POST /v1/score`` reads them, one rule for the
    scan and ``thresher score --jsonl`` (so the same record gets the same score and the same errors): strings or
    null; ``lang`` an ISO 639 code (:data:`service.schemas.LANG_PATTERN`). :class:`ReadProblem` ``bad_record``
    for another type or a malformed ``lang``, ``not_utf8`` for an unpaired surrogate."""
    out: list[str | None] = []
    for name in ("title", "url", "lang"):
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            raise _Problem("bad_record", f"'{name}' must be a string or null, not a JSON {json_type(value)}")
        if isinstance(value, str) and has_lone_surrogate(value):
            raise _Problem("not_utf8", f"'{name}' holds an unpaired surrogate (\\ud800-\\udfff): not valid Unicode")
        out.append(value)
    if out[2] is not None and not re.fullmatch(LANG_PATTERN, out[2]):
        raise _Problem("bad_record", f"'lang' must be a language code such as 'en' or 'pt-BR', got {out[2]!r}")
    return out[0], out[1], out[2]


def record_text(row: dict[str, Any], text_field: str) -> tuple[Any, str, bool]:
    """A JSON record's document, as the scan and ``thresher score --jsonl`` read it: its ``text_field``, or
    its page in ``html`` when that field holds no string (a crawl record); as (the value, the field it came
    from, whether it is HTML). The value is whatever the record holds: the caller checks it is a string."""
    value = row.get(text_field)
    if not isinstance(value, str) and isinstance(row.get("html"), str):
        return row["html"], "html", True
    return value, text_field, text_field == "html"


def iter_units(
    paths: list[Path], *, stats: ScanStats | None = None
) -> Iterator[RawDocument | FileUnit]:
    """Walk ``paths`` as :func:`iter_documents` does, without opening a file: a :class:`FileUnit` for every
    file to read, and the error records of the walk itself (unreadable, special files, unsupported
    formats, symbolic link loops, directories already scanned), in walk order. ``read_unit`` each unit, in
    any process, and the documents are those of :func:`iter_documents`, with the same keys and orders."""
    scan = _Scan(text_field="text", max_bytes=DEFAULT_MAX_BYTES, stats=stats if stats is not None else ScanStats())
    yield from scan.roots(paths)


def read_unit(
    unit: FileUnit,
    *,
    text_field: str = "text",
    max_bytes: int = DEFAULT_MAX_BYTES,
    stats: ScanStats | None = None,
) -> Iterator[RawDocument]:
    """The documents of one file found by :func:`iter_units` (or its error records)."""
    scan = _Scan(text_field=text_field, max_bytes=max_bytes, stats=stats if stats is not None else ScanStats())
    yield from scan.read(unit)


def iter_documents(
    paths: list[Path],
    *,
    text_field: str = "text",
    max_bytes: int = DEFAULT_MAX_BYTES,
    stats: ScanStats | None = None,
) -> Iterator[RawDocument]:
    """Yield every document under ``paths`` (files or folders, walked recursively in a stable order), and
    one error record for every file, line, element or archive tail that cannot be read; see the module
    documentation for the formats, the keys and the error codes.

    This only reads and decodes: HTML stays HTML (``RawDocument.html``) for :func:`extract_html` in the
    scoring workers. It streams: one document in memory at a time (a .json array is read whole).
    ``stats``, if given, is filled as the walk goes (files read, documents, errors by code, WARC records
    skipped because they are not pages).
    """
    scan = _Scan(
        text_field=text_field, max_bytes=max_bytes, stats=stats if stats is not None else ScanStats()
    )
    for item in scan.roots(paths):
        if isinstance(item, FileUnit):
            yield from scan.read(item)
        else:
            yield item
