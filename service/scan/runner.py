"""Score a crawl in parallel, journal every record, then add crawl-level signals and write the output once.

Resumability: every record is appended to ``OUT.journal`` (one JSON line, flushed) the moment it is
scored. ``--resume`` reads the journal, drops a line cut short by a kill, and scores only the keys not
in it. The output file is written at the end only, to a temporary name and renamed into place, so it
is never half-written; the journal is removed once the output is complete.

Memory: records are not held. The journal is the store: the run keeps, per document, its key, its place
in the input order and where its record starts in the journal, plus (for the crawl-level signals) its
sketch, a few KB whatever the text's size. Sketches are not journaled: a resumed run computes those of
the journaled records again, from the journal, in the worker pool before it scores what is left. The output is written by reading the records back from the
journal in input order, one at a time; the summary and the report are counted on the way.

Workers are forked from a parent that has already loaded, verified and warmed the model, so each one
starts at once and shares the model's memory copy-on-write.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from scipy.special import expit

from service.model import Model
from service.scan import RawDocument, folder_site
from service.scan.report import ReportData, shown_members
from service.scoring import TextTooLargeError, score_text, verdict_for, warm_up
from service.surrogates import utf8_safe
from training.document import EmptyDocumentError
from training.parallel import init_worker

__all__ = ["ScanOptions", "ScanResult", "run_scan", "JOURNAL_SUFFIX", "OUTPUT_FORMATS"]

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".journal"
# 2: keys escape ':', a site without URL is the top folder; 3: a record's lang is scored (language.declared), and a
# non-string title, url or lang or an id of 1e400 is a bad_record: a journal of 2 holds other records for them
JOURNAL_VERSION = 3
OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
CHUNK = 8  # documents per task: small enough to keep both cores busy, large enough to amortise pickling
RESKETCH_CHUNK = 32  # resumed records per sketching task (a sketch costs a few ms; scoring, ten times that)
_PRIVATE = ("_key", "_order", "_crawl", "_sketch", "_stamp", "_site")

_MODEL: Model | None = None  # the worker's model: set in the parent before forking


@dataclass
class ScanOptions:
    out: Path
    fmt: str = "jsonl"
    workers: int = 1
    resume: bool = False
    text_field: str = "text"
    max_bytes: int = 2 * 1024 * 1024
    explain: bool = True
    crawl_signals: bool = True


@dataclass
class ScanResult:
    """What a scan did. The records are in the output file; ``counts`` (:func:`tally`) and ``report`` (what the
    HTML report shows) were counted while it was written."""

    scored_now: int
    resumed: int
    elapsed_s: float
    interrupted: bool = False
    clusters: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=lambda: tally(()))
    report: ReportData | None = None
    output_written: bool = True  # False: interrupted while the journal was read; OUT was left as it was
    # What the inputs hold that is no document and so has no record (WARC requests, non-HTML or non-2xx
    # responses ...), by ScanStats.skipped key: told in the summary and the report, never dropped silently.
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def docs_per_s(self) -> float:
        return self.scored_now / self.elapsed_s if self.elapsed_s > 0 else 0.0


# ------------------------------------------------------------------------------------------- scoring


def _where(doc: RawDocument) -> dict[str, Any]:
    """Where a record's document came from: its id, file, the URL the input gave (a WARC record's target,
    a JSONL record's or a Parquet row's ``url``) and the input's format."""
    return {"id": doc.id, "path": doc.path, **({"url": doc.url} if doc.url else {}), "source_format": doc.source_format}


def _error_record(doc: RawDocument, code: str, message: str) -> dict[str, Any]:
    return {**_where(doc), "error": {"code": code, "message": message}}


