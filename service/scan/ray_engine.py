"""``thresher scan --engine ray``: the same scan on a Ray cluster, with Ray Data.

Three stages; only sketches and crawl fields need to cross the network, texts and records stay in the object
store of the node that read them (as long as Ray places the stage-3 tasks with their blocks):

1. **read + score + sketch** (``map_batches`` through an actor pool, :class:`_ScoreActor`): the driver walks
   the inputs (:func:`service.scan.sources.iter_units`: names and sizes only, nothing is opened) and makes a
   dataset of the units of work: one file each, so a JSONL or WARC shard is one unit. Each actor loads and
   warms the model once, reads its units with the local scan's reader (:func:`read_unit`), scores every
   document with :func:`service.scan.runner.score_document` and computes its crawl sketch
   (:func:`service.scan.crawl.doc_sketch`). Rows: the record (JSON), the text its sketch was made of, the
   pickled sketch. The result stays in the object store, on the nodes that made it.
2. **crawl signals** (one Ray task): only the sketch column is gathered (~9 KB per 4 KB document), sorted in
   input order, and :func:`service.scan.crawl.analyse_sketches` clusters it, as the local engine does. Its
   per-document fields go to the object store; only the story clusters come back to the driver.
3. **apply + write** (``map_batches`` as tasks, :func:`_apply_and_write`): each batch of records
   (in input order, ``preserve_order``) gets its crawl fields and reasons
   (:func:`service.scan.runner.apply_crawl_fields`) and is written as one shard, ``OUT/part-U-N.FMT``
   named after its first document's order, so the shards sorted by name are the records in input order.
   Each shard answers with its counts (:func:`service.scan.runner.tally`); the driver adds them up for the
   summary.

The records are the local engine's, field for field (the same reader, scorer, sketch and analysis).
``import ray`` happens only here, and this module is imported only for ``--engine ray``.
On a cluster, the inputs, the model folder and OUT must be at the same path on every node (a shared
filesystem), and every node needs ``pip install 'thresher[ray]'``.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import socket
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from service.scan.runner import (
    ScanOptions,
    ScanResult,
    apply_crawl_fields,
    score_document,
    tally,
    write_output,
)

__all__ = ["RayUnavailableError", "run_ray_scan", "connect", "ensure_ray", "read_shards", "INSTALL_HINT"]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'thresher[ray]'"
SHARD_DOCS = 1000  # records per output shard (one stage-3 batch)
BLOCKS_PER_WORKER = 50  # input blocks per scoring actor: files are dispatched to actors a block at a time


class RayUnavailableError(RuntimeError):
    """Ray is not installed (the ``ray`` extra)."""


def ensure_ray() -> None:
    """Raise :class:`RayUnavailableError` (saying how to install it) when Ray is not installed."""
    _ray()


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise RayUnavailableError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


def connect(address: str | None, workers: int | None) -> bool:
    """Connect to Ray: the cluster at ``address`` ("auto", "ray://host:port", "host:port"), else a local Ray
    on this machine with ``workers`` CPUs. Returns True when this call started the connection (and the
    caller should shut it down), False when Ray was already initialised in this process."""
    ray = _ray()
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING, "configure_logging": True}
    try:
        if address:
            _reachable(address)
            ray.init(address=address, **{k: v for k, v in quiet.items() if k != "include_dashboard"})
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, **quiet)
    except (ConnectionError, OSError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise RayUnavailableError(f"could not start or reach {where}: {type(exc).__name__}: {exc}") from exc
    return True


CONNECT_TIMEOUT_S = 5.0


def _reachable(address: str) -> None:
    """Fail fast when ``host:port`` (or ``ray://host:port``) does not answer: Ray itself retries for minutes.
    ``auto`` (the cluster this machine belongs to) is left to Ray."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected auto, host:port or ray://host:port, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {hostport} within {CONNECT_TIMEOUT_S:.0f} s ({exc})") from exc


def _data_context() -> Any:
    ray = _ray()
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # shards in input order, and the local engine's order
    ctx.enable_progress_bars = False
    # quiet: "no available CPUs" is what a pool of scoring actors holding every CPU looks like to Ray Data
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    # and "the operator only received 1 input(s)": a small crawl has fewer files than actors
    warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\.data\.")
    return ctx


# ------------------------------------------------------------------------------------ stage 1: scoring


