"""Labeled documents in the forms people keep them: JSONL, CSV, folders, and relabeled scan output.

:func:`read_labeled` reads several sources and combines them into one :class:`LabeledSet`: the
:class:`~training.corrupt.Example` s to train or evaluate on, plus everything a person needs to trust
them: what was skipped and why, which texts were duplicates, which were labeled both ways, and a hash of
every source for the model's manifest.

Sources, by extension (case-insensitive):

``.jsonl``, ``.ndjson`` (optionally ``.gz``)
    One JSON object per non-blank line: ``text``, ``label``; optional ``id``, ``tags``, ``weight``,
    ``origin`` (the project's fixture format, see ``training/fixtures/README.md``), ``title`` (read as the
    scan and ``thresher score --jsonl`` read a record's title: its first line unless the text starts with a
    headline of its own). A file saved as UTF-16
    or UTF-32 (by a byte-order mark or its NUL bytes, as Windows tools save it) is read line by line, as
    the scan and ``thresher score --jsonl`` read it. A row with ``html``
    instead of ``text`` (a crawl record, as ``thresher scan`` reads them) gets the page's text as in 1.
    below. The output records of ``thresher scan`` and ``thresher score`` are accepted as they are once
    a ``label`` was added to the ones a person judged: the feedback loop. Those records have no
    ``text``; it is taken, in this order, from

    1. ``path``, when it names a readable ``.txt``/``.md``/``.html``/``.htm`` file: relative paths are
       looked up in the labeled file's folder first (a labeled set kept next to its texts reads the same
       from any working directory), then in the current directory (where ``thresher scan`` was most
       likely run). The file is read as the scan reads it (byte-order marks, UTF-8, else the declared or
       detected charset); an HTML page becomes the text the scan scored: trafilatura's main text, with the
       page title as first line when the text does not start with a headline of its own (the rule the
       scorer applies to a title). A ``path`` naming a JSONL, JSON or WARC file is a container of many
       documents and cannot give one record's text.
    2. ``cleaned_text`` (present when the scan ran with explain on): the content lines only, boilerplate
       removed. Usable, but not the text the model will see in a crawl, so every such example is counted
       (``counts[source]["cleaned_text"]``) and warned about.

    Otherwise the row is skipped with the reason. A record's ``verdict`` is the model's opinion and is
    never taken as a label; rows without a ``label`` are skipped (``no_label``), so a scan output with a
    few labeled rows is usable as it is.
``.csv``
    A header row and the same columns (names case-insensitive). ``tags`` are separated by commas or
    semicolons. The delimiter is ``,`` unless the header only splits on ``;`` or a tab (spreadsheets in
    some locales). ``thresher scan --format csv`` output works too: its ``record`` column (the whole
    record as JSON) supplies ``cleaned_text`` when the row has no ``text``.
a folder
    ``reliable/`` and/or ``unreliable/`` subfolders (any case) holding ``.txt``, ``.md``, ``.html`` and
    ``.htm`` files, read recursively (entries sorted by name, symbolic links followed, each folder once per
    label). A folder reached under both labels (a link from ``reliable/`` into what ``unreliable/`` holds,
    or back to the labeled folder itself) is read under both: its texts are labeled both ways, so they
    are dropped as conflicts (noted as one file reached through a link), and a warning names the folder.
    An example's id is its path relative to the folder (``reliable/sports/match.txt``); the folders between
    the label folder and the file are its tags (``reliable/sports/uk/match.txt`` → ``["sports", "uk"]``).
    Files with other extensions and entries beside the label folders are listed as skipped.

Labels: ``reliable`` or ``unreliable``, ignoring case and surrounding blanks. Numbers and booleans
(``1``/``0``, ``true``) are refused: whether 1 means reliable or "flagged" differs between teams, and a
silently inverted label set would train a model that is confidently wrong.

Weights: a positive finite number (a numeric string in CSV), default 1. Tags: a list, or a string split
on commas and semicolons. Limits as in the scan: files over 2 MiB and texts over 2 Mi (2,097,152) characters are
skipped (``too_large``).

Ids: a row's ``id``, else ``<file name>:<line>``. Within a source a repeated id gets ``#2``, ``#3``...;
an id found in several sources is prefixed by its source's name (``a.jsonl:doc-1``, or the path as given
when two sources share a name). ``source_id`` is the final id, so each document is its own
cross-validation group. ``origin`` is the row's ``origin`` when it has one (as :func:`read_jsonl` does),
else the source's file or folder name.

Nothing is dropped silently. ``skipped`` lists every unusable row, file or archive tail with where it is
(``file:line`` or a path), a short ``code`` and a ``reason``: bad JSON, no/unknown label, bad weight or
tags, no usable text, unreadable, binary (NUL bytes in a file's start, or a NUL character anywhere in a
text: scoring refuses such text as binary), not UTF-8 with no detectable charset (or, in JSON, an unpaired
surrogate such as ``"\\ud800"`` in the text, label, tags or path: ``not_utf8``, as ``thresher score
--jsonl`` and the scan refuse it; in an ``id`` it is kept, escaped), too large.

Duplicates: texts equal after Unicode NFC, collapsing whitespace and case-folding. When all copies carry
the same label the first (in source order, then row order) is kept and the others are dropped and
listed in ``duplicates``; its weight is not summed (a copy-paste accident should not count twice).
When the copies carry different labels, ALL of them are dropped and listed in ``conflicts``: a text
labeled both ways is a disagreement (or a slip) a person has to resolve, and a majority vote would hide
it while keeping a label that is wrong at least once; with hand-labeled data this is rare, so the cost
is a few examples. With ``builtin`` examples (the project's, trained beside the user's), the same rule
holds across both, the built-in ones first (see :func:`read_labeled`).

Same inputs, same output: examples come in source order, then file order (rows as they appear, folder
entries sorted by name).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import os
import re
import stat
import unicodedata
import zlib
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.scan.sources import DEFAULT_MAX_BYTES, decode_text, extract_html, jsonl_lines_of
from service.surrogates import has_lone_surrogate, name_text, utf8_safe
from training.corrupt import Example
from training.dataset import LABELS, FixtureError, fixture_hash
from training.document import _has_headline, normalise

__all__ = [
    "CSV_EXTENSIONS",
    "DOCUMENT_EXTENSIONS",
    "JSONL_EXTENSIONS",
    "LabeledSet",
    "read_labeled",
    "text_key",
]

JSONL_EXTENSIONS = (".jsonl.gz", ".ndjson.gz", ".jsonl", ".ndjson")
CSV_EXTENSIONS = (".csv",)
PARQUET_EXTENSIONS = (".parquet",)  # thresher scan --format parquet output, with a label column added
DOCUMENT_EXTENSIONS = (".txt", ".md", ".html", ".htm")
_CONTAINER_EXTENSIONS = (".jsonl.gz", ".ndjson.gz", ".warc.gz", ".jsonl", ".ndjson", ".json", ".warc")
MAX_TEXT_CHARS = 2 * 1024 * 1024  # service.scoring.MAX_TEXT_CHARS: a longer text could not be scored either
NUL_WINDOW = 8192
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_TAG_SPLIT = re.compile(r"[,;]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not in JSON text, unescaped
_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)
_COUNT_KEYS = ("read", "used", "skipped", "duplicates", "conflicts", "from_path", "cleaned_text")
_TEXT_FROM = {"from_path": "text(s) read from the file in 'path'", "cleaned_text": "text(s) from 'cleaned_text'"}
_NUL_REASON = "the text contains NUL characters: it looks binary, not text (scoring refuses it too)"


@dataclass
class LabeledSet:
    """What :func:`read_labeled` found: usable examples and an account of everything else.

    ``sources``: source path (as given) → hash of its bytes: :func:`~training.dataset.fixture_hash` of
    the file for a JSONL/CSV file; when rows took their text from ``path`` files, a sha256 over that hash
    and every such file (its path as written, and its bytes); for a folder, a sha256 over every file read,
    sorted, each with its path relative to the folder, so moving a file from ``reliable/`` to
    ``unreliable/`` changes it. ``counts``: per source, ``read`` (rows or files met), ``used``,
    ``skipped``, ``duplicates`` and ``conflicts`` (examples of this source dropped as such),
    ``from_path`` and ``cleaned_text`` (examples whose text came from there). ``folders``: every folder
    read in a labeled folder, resolved (one reached through a symbolic link is named where it lies).
    """

    examples: list[Example] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"where", "code", "reason"}
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # {"ids", "label", "kept"}
    conflicts: list[dict[str, Any]] = field(default_factory=list)  # {"ids", "labels"}, "why" when one file
    builtin: list[Example] = field(default_factory=list)  # the built-in examples given, less conflicts
    warnings: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # every folder read in a labeled folder, resolved

    def summary_lines(self, limit: int = 10) -> list[str]:
        """Lines for the terminal: totals, per-source counts, then up to ``limit`` items of each problem."""
        by_label = Counter(ex.label for ex in self.examples)
        out = [
            f"labeled examples: {len(self.examples)} used (reliable {by_label['reliable']}, "
            f"unreliable {by_label['unreliable']}) from {len(self.counts)} source(s)"
        ]
        for name, c in self.counts.items():
            extra = "".join(f", {c[k]} {what}" for k, what in _TEXT_FROM.items() if c.get(k))
            out.append(
                f"  {name}: read {c['read']}, used {c['used']}, skipped {c['skipped']}, "
                f"duplicates {c['duplicates']}, conflicts {c['conflicts']}{extra}"
            )
        if self.skipped:
            codes = Counter(s["code"] for s in self.skipped)
            out.append(
                f"skipped {len(self.skipped)}: " + ", ".join(f"{k} {n}" for k, n in sorted(codes.items()))
            )
            out += [f"  {s['where']}: {s['reason']}" for s in self.skipped[:limit]]
            if len(self.skipped) > limit:
                out.append(f"  ... and {len(self.skipped) - limit} more")
        if self.duplicates:
            dropped = sum(len(d["ids"]) - 1 for d in self.duplicates)
            out.append(
                f"duplicates: {len(self.duplicates)} text(s) given more than once; kept the first copy, "
                f"dropped {dropped}"
            )
            for d in self.duplicates[:limit]:
                out.append(f"  kept {d['kept']} ({d['label']}), dropped " + ", ".join(d["ids"][1:]))
            if len(self.duplicates) > limit:
                out.append(f"  ... and {len(self.duplicates) - limit} more")
        if self.conflicts:
            dropped = sum(len(x["ids"]) for x in self.conflicts)
            out.append(
                f"conflicts: {len(self.conflicts)} text(s) labeled both ways; all {dropped} copies dropped "
                "(fix the labels to use them)"
            )
            for conflict in self.conflicts[:limit]:
                pairs = zip(conflict["ids"], conflict["labels"], strict=True)
                why = f": {conflict['why']}" if conflict.get("why") else ""
                out.append("  " + ", ".join(f"{i} ({lab})" for i, lab in pairs) + why)
            if len(self.conflicts) > limit:
                out.append(f"  ... and {len(self.conflicts) - limit} more")
        out += [f"warning: {w}" for w in self.warnings]
        return out


def text_key(text: str) -> str:
    """The duplicate key of a text: sha256 of it after NFC, collapsed whitespace and case-folding."""
    norm = " ".join(unicodedata.normalize("NFC", text).split()).casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def read_labeled(paths: Sequence[Path], *, builtin: Sequence[Example] = ()) -> LabeledSet:
    """Read labeled documents from JSONL/CSV files and labeled folders (see the module documentation).

    ``builtin``: the project's own examples trained beside these (``thresher train`` without
    ``--no-builtin``). They count as coming first: a text of the user's that one of them already has,
    with the same label, is a duplicate (the user's copy is dropped, so the two never land in different
    cross-validation groups); with the other label, a conflict (every copy dropped, the built-in ones
    too, listed as ``builtin:<id>``). Built-in examples are never checked against each other (some
    generated variants equal their article, in their article's group). Those kept are
    :attr:`LabeledSet.builtin`, in their order.

    Raises :class:`~training.dataset.FixtureError` for a path that does not exist, an unknown extension,
    a folder without ``reliable/`` or ``unreliable/``, a file that cannot be opened or looks binary, a CSV
    file without a ``label`` column or any text column, or the same path given twice. Everything inside a
    source that cannot be used is listed in :attr:`LabeledSet.skipped` instead.
    """
    seen: dict[Path, str] = {}
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise FixtureError(f"labeled data {p}: no such file or folder")
        if p.is_file() and _kind(p) is None:
            raise FixtureError(
                f"labeled data {p}: unknown extension; expected a folder or one of "
                + ", ".join(JSONL_EXTENSIONS + CSV_EXTENSIONS + PARQUET_EXTENSIONS)
            )
        if not p.is_file() and not p.is_dir():
            raise FixtureError(f"labeled data {p}: not a regular file or folder")
        real = p.resolve()
        if real in seen:
            raise FixtureError(f"labeled data {p}: given twice (also as {seen[real]})")
        seen[real] = str(p)

    names = Counter(_name(Path(p)) for p in paths)
    reads: list[_Source] = []
    for p in paths:
        p = Path(p)
        src = _Source(p, _name(p) if names[_name(p)] == 1 else str(p))
        if p.is_dir():
            src.read_folder()
        elif _kind(p) == "csv":
            src.read_csv()
        elif _kind(p) == "parquet":
            src.read_parquet()
        else:
            src.read_jsonl()
        reads.append(src)

    _unique_ids(reads, reserved={str(i) for ex in builtin for i in (ex.id, ex.source_id)})
    result = LabeledSet()
    for src in reads:
        result.sources[str(src.path)] = src.digest()
        result.counts[str(src.path)] = {k: 0 for k in _COUNT_KEYS}
        result.counts[str(src.path)]["read"] = src.rows
        result.counts[str(src.path)]["skipped"] = len(src.skipped)
        result.skipped += src.skipped
        result.warnings += src.warnings
        result.folders += src.folders
        if src.rows == 0:
            result.warnings.append(f"{src.path}: no labeled rows or files in it")

    everything = [(src, ex) for src in reads for ex in src.examples]
    user_keys = {id(ex): text_key(ex.text) for _, ex in everything}
    groups: dict[str, list[tuple[_Source | None, Example]]] = {}
    for ex in builtin:  # first; a group of built-in copies alone is left as it is
        groups.setdefault(text_key(ex.text), []).append((None, ex))
    for src, ex in everything:
        groups.setdefault(user_keys[id(ex)], []).append((src, ex))

    def shown(src: _Source | None, ex: Example) -> str:
        return f"builtin:{ex.id}" if src is None else ex.id

    dropped: set[int] = set()
    for group in groups.values():  # dicts keep insertion order: groups come in order of first copy
        if len(group) < 2 or all(owner is None for owner, _ in group):
            continue
        labels = [ex.label for _, ex in group]
        if len(set(labels)) > 1:
            conflict: dict[str, Any] = {"ids": [shown(owner, ex) for owner, ex in group], "labels": labels}
            files: dict[str, set[str]] = {}
            for _, ex in group:
                if ex.extra.get("file"):
                    files.setdefault(ex.extra["file"], set()).add(ex.label)
            if any(len(labs) > 1 for labs in files.values()):
                conflict["why"] = "one file, reached under both reliable/ and unreliable/ through a symbolic link"
            result.conflicts.append(conflict)
            for owner, ex in group:
                dropped.add(id(ex))
                if owner is not None:
                    result.counts[str(owner.path)]["conflicts"] += 1
        else:
            # The first copy is kept, a built-in one when there is one (the built-in copies of each other,
            # a generated variant equal to its article, all stay and are not listed: not the user's).
            extra = [(owner, ex) for owner, ex in group[1:] if owner is not None]
            result.duplicates.append(
                {"ids": [shown(*x) for x in group[:1] + extra], "label": labels[0], "kept": shown(*group[0])}
            )
            for owner, ex in extra:
                assert owner is not None
                dropped.add(id(ex))
                result.counts[str(owner.path)]["duplicates"] += 1

    result.builtin = [ex for ex in builtin if id(ex) not in dropped]
    n_builtin = len(builtin) - len(result.builtin)
    if n_builtin:
        result.warnings.append(
            f"{n_builtin} built-in example(s) dropped: your labels give their text the other label "
            "(listed as builtin:<id> under conflicts)"
        )
    for src, ex in everything:
        if id(ex) in dropped:
            continue
        result.examples.append(ex)
        c = result.counts[str(src.path)]
        c["used"] += 1
        how = ex.extra.get("text_from")
        if how in ("from_path", "cleaned_text"):
            c[how] += 1
    n_cleaned = sum(c["cleaned_text"] for c in result.counts.values())
    if n_cleaned:
        result.warnings.append(
            f"{n_cleaned} example(s) use a scan record's cleaned_text (content lines only, boilerplate "
            "removed), not the document's full text: give their files via 'path' or add a 'text' column "
            "where possible"
        )
    return result


# ------------------------------------------------------------------------------------------ internals


class _Skip(Exception):
    """A row or file that cannot be used, with a short code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _name(p: Path) -> str:
    """A source's short name: its file or folder name (that of the folder it means for ``.``)."""
    return p.name or p.resolve().name or str(p)


def _kind(p: Path) -> str | None:
    lower = p.name.lower()
    if lower.endswith(JSONL_EXTENSIONS):
        return "jsonl"
    if lower.endswith(CSV_EXTENSIONS):
        return "csv"
    if lower.endswith(PARQUET_EXTENSIONS):
        return "parquet"
    return None


def _visible(text: str) -> bool:
    """Whether the text has a visible character: what scoring and training parse, once control and invisible
    format characters (a zero-width space, a soft hyphen) are gone; a text without one cannot be scored."""
    return bool(normalise(text).split())


def _title_first(text: str, title: str | None) -> str:
    """The text the scan scores for a page or a record with a title: the title as first line, above a blank
    line, unless the text starts with a headline of its own: the rule :func:`training.document.parse` applies
    to the title the scan and ``thresher score`` give it, so that a document is trained on as it is scored."""
    if title:
        title = " ".join(normalise(title).split())
        if title and not _has_headline(normalise(text), title):
            return f"{title}\n\n{text}"
    return text


def _read_document(p: Path, url: str | None = None) -> tuple[str, bytes]:
    """(text, raw bytes) of one .txt/.md/.html/.htm file, read as ``thresher scan`` reads it."""
    lower = p.name.lower()
    if p.is_symlink() and not p.exists():  # said first: whatever its name, there is nothing to read
        raise _Skip("unreadable", f"{p} is a broken symbolic link (to {os.readlink(p)}): nothing to read")
    if not lower.endswith(DOCUMENT_EXTENSIONS):
        if lower.endswith(_CONTAINER_EXTENSIONS):
            raise _Skip("container", f"{p} holds many documents; one record's text cannot be taken from it")
        raise _Skip("unsupported", f"{p}: unsupported extension; expected " + ", ".join(DOCUMENT_EXTENSIONS))
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise _Skip("unreadable", f"{p} is not a regular file")
        if st.st_size > DEFAULT_MAX_BYTES:
            raise _Skip("too_large", f"{p} has {st.st_size} bytes; at most {DEFAULT_MAX_BYTES} are read")
        data = p.read_bytes()
    except OSError as exc:
        raise _Skip("unreadable", f"cannot read {p}: {exc.strerror or exc}") from exc
    if not data.strip():
        raise _Skip("empty", f"{p} is {'empty' if not data else 'blank'}")
    is_html = lower.endswith((".html", ".htm"))
    declared = None
    if is_html:
        m = _META_CHARSET.search(data[:4096])
        declared = m.group(1).decode("ascii", "replace") if m else None
    try:
        text, _ = decode_text(data, declared=declared)
    except Exception as exc:  # service.scan.sources' problem: code "binary" or "not_utf8"
        raise _Skip(str(getattr(exc, "code", "not_utf8")), f"{p}: {exc}") from exc
    if "\x00" in text:  # beyond the first bytes decode_text looks at
        raise _Skip("binary", f"{p}: {_NUL_REASON}")
    if is_html:
        main, title, _info = extract_html(text, url)
        text = _title_first(main, title) if _visible(main) else ""
    if not _visible(text):
        raise _Skip("empty", f"{p} has no visible text" + (" (nothing extracted from the page)" if is_html else ""))
    return text, data


_UNICODE_FIELDS = ("text", "html", "cleaned_text", "path", "label", "tags")


def _check_unicode(row: dict[str, Any]) -> None:
    """_Skip ``not_utf8`` when a field the row is read by holds an unpaired surrogate (JSON's ``"\\ud800"``
    escape), as ``thresher score --jsonl`` and the scan refuse it: not Unicode text, it cannot be hashed,
    written or scored. An ``id`` or ``origin`` with one is kept, the surrogate escaped, as the scan does."""
    for name in _UNICODE_FIELDS:
        value = row.get(name)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and has_lone_surrogate(v) for v in values):
            raise _Skip("not_utf8", f"'{name}' holds an unpaired surrogate (\\ud800-\\udfff): not valid Unicode")