def score_document(doc: RawDocument, model: Model, explain: bool = True, sketch: bool = False) -> dict[str, Any]:
    """One record for one found document: its score, or an error record. Never raises for bad input.

    Private fields (never written out): ``_key``, ``_order``, ``_crawl`` (what the crawl pass reads of a
    scored document: its content lines, full text and site) and, with ``sketch``, ``_sketch``: the
    document's :class:`service.scan.crawl.DocSketch`, computed here, in the worker."""
    from service.scan.sources import extract_html

    if doc.error is not None:
        rec = _error_record(doc, *doc.error)
        crawl = None
    else:
        text, title, page = doc.text, doc.title, None
        if doc.html is not None:
            text, extracted_title, page = extract_html(doc.html, doc.url)
            title = title or extracted_title
        try:
            rec = score_text(text or "", model=model, title=title, url=doc.url, explain=explain, doc_id=doc.id,
                             lang=doc.lang)
        except EmptyDocumentError as exc:
            if doc.html is not None:
                rec = _error_record(doc, "empty", "no text to score: no visible text could be extracted from the "
                                    "HTML (an empty page, only markup or scripts, or markup nested too deeply to parse)")
            else:
                rec = _error_record(doc, "empty", f"no text to score: {exc}")
        except TextTooLargeError as exc:
            rec = _error_record(doc, "too_large", str(exc))
        except Exception as exc:  # a bug must not lose the document: it gets a record saying so
            log.exception("scoring %s failed", doc.key)
            rec = _error_record(doc, "internal_error", f"scoring failed: {type(exc).__name__}: {exc}")
        else:
            rec = {**_where(doc), "id": rec.pop("id"), **rec}
            if page is not None:
                rec["html"] = page
            if doc.meta:
                rec["input"] = dict(doc.meta)
        crawl = None
        if "error" not in rec:
            clean = rec.get("cleaned_text") if explain else None
            # Stories and duplicates use the content lines; spelling consensus reads the whole text
            # (a spun copy's mangled names often sit in captions that cleaning drops).
            crawl = {"text": clean if clean is not None else (text or ""), "full": text or "", "site": _site(doc)}
    rec["_key"], rec["_order"], rec["_crawl"], rec["_site"] = doc.key, list(doc.order), crawl, _site(doc)
    rec["_stamp"] = list(doc.stamp) if doc.stamp is not None else None
    if sketch and crawl is not None:
        try:
            rec["_sketch"] = _sketch_of(rec)
        except Exception:  # a bug must not lose the document: it is scored, but left out of the crawl pass
            log.exception("sketching %s failed; it gets no crawl-level fields", doc.key)
            rec["_crawl"] = None
    return rec


def _sketch_of(rec: dict[str, Any]) -> Any:
    from service.scan.crawl import doc_sketch

    crawl = rec["_crawl"]
    return doc_sketch(rec["_key"], str(rec["id"]), crawl["text"], site=crawl["site"], full_text=crawl.get("full"))


def _site(doc: RawDocument) -> str:
    """A document's site: its URL's host, else the top folder of its path under the scanned root."""
    if doc.url:
        host = urlsplit(doc.url).hostname
        if host:
            return host.removeprefix("www.")
    return folder_site(doc.key)


def _score_chunk(docs: list[RawDocument], explain: bool, sketch: bool) -> list[dict[str, Any]]:
    assert _MODEL is not None, "worker has no model: the parent must load it before forking"
    return [score_document(d, _MODEL, explain, sketch) for d in docs]


# ------------------------------------------------------------------------------------------- journal


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + JOURNAL_SUFFIX)


def _journal_header(model: Model, inputs: list[Path], opts: ScanOptions) -> dict[str, Any]:
    return {"journal": JOURNAL_VERSION, "model": model.version, "inputs": [str(p) for p in inputs],
            "text_field": opts.text_field, "max_bytes": opts.max_bytes, "explain": opts.explain}