class _ScoreActor:
    """Loads and warms the model once; then reads units of work, scores their documents and sketches them."""

    def __init__(self, model_dir: str, explain: bool, sketch: bool, text_field: str, max_bytes: int) -> None:
        from service.model import load_model
        from service.scoring import warm_up

        self.model = load_model(model_dir)
        warm_up(self.model)
        self.explain, self.sketch = explain, sketch
        self.text_field, self.max_bytes = text_field, max_bytes

    def __call__(self, batch: Any) -> Iterator[Any]:
        from service.scan import RawDocument
        from service.scan.sources import read_unit

        rows: list[dict[str, Any]] = []
        for blob in batch.column("unit").to_pylist():
            unit = pickle.loads(blob)
            docs = [unit] if isinstance(unit, RawDocument) else read_unit(
                unit, text_field=self.text_field, max_bytes=self.max_bytes)
            for doc in docs:
                rec = score_document(doc, self.model, self.explain, self.sketch)
                rows.append(_row(rec))
                if len(rows) >= 64:
                    yield _table(rows)
                    rows = []
        if rows:
            yield _table(rows)


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    sketch = rec.pop("_sketch", None)
    crawl = rec.pop("_crawl", None)
    return {"o0": rec["_order"][0], "o1": rec["_order"][1], "key": rec["_key"],
            "record": json.dumps(rec, ensure_ascii=False),
            "text": crawl["text"] if crawl is not None else None,
            "sketch": pickle.dumps(sketch, protocol=pickle.HIGHEST_PROTOCOL) if sketch is not None else None}


