"""``thresher scan``: score what a crawler left on disk, in parallel, resumably, with crawl-level signals.

Data flows one way: :mod:`service.scan.sources` walks the paths and yields :class:`RawDocument` s in a
stable order (or error documents); :mod:`service.scan.runner` scores them in a process pool with the
one :func:`service.scoring.score_text`, journals every record so that ``--resume`` can continue, then
:mod:`service.scan.crawl` computes the signals that need the whole crawl (near-duplicates, same-story
clusters, entity spelling consensus, lines repeated across documents) and the records are written
once, atomically, in input order; :mod:`service.scan.report` summarises them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = ["RawDocument", "CrawlDoc", "folder_site"]

_ROOT_PREFIX_RE = re.compile(r"\d+:")


def folder_site(key: str) -> str:
    """The site of a document without a URL: the top folder of its path under the scanned root (its
    key, less the ``N:`` a scan of several roots puts first); "." for a file right at a root."""
    m = _ROOT_PREFIX_RE.match(key)  # a name's own ":" is escaped in keys (%3A): this is the root's prefix
    rel = key[m.end():] if m else key
    top, sep, _ = rel.partition("/")
    return unquote(top) if sep and top not in ("", ".") else "."


@dataclass(frozen=True)
class RawDocument:
    """One document found on disk, before scoring.

    ``key`` is unique and stable for the same inputs (relative path, plus ``#N`` for the N-th document
    inside a JSONL/WARC file): resume skips the keys already done. ``order`` sorts documents in the
    output. Exactly one of ``text``, ``html`` or ``error`` is set.
    """

    key: str
    order: tuple[int, int]
    id: str
    path: str
    source_format: str  # txt, md, html, json, jsonl, warc, or "unknown" for error records
    text: str | None = None
    html: str | None = None  # decoded HTML: the worker extracts its main text (trafilatura)
    url: str | None = None
    title: str | None = None
    lang: str | None = None  # the language a JSON record or Parquet row declares (its ``lang``), as score_text takes it
    error: tuple[str, str] | None = None  # (code, message)
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. detected encoding
    # The size and modification time (ns) of the file the document was read from; None for an error of the
    # walk itself. --resume re-scores a journaled document whose file has changed since.
    stamp: tuple[int, int] | None = None


@dataclass(frozen=True)
class CrawlDoc:
    """What the crawl-level pass needs of one scored document."""

    key: str
    id: str
    text: str  # the content lines (cleaned text) of the document
    site: str  # the domain of its URL, else its top folder