class _Journal:
    """The run's records, one JSON line each, appended and flushed as they are scored; and, per key, the
    document's place in the input order and where its record starts in the file (``index``), so that the
    records can be read back one at a time in input order. Lines are UTF-8 (``surrogatepass``: even a lone
    surrogate, which JSON allows, round-trips)."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self.index: dict[str, tuple[tuple[int, ...], int]] = {}
        self.size = 0
        self.fh: IO[bytes] | None = None

    def open(
        self,
        *,
        resume: bool,
        on_record: Callable[[dict[str, Any]], None],
        keep: Callable[[dict[str, Any]], tuple[int, ...] | None] = lambda rec: tuple(rec["_order"]),
    ) -> int:
        """Start the journal. With ``resume``, keep the records of a journal written for the same inputs,
        model and options to which ``keep`` gives a place in the input order (a last line cut short by a kill
        is dropped: the file is rewritten without it and the others before appending), calling ``on_record``
        for each; returns how many were kept. ``keep`` returns None for a record to drop, else its place as
        the inputs are now (files added or removed since move the others: a record's ``_order`` is where it
        was). Otherwise, or when the journal belongs to another run, start an empty one."""
        head = (json.dumps(self.header) + "\n").encode("ascii")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.is_file():
            tmp = self.path.with_name(self.path.name + ".tmp")
            with self.path.open("rb") as src:
                if _header_of(src.readline()) == self.header:
                    try:
                        with tmp.open("wb") as dst:
                            dst.write(head)
                            self.size = len(head)
                            for line in src:
                                if not line.endswith(b"\n"):
                                    break  # the write a kill interrupted
                                try:
                                    rec = _decode_line(line)
                                except ValueError:
                                    break
                                place = None if rec["_key"] in self.index else keep(rec)
                                if place is None:
                                    continue
                                dst.write(line)
                                self.index[rec["_key"]] = (place, self.size)
                                self.size += len(line)
                                on_record(rec)
                        os.replace(tmp, self.path)
                    except BaseException:  # Ctrl-C while reading: the journal is untouched, the copy goes
                        tmp.unlink(missing_ok=True)
                        raise
                    self.fh = self.path.open("ab")
                    return len(self.index)
        self.fh = self.path.open("wb")
        self.fh.write(head)
        self.fh.flush()
        self.size = len(head)
        return 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        assert self.fh is not None, "journal not open"
        records = list(records)
        # the sketch is not journaled: a resumed run computes it again from _crawl
        lines = [(json.dumps({k: v for k, v in r.items() if k != "_sketch"}, ensure_ascii=False) + "\n"
                  ).encode("utf-8", "surrogatepass") for r in records]
        self.fh.write(b"".join(lines))
        self.fh.flush()
        # Indexed only once written: a Ctrl-C before this point leaves the records out of this run's output
        # (they are in the journal for --resume), never an index entry pointing past what was written.
        for r, line in zip(records, lines, strict=True):
            self.index[r["_key"]] = (tuple(r["_order"]), self.size)
            self.size += len(line)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()

    def in_order(self) -> list[str]:
        """The keys of the journaled records, in input order."""
        return sorted(self.index, key=lambda k: self.index[k][0])

    def records(self, keys: Iterable[str]) -> Iterator[dict[str, Any]]:
        """The records of ``keys``, read back from the file one at a time (after :meth:`close`)."""
        with self.path.open("rb") as fh:
            for key in keys:
                fh.seek(self.index[key][1])
                yield _decode_line(fh.readline())


def journal_state(paths: list[Path], model: Model, opts: ScanOptions) -> str | None:
    """What :func:`run_scan` will find at ``OUT.journal``: None (no journal), "same" (written for these
    inputs, options and model: ``--resume`` continues it) or "other" (``--resume`` starts over). Raises
    OSError when the journal cannot be read."""
    path = journal_path(opts.out)
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        header = _header_of(fh.readline())
    return "same" if header == _journal_header(model, paths, opts) else "other"


def _decode_line(line: bytes) -> Any:
    return json.loads(line.decode("utf-8", "surrogatepass"))


def _header_of(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------- the run


def run_scan(
    paths: list[Path],
    model: Model,
    opts: ScanOptions,
    *,
    progress: Callable[[int, int | None], None] | None = None,
) -> ScanResult:
    """Scan ``paths`` and write ``opts.out``. ``progress(done, total)`` is called as documents finish.
    On Ctrl-C the pool stops, the output is written with what was scored, and the journal is kept."""
    from service.scan.sources import ScanStats, iter_documents

    global _MODEL
    start = time.perf_counter()
    journal = _Journal(journal_path(opts.out), _journal_header(model, paths, opts))
    sketches: dict[str, Any] = {}  # key -> DocSketch, for the crawl-level signals
    pool_of_words: dict[str, str] = {}

    resketch: list[str] = []  # keys of journaled records whose sketches are computed again (not journaled)

    def keep_sketch(r: dict[str, Any]) -> None:
        sketch = r.pop("_sketch", None)
        if not opts.crawl_signals or "error" in r or not r.get("_crawl"):
            return
        if sketch is None:  # a record read back from the journal: its sketch is computed again, in the pool
            resketch.append(r["_key"])
            return
        keep_sketches([sketch])

    def keep_sketches(batch: list[Any]) -> None:
        for sketch in batch:
            sketches[sketch.key] = sketch.pooled(pool_of_words)

    finished = scored_now = resumed = 0
    total: int | None = None
    interrupted = False

    def record(recs: list[dict[str, Any]]) -> None:
        nonlocal finished, scored_now
        journal.write(recs)
        for r in recs:
            keep_sketch(r)
        finished += len(recs)
        scored_now += len(recs)
        if progress:
            progress(finished, total)

    def documents(stats: ScanStats | None = None) -> Iterator[RawDocument]:
        return iter_documents(paths, text_field=opts.text_field, max_bytes=opts.max_bytes, stats=stats)

    def unchanged(rec: dict[str, Any]) -> tuple[int, ...] | None:
        """The place now of a journaled record of a document the inputs still hold, read from a file not
        changed since; None for any other."""
        stamp = rec.get("_stamp")
        now = current.get(rec["_key"])
        if now is None or now[0] != (tuple(stamp) if stamp is not None else None):
            return None
        return now[1]

    # The inputs as they are now: each document's key, its file's stamp and its place in the input order. A
    # resumed run keeps only the journaled records of documents still there, in files not changed since (the
    # others are scored again, or are gone from the output with their documents), each at its place now.
    walked = ScanStats()
    try:
        current: dict[str, tuple[tuple[int, int] | None, tuple[int, int]]] = {
            d.key: (d.stamp, d.order) for d in documents(walked)}
        resumed = journal.open(resume=opts.resume, on_record=keep_sketch, keep=unchanged)
    except KeyboardInterrupt:  # before scoring: the journal is untouched, and so is OUT (nothing is written)
        journal.close()
        return ScanResult(scored_now=0, resumed=0, elapsed_s=time.perf_counter() - start, interrupted=True,
                          output_written=False)
    # Everything from here on stops cleanly on Ctrl-C, warming up included: the output is written with what
    # the journal holds, and the journal is kept for --resume.
    try:
        finished = resumed
        total = len(current)
        current.clear()
        if progress:
            progress(finished, total)
        todo = (d for d in documents() if d.key not in journal.index)
        # The resumed records' sketches are computed first, by the same workers, while the progress shows
        # the resumed documents as done (they are: only their crawl-level fields wait for the sketches).
        jobs = _jobs(_resketch_chunks(journal, resketch), keep_sketches, todo, opts, record)
        if opts.workers > 1:
            warm_up(model)  # load the vocabulary and dictionaries once, before forking: the workers share them
        _MODEL = model
        if opts.workers <= 1:
            for fn, args, done in jobs:
                done(fn(*args))
        else:
            _run_pool(jobs, opts.workers)
    except KeyboardInterrupt:
        interrupted = True
    except BrokenProcessPool as exc:  # a worker killed (the OOM killer, a signal to the process group)
        log.error("a scoring process died (%s); the output holds what was scored, --resume finishes", exc)
        interrupted = True
    finally:
        journal.close()
        _MODEL = None

    _WRITING.set()  # from here on a stop is deferred (writing_output()): OUT is written whole or not at all
    try:
        return _finish(journal, model, opts, walked, sketches, pool_of_words, resketch, keep_sketches,
                       scored_now=scored_now, resumed=resumed, start=start, interrupted=interrupted)
    finally:
        _WRITING.clear()


_WRITING = threading.Event()


def writing_output() -> bool:
    """True while a scan adds the crawl-level fields and writes OUT (after scoring): a caller's stop signal
    should wait for the end instead of interrupting (an interrupt then would leave no OUT at all)."""
    return _WRITING.is_set()


def _finish(journal: _Journal, model: Model, opts: ScanOptions, walked: Any, sketches: dict[str, Any],
            pool_of_words: dict[str, str], resketch: list[str], keep_sketches: Callable[[list[Any]], None], *,
            scored_now: int, resumed: int, start: float, interrupted: bool) -> ScanResult:
    """The crawl-level pass over what the journal holds, then OUT, read back from the journal in input order."""
    keys = journal.in_order()
    clusters: list[dict[str, Any]] = []
    fields: dict[str, dict[str, Any]] = {}
    if opts.crawl_signals:
        from service.scan.crawl import analyse_sketches

        # A Ctrl-C before the pool had sketched every resumed record: the rest are sketched here, so that
        # the output keeps the crawl fields the records had before.
        for items in _resketch_chunks(journal, [k for k in resketch if k not in sketches]):
            keep_sketches(_sketch_chunk(items))

        analysis = analyse_sketches([sketches[k] for k in keys if k in sketches])
        sketches.clear()
        pool_of_words.clear()
        fields, clusters = analysis.fields, analysis.clusters
    report = ReportData(members=shown_members(clusters))
    counts = tally(())
    with OutputWriter(opts.out, opts.fmt) as out:
        for rec in journal.records(keys):
            f = fields.get(rec["_key"])
            if f is not None:
                apply_crawl_fields(rec, f, rec["_crawl"]["text"], model.thresholds)
            out.write(rec)
            tally_into(counts, rec)
            report.add(rec)
    if not interrupted:
        journal.path.unlink(missing_ok=True)
    return ScanResult(scored_now=scored_now, resumed=resumed, elapsed_s=time.perf_counter() - start,
                      interrupted=interrupted, clusters=clusters, counts=counts, report=report,
                      skipped=dict(sorted(walked.skipped.items())))


_Job = tuple[Callable[..., Any], tuple[Any, ...], Callable[[Any], None]]  # function, arguments, what takes its result


_Stub = dict[str, Any]  # what _sketch_of reads of a record: its _key, id and _crawl


def _resketch_chunks(journal: _Journal, keys: list[str]) -> Iterator[list[_Stub]]:
    """What :func:`_sketch_of` needs of the journaled records ``keys``, read back a chunk at a time."""
    chunk: list[_Stub] = []
    for rec in journal.records(keys):
        chunk.append({"_key": rec["_key"], "id": rec["id"], "_crawl": rec["_crawl"]})
        if len(chunk) >= RESKETCH_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sketch_chunk(items: list[_Stub]) -> list[Any]:
    """The sketches of journaled records; one that fails is left out (its record keeps no crawl fields),
    as :func:`score_document` does: a bug must not stop the run."""
    out = []
    for rec in items:
        try:
            out.append(_sketch_of(rec))
        except Exception:
            log.exception("sketching %s failed; it gets no crawl-level fields", rec["_key"])
    return out


def _jobs(resketch: Iterable[list[_Stub]], keep_sketches: Callable[[list[Any]], None],
          todo: Iterator[RawDocument], opts: ScanOptions, record: Callable[[list[dict[str, Any]]], None]) -> Iterator[_Job]:
    """The run's work in order: the resumed records' sketches, then the documents not yet scored, a chunk
    at a time. A document that is already an error record is recorded here, in order with the rest."""
    for items in resketch:
        yield _sketch_chunk, (items,), keep_sketches
    chunk: list[RawDocument] = []
    for doc in todo:
        if doc.error is not None:
            record([score_document(doc, _MODEL, opts.explain)])  # type: ignore[arg-type]
            continue
        chunk.append(doc)
        if len(chunk) >= CHUNK:
            yield _score_chunk, (chunk, opts.explain, opts.crawl_signals), record
            chunk = []
    if chunk:
        yield _score_chunk, (chunk, opts.explain, opts.crawl_signals), record


def _run_pool(jobs: Iterator[_Job], workers: int) -> None:
    """Run ``jobs`` on ``workers`` forked processes, at most four per worker in flight, handing each
    result to its callback in the parent as it finishes."""
    ctx = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker, initargs=(os.getpid(),))
    pending: dict[Future[Any], Callable[[Any], None]] = {}
    limit = workers * 4

    def drain(until: int) -> None:
        while len(pending) > until:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                pending.pop(f)(f.result())

    try:
        for fn, args, done in jobs:
            pending[pool.submit(fn, *args)] = done
            drain(limit - 1)
        drain(0)
    except BaseException:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# ------------------------------------------------------------------------------------ crawl signals


def apply_crawl_fields(rec: dict[str, Any], fields: dict[str, Any], text: str, thresholds: dict[str, float]) -> None:
    """Set one scored record's ``crawl`` fields (:func:`service.scan.crawl.analyse_sketches`' for its key;
    the repeated lines read from ``text``, the text its sketch was made of) and fold the crawl reasons
    into its score: ``document_score`` keeps the score the text had alone."""
    from service.scan.crawl import crawl_reasons, line_evidence

    f = {**fields, "crawl_repeated_lines": line_evidence(fields["crawl_repeated_lines"], text)}
    rec["crawl"] = f
    extra = crawl_reasons(f)
    if not extra:
        return
    # in the scorer's order (largest effect first); a reason of no weight (near_duplicate) is information
    rec["reasons"] = sorted(rec["reasons"] + extra, key=lambda x: (-abs(x["contribution"]), x["code"]))
    delta = sum(x["contribution"] for x in extra)
    if delta == 0:  # the score stands as the text alone gave it: no document_score, nothing recomputed
        return
    rec["document_score"] = rec["score"]
    logit = float(rec["explanation"]["logit"]) + delta
    score = 100.0 * float(expit(logit))
    rec["score"] = float(f"{score:.10g}")
    rec["verdict"] = verdict_for(score, thresholds)
    rec["explanation"] = {**rec["explanation"], "logit": round(logit, 4)}


# ------------------------------------------------------------------------------------------- output


def _public(rec: dict[str, Any]) -> dict[str, Any]:
    """A record as written: without the private fields, with ``key``, the document's place in the scan (how
    crawl fields name a document whose id other documents share)."""
    pub = {k: v for k, v in rec.items() if k not in _PRIVATE}
    if "_key" in rec:
        pub["key"] = rec["_key"]
    return pub


FLAT_COLUMNS = ("id", "path", "url", "key", "source_format", "score", "document_score", "verdict", "error_code", "error_message",
                "top_reasons", "language", "words", "duplicate_of", "duplicate_similarity", "story", "story_size",
                "model_version", "record")


def flat_row(rec: dict[str, Any]) -> dict[str, Any]:
    """A flat row for CSV and Parquet: the main fields as columns, the whole record as JSON in 'record'."""
    pub = _public(rec)
    crawl = pub.get("crawl") or {}
    err = pub.get("error") or {}
    return {
        "id": pub.get("id"), "path": pub.get("path"), "url": pub.get("url"), "key": pub.get("key"),
        "source_format": pub.get("source_format"),
        "score": pub.get("score"), "document_score": pub.get("document_score", pub.get("score")),
        "verdict": pub.get("verdict"), "error_code": err.get("code"), "error_message": err.get("message"),
        "top_reasons": ";".join(x["code"] for x in pub.get("reasons", []) if x["contribution"] <= -1.0)[:500],
        "language": (pub.get("language") or {}).get("code"), "words": (pub.get("stats") or {}).get("words"),
        "duplicate_of": crawl.get("duplicate_of"), "duplicate_similarity": crawl.get("duplicate_similarity"),
        "story": crawl.get("story"), "story_size": crawl.get("story_size"),
        "model_version": (pub.get("model") or {}).get("version"),
        "record": json.dumps(pub, ensure_ascii=False),
    }


class OutputWriter:
    """Writes records to ``out`` one at a time, atomically: into a temporary file beside it, renamed into
    place when the ``with`` block ends without an error (removed when it ends with one)."""

    PARQUET_BATCH = 2000  # rows per Parquet row group written, at most
    PARQUET_BATCH_BYTES = 64 * 1024 * 1024  # ... and about this much record JSON (large documents, --explain)

    def __init__(self, out: Path, fmt: str) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
        if fmt == "parquet" and compressed_name(out):
            raise ValueError(f"{out}: Parquet compresses its own columns; give a name without .gz")
        self.out, self.fmt = out, fmt
        self.gzip = compressed_name(out)  # OUT.jsonl.gz, OUT.csv.gz: written through gzip
        self.tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        self.raw: Any = None  # the file under gzip, closed after it
        self.rows: list[dict[str, Any]] = []
        self.row_bytes = 0
        self.fh: Any = None
        self.csv: Any = None
        self.parquet: Any = None

    def __enter__(self) -> OutputWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        # backslashreplace: an unpaired surrogate (the readers refuse or escape them) would be written as
        # its escape rather than fail the whole output at the end of a long scan
        if self.fmt == "jsonl":
            self.fh = self._text()
        elif self.fmt == "csv":
            import csv

            self.fh = self._text(newline="")
            self.csv = csv.DictWriter(self.fh, fieldnames=FLAT_COLUMNS)
            self.csv.writeheader()
        else:
            import pyarrow.parquet as pq

            self.parquet = pq.ParquetWriter(self.tmp, _parquet_schema())
        return self

    def _text(self, newline: str | None = None) -> Any:
        if not self.gzip:
            return self.tmp.open("w", encoding="utf-8", errors="backslashreplace", newline=newline)
        self.raw = self.tmp.open("wb")
        # mtime 0 and no file name in the header: the same records give the same bytes (a resumed scan's
        # OUT equals an uninterrupted one's)
        packed = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0)
        return io.TextIOWrapper(packed, encoding="utf-8", errors="backslashreplace", newline=newline)

    def write(self, rec: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.fh.write(json.dumps(_public(rec), ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self.csv.writerow(flat_row(rec))
        else:
            row = flat_row(rec)
            row["record"] = utf8_safe(row["record"])
            self.rows.append(row)
            self.row_bytes += len(row["record"])
            if len(self.rows) >= self.PARQUET_BATCH or self.row_bytes >= self.PARQUET_BATCH_BYTES:
                self._flush_rows()

    def _flush_rows(self) -> None:
        import pyarrow as pa

        self.parquet.write_table(pa.Table.from_pylist(self.rows, schema=_parquet_schema()))
        self.rows = []
        self.row_bytes = 0

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self.parquet is not None:
                if exc_type is None and self.rows:
                    self._flush_rows()
                self.parquet.close()
            if self.fh is not None:
                self.fh.close()
            if self.raw is not None:
                self.raw.close()
            if exc_type is None:
                with open(self.tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(self.tmp, self.out)
        finally:
            self.tmp.unlink(missing_ok=True)


def compressed_name(out: Path) -> bool:
    """Whether OUT's name asks for gzip (``scored.jsonl.gz``, ``scored.csv.gz``)."""
    return out.name.lower().endswith(".gz")