def _label(value: Any, row: dict[str, Any]) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        hint = " (a scan record's 'verdict' is the model's opinion, not a label)" if "verdict" in row else ""
        raise _Skip("no_label", "no 'label'" + hint)
    if not isinstance(value, str):
        raise _Skip(
            "bad_label",
            f"label {json.dumps(value)} is not a word; write 'reliable' or 'unreliable' "
            "(numbers are ambiguous: is 1 reliable or flagged?)",
        )
    label = value.strip().lower()
    if label not in LABELS:
        raise _Skip("bad_label", f"unknown label {value!r}; expected one of {', '.join(LABELS)}")
    return label


# A document's weight relative to the others: 1e300 beside 1e-300 overflowed the fit, which then wrote a
# model with ROC AUC 0.5 and no error.
MIN_WEIGHT, MAX_WEIGHT = 1e-6, 1e6


def _weight(value: Any) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 1.0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Skip("bad_weight", f"'weight' must be a positive number, got {json.dumps(value)}")
    try:
        weight = float(value)
    except ValueError as exc:
        raise _Skip("bad_weight", f"'weight' must be a positive number, got {value!r}") from exc
    if not math.isfinite(weight) or weight <= 0:
        raise _Skip("bad_weight", f"'weight' must be a positive number, got {value!r}")
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise _Skip("bad_weight", f"'weight' must be from {MIN_WEIGHT:g} to {MAX_WEIGHT:g}, got {value!r}: "
                                  "weights further apart overflow the classifier's training")
    return weight


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = _TAG_SPLIT.split(value)
    elif isinstance(value, list):
        items = value
    else:
        raise _Skip("bad_tags", f"'tags' must be a list or a comma-separated string, got {json.dumps(value)}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise _Skip("bad_tags", f"'tags' holds {json.dumps(item)}, not a string")
        tag = str(item).strip()
        if tag and tag not in out:
            out.append(tag)
    return out


class _Source:
    """One path given to :func:`read_labeled`, while it is being read."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name  # the prefix for colliding ids
        self.examples: list[Example] = []
        self.skipped: list[dict[str, str]] = []
        self.warnings: list[str] = []
        self.folders: list[Path] = []  # resolved: one reached through a symbolic link is where it lies
        self.rows = 0
        self._hash_parts: list[tuple[str, bytes]] = []  # files read besides the source file itself
        self._hashed: set[Path] = set()

    # --- bookkeeping

    def skip(self, where: str, exc: _Skip) -> None:
        self.skipped.append({"where": name_text(where), "code": exc.code, "reason": utf8_safe(str(exc))})

    def digest(self) -> str:
        if self.path.is_dir():
            h = hashlib.sha256(b"thresher-labeled-folder\0")
        else:
            base = fixture_hash([self.path])
            if not self._hash_parts:
                return base
            h = hashlib.sha256(base.encode())
        for name, data in sorted(self._hash_parts) if self.path.is_dir() else self._hash_parts:
            raw = name.encode("utf-8", "surrogateescape")  # a file name that is not UTF-8 (caf\xe9.txt) as its bytes
            h.update(f"{len(raw)}:".encode() + raw + f"\0{len(data)}:".encode())
            h.update(data)
        return h.hexdigest()

    def add(
        self,
        *,
        ex_id: str,
        text: str,
        label: str,
        tags: list[str],
        origin: str,
        weight: float,
        where: str,
        text_from: str,
    ) -> None:
        self.examples.append(
            Example(
                id=ex_id,
                text=text,
                label=label,
                tags=tags,
                origin=origin,
                source_id=ex_id,
                weight=weight,
                extra={"where": where, "text_from": text_from, "source": str(self.path)},
            )
        )

    # --- rows (JSONL and CSV)

    def row(self, row: Any, where: str, default_id: str) -> None:
        self.rows += 1
        try:
            if not isinstance(row, dict):
                raise _Skip("bad_record", "a row must be a JSON object")
            _check_unicode(row)
            label = _label(row.get("label"), row)
            weight = _weight(row.get("weight"))
            tags = _tags(row.get("tags"))
            text, text_from = self.row_text(row)
            if "\x00" in text:
                raise _Skip("binary", _NUL_REASON)
            if len(text) > MAX_TEXT_CHARS:
                raise _Skip("too_large", f"the text has {len(text)} characters; at most {MAX_TEXT_CHARS}")
        except _Skip as exc:
            self.skip(where, exc)
            return
        rid = row.get("id")
        ex_id = default_id if rid is None or rid == "" else utf8_safe(rid) if isinstance(rid, str) else json.dumps(rid)
        origin = row.get("origin")
        self.add(
            ex_id=ex_id,
            text=text,
            label=label,
            tags=tags,
            weight=weight,
            where=where,
            text_from=text_from,
            origin=utf8_safe(origin) if isinstance(origin, str) and origin.strip() else self.path.name,
        )

    def row_text(self, row: dict[str, Any]) -> tuple[str, str]:
        """(text, where it came from: ``text``, ``html``, ``from_path`` or ``cleaned_text``), else _Skip."""
        text = row.get("text")
        if text is not None and not isinstance(text, str):
            raise _Skip("bad_text", f"'text' must be a string, got {json.dumps(text)[:60]}")
        # a record's title is read as the scan and `thresher score --jsonl` read it (a page's own title after it)
        title = utf8_safe(row["title"]) if isinstance(row.get("title"), str) else None
        if isinstance(text, str) and _visible(text):
            return _title_first(text, title), "text"
        problems = ["'text' has no visible characters" if isinstance(text, str) else "no 'text'"]
        url = utf8_safe(row["url"]) if isinstance(row.get("url"), str) else None
        page = row.get("html")
        if isinstance(page, str) and page.strip():
            main, found, _info = extract_html(page, url)
            if _visible(main):
                return _title_first(main, title or found), "html"
            problems.append("nothing extracted from 'html'")
        path_problem: _Skip | None = None
        ref = row.get("path")
        if isinstance(ref, str) and ref.strip():
            try:
                return self.referenced_text(ref, url), "from_path"
            except _Skip as exc:
                path_problem = exc
                problems.append(f"path: {exc}")
        cleaned = row.get("cleaned_text")
        if isinstance(cleaned, str) and _visible(cleaned):
            return cleaned, "cleaned_text"
        error = row.get("error")
        code = error.get("code") if isinstance(error, dict) else row.get("error_code")
        if code:
            msg = error.get("message") if isinstance(error, dict) else row.get("error_message")
            problems.append(f"a scan error record ({code}: {msg})")
        elif isinstance(cleaned, str):  # scanned with explain on, and every line was boilerplate
            problems.append("'cleaned_text' is empty (the scan found no content line; add a 'text' column)")
        else:
            problems.append("no 'cleaned_text' (scan with explain on, or add a 'text' column)")
        if path_problem is not None and path_problem.code not in ("container", "unsupported"):
            raise _Skip(path_problem.code, "; ".join(problems))
        raise _Skip("no_text", "; ".join(problems))

    def referenced_text(self, ref: str, url: str | None) -> str:
        given = Path(ref)
        candidates = [given] if given.is_absolute() else [self.path.parent / given, Path.cwd() / given]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise _Skip("not_found", f"{ref} not found (looked for {' and '.join(map(str, candidates))})")
        chosen = found[0]
        if len(found) > 1 and found[0].resolve() != found[1].resolve():
            self.warnings.append(
                f"{self.path}: path {ref} exists both beside the labeled file and in the current folder; "
                f"used {chosen}"
            )
        text, data = _read_document(chosen, url)
        real = chosen.resolve()
        if real not in self._hashed:
            self._hashed.add(real)
            self._hash_parts.append((ref, data))
        return text

    def read_jsonl(self) -> None:
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise FixtureError(f"cannot open labeled data {self.path}: {exc.strerror or exc}") from exc
        with raw:
            handle: Any = raw
            lineno = 0
            try:
                if raw.read(2) == b"\x1f\x8b":
                    handle = gzip.GzipFile(fileobj=raw, mode="rb")
                raw.seek(0)
                start = handle.read(NUL_WINDOW)
                handle.seek(0)
                # UTF-16 or UTF-32 (as Windows tools save JSONL) is read line by line, as the scan and
                # `thresher score --jsonl` read it; other NUL bytes are a binary file
                lines, wide = jsonl_lines_of(handle, start[: len(start) - len(start) % 2])
                if wide is None:
                    binary = b"\x00" in start
                else:  # JSON text holds no control character but its blanks (escaped in its strings)
                    binary = _CONTROL_CHARS.search(start.decode(wide, "replace")) is not None
                if binary:
                    raise FixtureError(f"labeled data {self.path}: looks binary (NUL bytes); expected JSONL")
                for line in iter(lines.readline, b""):
                    lineno += 1
                    if line.strip():
                        self.jsonl_line(line, lineno)
            except _STREAM_ERRORS as exc:
                self.rows += 1
                self.skip(
                    f"{self.path}:{lineno + 1}",
                    _Skip(
                        "bad_archive",
                        f"truncated or corrupt from line {lineno + 1} on ({exc or type(exc).__name__}); "
                        "the lines before it were read",
                    ),
                )

    def jsonl_line(self, line: bytes, lineno: int) -> None:
        where = f"{self.path}:{lineno}"
        try:
            try:
                decoded, _ = decode_text(line, check_binary=False)
            except Exception as exc:  # service.scan.sources' problem: not_utf8
                raise _Skip(str(getattr(exc, "code", "not_utf8")), str(exc)) from exc
            try:
                row = json.loads(decoded)
            except json.JSONDecodeError as exc:  # exc.msg alone is cut short: "Invalid control character at"
                raise _Skip("bad_json", f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
            except (ValueError, RecursionError) as exc:
                raise _Skip("bad_json", f"not valid JSON: {exc or type(exc).__name__}") from exc
        except _Skip as exc:
            self.rows += 1
            self.skip(where, exc)
            return
        self.row(row, where, f"{self.path.name}:{lineno}")

    def read_csv(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise FixtureError(f"cannot open labeled data {self.path}: {exc.strerror or exc}") from exc
        if not data.strip():
            return  # read_labeled warns about a source without rows
        try:
            text, _ = decode_text(data)
        except Exception as exc:
            raise FixtureError(f"labeled data {self.path}: {exc}") from exc
        first = text.split("\n", 1)[0]
        delimiter = ","
        for cand in (",", ";", "\t"):
            if "label" in {c.strip().strip('"').lower() for c in first.split(cand)}:
                delimiter = cand
                break
        old_limit = csv.field_size_limit()
        csv.field_size_limit(max(old_limit, 4 * MAX_TEXT_CHARS + 1_000_000))
        try:
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            try:
                header = [h.strip().lower() for h in next(reader)]
            except (StopIteration, csv.Error) as exc:
                raise FixtureError(f"labeled data {self.path}: no readable header row ({exc})") from exc
            dup = sorted({h for h in header if h and header.count(h) > 1})
            if dup:
                raise FixtureError(f"labeled data {self.path}: repeated column(s) {', '.join(dup)}")
            self.check_columns(header)
            while True:
                start = reader.line_num + 1
                try:
                    values = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    self.rows += 1
                    self.skip(
                        f"{self.path}:{start}",
                        _Skip("bad_csv", f"unreadable CSV ({exc}); the rest of the file was not read"),
                    )
                    break
                if not any(v.strip() for v in values):
                    continue
                self.csv_row(header, values, start)
        finally:
            csv.field_size_limit(old_limit)

    def check_columns(self, header: list[str]) -> None:
        """A table of labeled rows needs a ``label`` column and one to take the text from."""
        if "label" not in header:
            raise FixtureError(f"labeled data {self.path}: no 'label' column (columns: {', '.join(header)})")
        if not {"text", "path", "record", "cleaned_text"} & set(header):
            raise FixtureError(
                f"labeled data {self.path}: no 'text' column (nor 'path', 'record' or 'cleaned_text')"
            )

    def read_parquet(self) -> None:
        """``thresher scan --format parquet`` output with a ``label`` column added: each row read as a CSV
        row is (its ``record`` column holds the whole record; a missing value is an empty cell)."""
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(self.path)
        except OSError as exc:
            raise FixtureError(f"cannot open labeled data {self.path}: {exc.strerror or exc}") from exc
        except Exception as exc:  # pyarrow's errors for a file that is no Parquet file
            raise FixtureError(f"labeled data {self.path}: not a readable Parquet file ({exc})") from exc
        header = [str(name).strip().lower() for name in table.column_names]
        self.check_columns(header)
        for i, row in enumerate(table.to_pylist(), 1):
            self.csv_row(header, ["" if v is None else str(v) for v in row.values()], i)

    def csv_row(self, header: list[str], values: list[str], line: int) -> None:
        where = f"{self.path}:{line}"
        if len(values) > len(header):
            self.rows += 1
            self.skip(
                where,
                _Skip("bad_csv", f"{len(values)} values but {len(header)} columns (an unquoted delimiter?)"),
            )
            return
        row: dict[str, Any] = {h: v for h, v in zip(header, values, strict=False) if h and v.strip()}
        record = row.pop("record", None)
        if "text" not in row and record is not None:
            try:
                parsed = json.loads(record)
                if not isinstance(parsed, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, RecursionError) as exc:
                self.rows += 1
                self.skip(where, _Skip("bad_record", f"the 'record' column is not a JSON object ({exc})"))
                return
            row = {**parsed, **row}
        self.row(row, where, f"{self.path.name}:{line}")

    # --- folders

    def read_folder(self) -> None:
        try:
            entries = sorted(os.scandir(self.path), key=lambda e: e.name)
        except OSError as exc:
            raise FixtureError(f"cannot list labeled folder {self.path}: {exc.strerror or exc}") from exc
        label_dirs = [e for e in entries if e.name.lower() in LABELS and e.is_dir()]
        if not label_dirs:
            raise FixtureError(
                f"labeled folder {self.path}: needs a reliable/ and/or unreliable/ subfolder of documents "
                f"(found: {', '.join(e.name for e in entries[:10]) or 'nothing'})"
            )
        # Each label keeps its own record of the folders read: a folder reached under both labels (through
        # a symbolic link) is read under both, so its texts are labeled both ways and dropped as conflicts,
        # instead of being read under the first label only and trained with it.
        visited: dict[str, dict[tuple[int, int], Path]] = {label: {} for label in LABELS}
        for entry in entries:
            p = Path(entry.path)
            if entry in label_dirs:
                self.walk(p, entry.name.lower(), [], visited)
            else:
                self.rows += 1
                self.skip(str(p), _Skip("outside_labels", "not under reliable/ or unreliable/: not read"))

    def walk(
        self,
        folder: Path,
        label: str,
        tags: list[str],
        visited: dict[str, dict[tuple[int, int], Path]],
        told: bool = False,
    ) -> None:
        try:
            st = os.stat(folder)
            ident = (st.st_dev, st.st_ino)
            if ident in visited[label]:
                self.rows += 1
                self.skip(
                    str(folder),
                    _Skip(
                        "already_read",
                        f"this folder was already read under {label}/, as {visited[label][ident]} "
                        "(a symbolic link)",
                    ),
                )
                return
            visited[label][ident] = folder
            self.folders.append(folder.resolve())
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.rows += 1
            self.skip(str(folder), _Skip("unreadable", f"cannot list {folder}: {exc.strerror or exc}"))
            return
        other = [(lab, seen[ident]) for lab, seen in visited.items() if lab != label and ident in seen]
        if other and not told:  # said once, for the topmost such folder
            told = True
            self.warnings.append(
                f"{folder} (under {label}/) and {other[0][1]} (under {other[0][0]}/) are the same folder, "
                "reached under both labels through a symbolic link: its texts are labeled both ways and "
                "dropped as conflicts"
            )
        for entry in entries:
            p = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                self.walk(p, label, [*tags, entry.name], visited, told)
                continue
            self.rows += 1
            rel = p.relative_to(self.path).as_posix()
            try:
                text, data = _read_document(p)
            except _Skip as exc:
                self.skip(str(p), exc)
                continue
            self._hash_parts.append((rel, data))
            self.add(  # a name that is not UTF-8 (caf\xe9.txt) is shown with its byte escaped, as the scan does
                ex_id=name_text(rel),
                text=text,
                label=label,
                tags=[name_text(t) for t in tags],
                origin=name_text(_name(self.path)),
                weight=1.0,
                where=name_text(str(p)),
                text_from="file",
            )
            self.examples[-1].extra["file"] = os.path.realpath(p)  # a conflict says when it is one file


def _unique_ids(sources: list[_Source], reserved: Collection[str] = ()) -> None:
    """Make every example id unique: ``#n`` within a source, the source's name as prefix across them, and
    ``#n`` again for one that meets a ``reserved`` id (a built-in fixture's: cross-validation groups
    documents by id, so a user's "rel-a-001" would otherwise share the built-in one's fold)."""
    for src in sources:
        seen: Counter[str] = Counter()
        for ex in src.examples:
            seen[ex.id] += 1
            if seen[ex.id] > 1:
                ex.id = f"{ex.id}#{seen[ex.id]}"
    owners: dict[str, set[int]] = {}
    for n, src in enumerate(sources):
        for ex in src.examples:
            owners.setdefault(ex.id, set()).add(n)
    for src in sources:
        for ex in src.examples:
            if len(owners[ex.id]) > 1:
                ex.id = f"{src.name}:{ex.id}"
    taken: set[str] = set(reserved)
    for src in sources:  # a prefixed id could still meet a literal one (or a built-in's): number the later copy
        for ex in src.examples:
            base, n = ex.id, 1
            while ex.id in taken:
                n += 1
                ex.id = f"{base}#{n}"
            taken.add(ex.id)
            ex.source_id = ex.id