def _table(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    return pa.table({
        "o0": pa.array([r["o0"] for r in rows], pa.int64()),
        "o1": pa.array([r["o1"] for r in rows], pa.int64()),
        "key": pa.array([r["key"] for r in rows], pa.large_string()),
        "record": pa.array([r["record"] for r in rows], pa.large_string()),
        "text": pa.array([r["text"] for r in rows], pa.large_string()),
        "sketch": pa.array([r["sketch"] for r in rows], pa.large_binary()),
    })


# ------------------------------------------------------------------------------ stage 2: crawl signals


def _analyse(blocks: list[Any]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """In a Ray task: the crawl signals over the sketches of every block (``[ObjectRef]`` of Arrow tables
    with o0, o1, sketch), in input order."""
    import ray

    import service.scan.runner  # noqa: F401  (the write tasks that may follow in this process need it)
    from service.scan.crawl import analyse_sketches

    rows: list[tuple[int, int, bytes]] = []
    for table in ray.get(blocks):
        o0, o1, sk = (table.column(c).to_pylist() for c in ("o0", "o1", "sketch"))
        rows += [(a, b, s) for a, b, s in zip(o0, o1, sk, strict=True) if s is not None]
    rows.sort(key=lambda r: (r[0], r[1]))
    pool: dict[str, str] = {}
    sketches = []
    for i, (_, _, s) in enumerate(rows):
        sketches.append(pickle.loads(s).pooled(pool))
        rows[i] = (0, 0, b"")  # the pickled bytes go as the sketches come
    analysis = analyse_sketches(sketches)
    return analysis.fields, analysis.clusters


# ------------------------------------------------------------------------------- stage 3: apply, write


_FIELDS: dict[str, dict[str, dict[str, Any]]] = {}  # per worker process: the crawl fields, fetched once


def _fields(refs: list[Any]) -> dict[str, dict[str, Any]]:
    import ray

    if not refs:
        return {}
    ref = refs[0]  # a list around the ObjectRef: Ray Data passes it as it is
    key = ref.hex()
    if key not in _FIELDS:
        _FIELDS.clear()
        _FIELDS[key] = ray.get(ref)
    return _FIELDS[key]


def _apply_and_write(batch: Any, fields: list[Any], out_dir: str, fmt: str, thresholds: dict[str, float]) -> Any:
    """In a Ray task: add the crawl fields to a batch of records (in input order) and write it as one shard
    named after its first document's order; answers with the shard's counts."""
    import pyarrow as pa

    by_key = _fields(fields)
    recs: list[dict[str, Any]] = []
    cols = {c: batch.column(c).to_pylist() for c in ("o0", "o1", "key", "record", "text")}
    for key, raw, text in zip(cols["key"], cols["record"], cols["text"], strict=True):
        rec = json.loads(raw)
        f = by_key.get(key)
        if f is not None and text is not None and "error" not in rec:
            apply_crawl_fields(rec, f, text, thresholds)
        recs.append(rec)
    name = f"part-{cols['o0'][0]:09d}-{cols['o1'][0]:09d}.{fmt}"
    write_output(recs, Path(out_dir) / name, fmt)
    t = tally(recs)
    return pa.table({"shard": [name], "records": [len(recs)],
                     "tally": [json.dumps({k: dict(v) for k, v in t.items()})]})


# ------------------------------------------------------------------------------------------- the run


def run_ray_scan(paths: list[Path], model_dir: Path, thresholds: dict[str, float], opts: ScanOptions, *,
                 address: str | None = None, say: Any = None) -> tuple[ScanResult, dict[str, Counter[str]]]:
    """Scan ``paths`` on Ray and write the shards into the folder ``opts.out`` (replaced as a whole when the
    scan is complete). ``opts.workers``: scoring actors (and the CPUs of a local Ray). Returns the result
    (no records: they are in the shards) and the summary counts (:func:`service.scan.runner.tally`)."""
    from service.scan.sources import iter_units

    ray = _ray()
    start = time.perf_counter()
    started = connect(address, opts.workers)
    try:
        _data_context()
        workers = opts.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        units = list(iter_units(paths))
        if say:
            say(f"ray: {len(units)} units of work (files and walk errors), {workers} scoring actors")
        ds = ray.data.from_items([{"unit": pickle.dumps(u, protocol=pickle.HIGHEST_PROTOCOL)} for u in units],
                                 override_num_blocks=max(1, min(len(units), BLOCKS_PER_WORKER * workers)))
        scored = ds.map_batches(
            _ScoreActor, batch_size=1, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            fn_constructor_kwargs={"model_dir": str(Path(model_dir).resolve()), "explain": opts.explain,
                                   "sketch": opts.crawl_signals, "text_field": opts.text_field,
                                   "max_bytes": opts.max_bytes},
        ).materialize()
        n_docs = scored.count()
        t_scored = time.perf_counter()
        if say:
            say(f"ray: scored {n_docs} documents in {t_scored - start:.1f} s")

        clusters: list[dict[str, Any]] = []
        fields_ref: list[Any] = []
        if opts.crawl_signals:
            sketches = scored.select_columns(["o0", "o1", "sketch"]).materialize()
            analyse = ray.remote(num_cpus=1, num_returns=2)(_analyse)
            fields, clusters_ref = analyse.remote(sketches.to_arrow_refs())
            clusters = ray.get(clusters_ref)
            fields_ref = [fields]
            if say:
                say(f"ray: crawl signals over {n_docs} sketches in {time.perf_counter() - t_scored:.1f} s")

        out = Path(opts.out)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            # tasks, not actors: nothing to load but the fields (once per worker process), and the workers
            # Ray already runs (the analysis task's) start at once
            shards = scored.map_batches(
                _apply_and_write, batch_size=SHARD_DOCS, batch_format="pyarrow", num_cpus=1, concurrency=workers,
                fn_kwargs={"fields": fields_ref, "out_dir": str(tmp), "fmt": opts.fmt,
                           "thresholds": dict(thresholds)},
            ).take_all()
            if out.is_dir() and not out.is_symlink():
                old = out.with_name(f".{out.name}.old-{os.getpid()}")
                os.replace(out, old)
                shutil.rmtree(old, ignore_errors=True)
            elif out.exists():
                out.unlink()
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if started:
            ray.shutdown()
    counts: dict[str, Counter[str]] = {}
    for s in shards:
        for k, v in json.loads(s["tally"]).items():
            counts.setdefault(k, Counter()).update(v)
    for k in ("verdicts", "errors", "reasons", "near_duplicates"):
        counts.setdefault(k, Counter())
    elapsed = time.perf_counter() - start
    if say:
        say(f"ray: wrote {sum(s['records'] for s in shards)} records in {len(shards)} shards to {opts.out}")
    return ScanResult(scored_now=n_docs, resumed=0, elapsed_s=elapsed, clusters=clusters, counts=counts), counts


def read_shards(out: Path) -> list[dict[str, Any]]:
    """The records of a ``--engine ray`` output folder (JSONL shards, or Parquet shards' ``record`` column),
    in input order."""
    recs: list[dict[str, Any]] = []
    for shard in sorted(Path(out).glob("part-*")):
        if shard.suffix == ".jsonl":
            with shard.open(encoding="utf-8") as fh:
                recs += [json.loads(line) for line in fh]
        elif shard.suffix == ".parquet":
            import pyarrow.parquet as pq

            recs += [json.loads(r) for r in pq.read_table(shard, columns=["record"]).column("record").to_pylist()]
    return recs