def named_format(out: Path) -> str | None:
    """The output format OUT's extension names (``.jsonl``, ``.csv``, ``.parquet``, each perhaps with ``.gz``
    after it), or None."""
    name = out.name.lower()
    suffix = Path(name[:-3] if name.endswith(".gz") else name).suffix.lstrip(".")
    return suffix if suffix in OUTPUT_FORMATS else None


def _parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("path", pa.string()), ("url", pa.string()), ("key", pa.string()),
        ("source_format", pa.string()),
        ("score", pa.float64()),
        ("document_score", pa.float64()), ("verdict", pa.string()), ("error_code", pa.string()),
        ("error_message", pa.string()), ("top_reasons", pa.string()), ("language", pa.string()),
        ("words", pa.int64()), ("duplicate_of", pa.string()), ("duplicate_similarity", pa.float64()),
        ("story", pa.string()), ("story_size", pa.int64()), ("model_version", pa.string()),
        ("record", pa.string()),
    ])


def write_output(records: Iterable[dict[str, Any]], out: Path, fmt: str) -> None:
    """Write all records to ``out`` atomically: a temporary file renamed into place."""
    with OutputWriter(out, fmt) as w:
        for r in records:
            w.write(r)


def tally(recs: Iterable[dict[str, Any]]) -> dict[str, Counter[str]]:
    """The counts the summary is made of, for some records: tallies of several shards add up (``+``)."""
    t: dict[str, Counter[str]] = {"verdicts": Counter(), "errors": Counter(), "reasons": Counter(),
                                  "near_duplicates": Counter()}
    for r in recs:
        tally_into(t, r)
    return t


def tally_into(t: dict[str, Counter[str]], r: dict[str, Any]) -> None:
    """Count one record into a :func:`tally`."""
    if "error" in r:
        t["errors"][r["error"]["code"]] += 1
        return
    t["verdicts"][r["verdict"]] += 1
    t["reasons"].update(x["code"] for x in r.get("reasons", []) if x["contribution"] <= -1.0)
    if (r.get("crawl") or {}).get("duplicate_of"):
        t["near_duplicates"]["documents"] += 1


def summarise(result: ScanResult, counts: dict[str, Counter[str]] | None = None) -> dict[str, Any]:
    """Counts for the terminal summary and the report (``counts``: a :func:`tally` to use instead of
    ``result.counts``)."""
    t = counts if counts is not None else result.counts
    verdicts, errors = t["verdicts"], t["errors"]
    return {
        "documents": sum(verdicts.values()) + sum(errors.values()), "scored": sum(verdicts.values()),
        "errors": sum(errors.values()), "verdicts": dict(verdicts), "error_codes": dict(errors),
        # every code, the most frequent first: the terminal shows the first 6; the report all of them (at
        # most as many as there are reason codes), so that none it leaves out reads as never lowering a score
        "top_reasons": t["reasons"].most_common(),
        "stories": len(result.clusters), "near_duplicates": t["near_duplicates"]["documents"],
        "docs_per_s": round(result.docs_per_s, 1), "elapsed_s": round(result.elapsed_s, 1),
        "scored_now": result.scored_now, "resumed": result.resumed, "interrupted": result.interrupted,
        "skipped": dict(result.skipped),
    }


def options_dict(opts: ScanOptions) -> dict[str, Any]:
    d = asdict(opts)
    d["out"] = str(opts.out)
    return d
