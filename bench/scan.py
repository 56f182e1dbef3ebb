"""`thresher scan` over a generated crawl, beside datatrove's filter stack on the same documents.

    python bench/scan.py [--docs N] [--workers N] [--crawl DIR] [--keep] [--seed S]
                         [--datatrove-docs N | --no-datatrove] [--engine local|ray]

1. Generates a crawl of --docs documents (default 20,000; mean ~4 KB of text) in a temporary folder, or in
   --crawl DIR (created; kept; a DIR that already holds files is scanned as it is, nothing generated).
   Mixed formats, as a crawler leaves them: JSONL shards of 1,000 records (id, url, title, text) for most
   documents, ~10 % single .txt files and ~1 % HTML pages (site navigation, the article in <p>s, related
   links and a footer around it). Texts are the project's own only: the written fixtures and the seeded
   generator's variants (`training.dataset.builtin_examples()`: reliable articles, hand-written unreliable
   pages, and scraped / spun / stuffed / dump / ... variants). Each document is a window of one of them
   (its headline, then its lines from a random point), continued with the lines of another text of the
   same label when it runs out, cut at a line boundary once it reaches its drawn size (2-6 KB, mean 4 KB).
   Every text is distinct (exact duplicates are redrawn); near-duplicates remain (the generator's variants
   of one article share most lines, and windows of one text overlap), as they do in a real crawl.

2. Runs `thresher scan CRAWL --out OUT --workers N --no-explain` as a subprocess and measures: wall time
   and docs/s of the whole command (model load, reading, scoring, crawl-level signals, writing); the
   scoring stage and the stage after it (crawl-level signals + writing the output), from the times the
   CLI's stderr lines arrive (its first "scanned 0/N" line, its last "scanned N/N" line, its summary); the
   peak RSS of the process tree (the CLI, its pool workers and multiprocessing's helpers: VmRSS summed,
   sampled from /proc every 0.2 s; shared copy-on-write pages count once per process) and the largest
   single process (getrusage(RUSAGE_CHILDREN).ru_maxrss, and the sampled maximum); CPU time of the tree;
   and the CPU time every other process on the machine used meanwhile (a busy neighbour changes figures).

3. Runs datatrove's Gopher repetition + Gopher quality + C4 + FineWeb filters (bench/_common.py's
   DatatroveStack) over the same documents, in ONE process (a subprocess of this script), timed after a
   warm-up and after reading: the texts are read with Thresher's own reader (HTML pages: the main text
   Thresher extracts), which is not timed. --datatrove-docs N runs it on N documents evenly spread over the
   crawl instead of all (it costs about twice Thresher's scoring CPU per document, in one process).

Prints a markdown table side by side. Needs the `bench` extra for datatrove; not ../shared.

With --engine ray (needs the `ray` extra): step 3 is replaced by `thresher scan CRAWL --out DIR --engine ray
--workers N --no-explain` (a local Ray with N CPUs, started by the command) on the same crawl, measured the
same way (its whole process tree: the CLI, Ray's GCS, raylet and workers; the stages from its "ray: ..."
lines), and both engines' records are compared field for field. Prints the two engines side by side.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import proc_stat, process_tree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

FIXTURES = ROOT / "training" / "fixtures"
SHARD_RECORDS = 1000
TXT_SHARE = 0.10
HTML_SHARE = 0.01
SIZE_MIN, SIZE_MODE, SIZE_MAX = 2048, 4096, 6144  # bytes of text per document (triangular: mean 4 KB)
SITES = 40
OVERSHOOT = 512  # bytes a document may end past its drawn size before its last line is cut
MIN_CUT = 200  # a cut line shorter than this is left out instead
SAMPLE_EVERY_S = 0.2
AIM_DOCS_PER_S = 1000.0  # the aim for a crawl scan on this 2-core machine
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ the crawl


def _site_names(rng: random.Random) -> list[str]:
    first = ["northgate", "riverside", "harbour", "valley", "capital", "lakeshore", "midland", "coastal",
             "prairie", "summit", "eastbank", "westfield", "pinecrest", "oakridge", "bayview", "granite",
             "meadow", "ironbridge", "silverton", "redcliff"]
    second = ["gazette", "courier", "herald", "tribune", "post", "times", "chronicle", "daily", "observer",
              "ledger"]
    names = sorted({f"{a}{b}.example" for a in first for b in second})
    rng.shuffle(names)
    return names[:SITES]


def _cut(line: str, room: int) -> str:
    """The start of ``line`` within ``room`` bytes, ended at a sentence end if there is one in its second
    half, else at a word boundary."""
    head = line.encode()[:room].decode("utf-8", "ignore")
    end = head.rfind(". ")
    if end >= len(head) // 2:
        return head[: end + 1]
    return head.rsplit(" ", 1)[0]


def _window(lines: list[str], rng: random.Random, target: int, out: list[str], size: int) -> int:
    """Append the lines of one text to ``out`` (its first line, then from a random point in its first
    third) until ``size`` reaches ``target``; a line that would overshoot by more than OVERSHOOT bytes is
    cut (a text that is one long line, like the generator's flattened pages, is trimmed). Returns the new
    size."""
    body = [i for i, ln in enumerate(lines) if ln.strip()]
    if not body:
        return size
    start = rng.randrange(1, max(2, len(body) // 3 + 1))
    for i in [body[0]] + body[start:]:
        if size >= target:
            break
        line = lines[i]
        if size + len(line.encode()) + 1 > target + OVERSHOOT:
            line = _cut(line, target - size)
            if len(line) < MIN_CUT:
                break
        out.append(line)
        size += len(line.encode()) + 1
    return size


def make_texts(n: int, seed: int) -> tuple[list[str], list[str], collections.Counter[str]]:
    """``n`` distinct texts of ~4 KB from the project's fixtures and generated variants; their labels and
    the origins they were built from (first text of each document)."""
    from training.dataset import builtin_examples

    examples = [ex for ex in builtin_examples(seed=seed) if ex.text.strip()]
    by_label: dict[str, list[int]] = collections.defaultdict(list)
    for i, ex in enumerate(examples):
        by_label[ex.label].append(i)
    split = [ex.text.split("\n") for ex in examples]
    rng = random.Random(seed)
    order: list[int] = []
    texts: list[str] = []
    labels: list[str] = []
    origins: collections.Counter[str] = collections.Counter()
    seen: set[bytes] = set()
    redrawn = 0
    while len(texts) < n:
        if not order:
            order = list(range(len(examples)))
            rng.shuffle(order)
        base = order.pop()
        target = int(rng.triangular(SIZE_MIN, SIZE_MAX, SIZE_MODE))
        out: list[str] = []
        size = _window(split[base], rng, target, out, 0)
        tries = 0
        while size < target and tries < 5:
            other = rng.choice(by_label[examples[base].label])
            if other != base:
                out.append("")
                size = _window(split[other], rng, target, out, size + 1)
            tries += 1
        text = "\n".join(out).strip()
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        if not text or digest in seen:
            redrawn += 1  # the next base instead: the same one could give the same text again
            if redrawn > 10 * n:
                sys.exit(f"could not draw {n} distinct texts (got {len(texts)})")
            continue
        seen.add(digest)
        texts.append(text)
        labels.append(examples[base].label)
        origins[(examples[base].origin or "written").split(":")[-1]] += 1
    return texts, labels, origins


def _pool() -> dict[str, list[str]]:
    pool: dict[str, list[str]] = collections.defaultdict(list)
    with (FIXTURES / "boilerplate_pool.jsonl").open(encoding="utf-8") as fh:
        for raw in fh:
            if raw.strip():
                row = json.loads(raw)
                pool[row["category"]].append(row["text"])
    return pool


def _html_page(text: str, site: str, pool: dict[str, list[str]], rng: random.Random) -> str:
    import html

    lines = [ln for ln in text.split("\n") if ln.strip()]
    esc = html.escape
    nav = "".join(f"<li><a href='/{i}'>{esc(x)}</a></li>" for i, x in enumerate(rng.sample(pool["navigation"], 8)))
    related = "".join(f"<li><a href='/r{i}'>{esc(x)}</a></li>" for i, x in enumerate(rng.sample(pool["related"], 5)))
    foot = "".join(f"<p>{esc(x)}</p>" for x in rng.sample(pool["legal"], 3) + rng.sample(pool["cookie"], 2))
    body = "".join(f"<p>{esc(ln)}</p>" for ln in lines[1:])
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(lines[0])} | {site}</title>"
            f"</head><body><header><nav><ul>{nav}</ul></nav></header><main><article><h1>{esc(lines[0])}</h1>"
            f"{body}</article><aside><h2>Related</h2><ul>{related}</ul></aside></main>"
            f"<footer>{foot}</footer></body></html>\n")


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.split("\n", 1)[0].lower())[:8]
    return "-".join(words) or "article"


def write_crawl(root: Path, n: int, seed: int) -> dict[str, Any]:
    """Write the crawl under ``root``; return what was written."""
    texts, labels, origins = make_texts(n, seed)
    rng = random.Random(seed + 1)
    sites = _site_names(rng)
    pool = _pool()
    n_html = max(1, round(n * HTML_SHARE)) if n >= 20 else 0
    n_txt = round(n * TXT_SHARE)
    kinds = ["html"] * n_html + ["txt"] * n_txt + ["jsonl"] * (n - n_html - n_txt)
    rng.shuffle(kinds)
    files = collections.Counter()
    shard: list[str] = []
    shard_no = 0

    def flush() -> None:
        nonlocal shard, shard_no
        if shard:
            path = root / "shards" / f"crawl-{shard_no:05d}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(shard), encoding="utf-8")
            files["jsonl"] += 1
            shard, shard_no = [], shard_no + 1

    for i, (text, kind) in enumerate(zip(texts, kinds, strict=True)):
        site = sites[rng.randrange(len(sites))]
        doc_id = f"doc-{i:06d}"
        if kind == "jsonl":
            url = f"https://www.{site}/{2024 + i % 2}/{_slug(text)}-{i}"
            title = text.split("\n", 1)[0][:200]
            shard.append(json.dumps({"id": doc_id, "url": url, "title": title, "text": text}, ensure_ascii=False) + "\n")
            if len(shard) >= SHARD_RECORDS:
                flush()
            continue
        folder = root / site / ("pages" if kind == "txt" else "html")
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "txt":
            (folder / f"{doc_id}.txt").write_text(text + "\n", encoding="utf-8")
        else:
            (folder / f"{doc_id}.html").write_text(_html_page(text, site, pool, rng), encoding="utf-8")
        files[kind] += 1
    flush()
    return {"documents": n, "files": dict(files), "kinds": dict(collections.Counter(kinds)),
            "labels": dict(collections.Counter(labels)), "origins": dict(origins),
            "mean_text_kb": sum(len(t.encode()) for t in texts) / n / 1024}


def describe_crawl(root: Path) -> dict[str, Any]:
    """Documents, formats, mean text size and bytes on disk of a crawl, read with Thresher's reader."""
    from service.scan.sources import iter_documents

    kinds: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    text_bytes = 0
    for doc in iter_documents([root]):
        if doc.error is not None:
            errors[doc.error[0]] += 1
            continue
        kinds[doc.source_format] += 1
        text_bytes += len((doc.text or doc.html or "").encode())
    disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    n = sum(kinds.values())
    return {"documents": n, "formats": dict(kinds), "read_errors": dict(errors),
            "mean_kb": text_bytes / max(n, 1) / 1024, "disk_mib": disk / 2**20}


# -------------------------------------------------------------------------------------- process trees


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK


@dataclass
class TreeSampler:
    """Samples the process tree under ``pid`` every 0.2 s: per phase (set by the caller), the largest sum
    of VmRSS over the tree and the largest single process; the most processes at once; the CPU time of
    every process seen (at its last sample: a process's final moments are missed)."""

    pid: int
    phase: str = "run"
    peak_tree_kib: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    peak_single_kib: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    max_procs: int = 0
    cpu: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = process_tree(self.pid)
            rss = [_rss_kib(p) for p in tree]
            phase = self.phase
            self.peak_tree_kib[phase] = max(self.peak_tree_kib[phase], sum(rss))
            self.peak_single_kib[phase] = max(self.peak_single_kib[phase], max(rss, default=0))
            self.max_procs = max(self.max_procs, sum(1 for r in rss if r))
            for p in tree:
                fields = proc_stat(p)
                if fields is not None:
                    self.cpu[p] = (int(fields[11]) + int(fields[12])) / CLK_TCK
            self._stop.wait(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mib(self, single: bool = False) -> float:
        return max((self.peak_single_kib if single else self.peak_tree_kib).values(), default=0) / 1024


def _children_usage() -> tuple[float, int]:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss


# ------------------------------------------------------------------------------------ thresher scan


_PROGRESS = re.compile(r"scanned (\d+)/(\d+) documents")
_RAY_UNITS = re.compile(r"^ray: (\d+) units of work")
_RAY_SCORED = re.compile(r"^ray: scored (\d+) documents")


def read_records(out: Path) -> list[dict[str, Any]]:
    """The records of a scan's output: a JSONL file (local engine) or a folder of shards (ray engine)."""
    if out.is_dir():
        from service.scan.ray_engine import read_shards

        return read_shards(out)
    with out.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _ray_stages(lines: list[tuple[float, str]], wall: float) -> dict[str, Any]:
    units = next((t for t, ln in lines if _RAY_UNITS.search(ln)), None)
    scored = next(((t, int(m[1])) for t, ln in lines if (m := _RAY_SCORED.search(ln))), None)
    if units is None or scored is None:
        return {}
    after = next((t for t, ln in lines if t > scored[0] and ln.startswith("ray: wrote")), wall)
    return {"startup_s": units, "scoring_s": scored[0] - units,
            "scoring_docs_per_s": scored[1] / (scored[0] - units) if scored[0] > units else None,
            "after_s": after - scored[0]}


def run_thresher(crawl: Path, out: Path, workers: int, n_docs: int, engine: str = "local") -> dict[str, Any]:
    exe = Path(sys.executable).parent / "thresher"
    cmd = [str(exe) if exe.exists() else "thresher", "scan", str(crawl), "--out", str(out),
           "--workers", str(workers), "--no-explain"]
    if engine == "ray":
        cmd += ["--engine", "ray"]
    print("$ " + " ".join(cmd), flush=True)
    cpu0, _ = _children_usage()
    self0 = time.process_time()
    busy0 = machine_busy_seconds()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    sampler = TreeSampler(proc.pid, phase="start-up")
    lines: list[tuple[float, str]] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append((time.perf_counter() - t0, line.rstrip("\n")))
        if m := _PROGRESS.search(line):
            sampler.phase = "after" if int(m[1]) >= int(m[2]) else "scoring"
        elif _RAY_UNITS.search(line):
            sampler.phase = "scoring"
        elif _RAY_SCORED.search(line):
            sampler.phase = "after"
        print(f"  [{lines[-1][0]:7.1f} s] {line.rstrip()}", flush=True)
    rc = proc.wait()
    wall = time.perf_counter() - t0
    sampler.stop()
    busy = machine_busy_seconds() - busy0
    own = time.process_time() - self0  # this script: the sampler and the stderr reader
    cpu1, maxrss_child = _children_usage()
    if rc != 0:
        sys.exit(f"thresher scan exited with code {rc}")
    progress = [(t, int(m[1]), int(m[2])) for t, ln in lines if (m := _PROGRESS.search(ln))]
    stage: dict[str, Any] = _ray_stages(lines, wall) if engine == "ray" else {}
    if progress:
        first_t, first_done, total = progress[0]
        done_t = next((t for t, d, tot in progress if d >= tot), None)
        after = [t for t, ln in lines if done_t is not None and t > done_t and ln.strip()]
        if done_t is not None:
            stage = {"startup_s": first_t, "scoring_s": done_t - first_t,
                     "scoring_docs_per_s": (total - first_done) / (done_t - first_t) if done_t > first_t else None,
                     "after_s": (after[0] if after else wall) - done_t}
    text = "\n".join(ln for _, ln in lines)
    summary = {}
    for key, pattern in (("near_duplicates", r"near-duplicates\W+(\d+)"), ("stories", r"story clusters\W+(\d+)"),
                         ("cli_docs_per_s", r"([\d.]+) docs/s \(")):
        if m := re.search(pattern, text):
            summary[key] = float(m[1])
    recs = read_records(out)
    records, errors = len(recs), sum(1 for r in recs if "error" in r)
    del recs
    out_bytes = sum(p.stat().st_size for p in out.iterdir()) if out.is_dir() else out.stat().st_size
    cpu_parent = sampler.cpu.get(proc.pid, 0.0)
    # Ray's processes are not all waited for by the CLI, so RUSAGE_CHILDREN misses most of their CPU: take
    # the larger of it and the sampled tree (which misses only each process's last 0.2 s)
    cpu_tree = max(cpu1 - cpu0, sum(sampler.cpu.values()))
    return {"wall_s": wall, "docs_per_s": n_docs / wall,
            "peak_tree_mib": sampler.peak_mib(), "peak_single_sampled_mib": sampler.peak_mib(single=True),
            "peak_tree_by_phase_mib": {k: v / 1024 for k, v in sampler.peak_tree_kib.items()},
            "ru_maxrss_child_mib": maxrss_child / 1024, "max_procs": sampler.max_procs,
            "cpu_s": cpu_tree, "cpu_parent_s": cpu_parent, "cpu_others_in_tree_s": sum(sampler.cpu.values()) - cpu_parent,
            "bench_cpu_s": own, "other_cpu_s": max(0.0, busy - cpu_tree - own),
            "records": records, "error_records": errors, "out_mib": out_bytes / 2**20, **stage, **summary}


# ----------------------------------------------------------------------------------------- datatrove


def datatrove_child(crawl: Path, limit: int | None) -> None:
    """In a process of its own: read the crawl's texts (not timed), warm up, run the filter stack over
    them and print one JSON line with the figures."""
    from _common import DatatroveStack

    from service.scan.sources import extract_html, iter_documents

    docs = [d for d in iter_documents([crawl]) if d.error is None]
    if limit is not None and limit < len(docs):
        step = len(docs) / limit
        docs = [docs[int(i * step)] for i in range(limit)]
    texts = [extract_html(d.html, d.url)[0] if d.html is not None else (d.text or "") for d in docs]
    del docs
    stack = DatatroveStack()
    stack.score("Warm-up text. It loads the tokenizer once.")
    passed: collections.Counter[int] = collections.Counter()
    t0, c0 = time.perf_counter(), time.process_time()
    last = t0
    for i, t in enumerate(texts, 1):
        passed[int(stack.score(t))] += 1
        now = time.perf_counter()
        if now - last >= 30:
            last = now
            print(f"datatrove: {i}/{len(texts)}, {i / (now - t0):.1f} docs/s", file=sys.stderr, flush=True)
    dt = time.perf_counter() - t0
    print(json.dumps({"docs": len(texts), "seconds": dt, "cpu_s": time.process_time() - c0,
                      "mean_kb": sum(len(t.encode()) for t in texts) / max(len(texts), 1) / 1024,
                      "passed": {str(k): v for k, v in sorted(passed.items())},
                      "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


def run_datatrove(crawl: Path, limit: int | None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--datatrove-child", str(crawl)]
    if limit is not None:
        cmd += ["--datatrove-docs", str(limit)]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    out, _ = proc.communicate()
    sampler.stop()
    if proc.returncode != 0:
        sys.exit(f"the datatrove run exited with code {proc.returncode}")
    res = json.loads(out.strip().splitlines()[-1])
    res.update(docs_per_s=res["docs"] / res["seconds"], peak_mib=sampler.peak_mib(),
               wall_s=time.perf_counter() - t0)
    return res


# ------------------------------------------------------------------------------------------- report


def _f(x: Any, fmt: str = "{:.1f}") -> str:
    return "–" if x is None else fmt.format(x)


def table(th: dict[str, Any], dt: dict[str, Any] | None, workers: int, n: int) -> str:
    phase = th["peak_tree_by_phase_mib"]
    dash = "–"
    rows = [
        "| | Thresher `scan` | datatrove stack |",
        "|---|---|---|",
        f"| processes | CLI + {workers} pool workers | 1 (single process) |",
        f"| documents | {n:,} | {dt['docs']:,}{' (evenly spread sample)' if dt['docs'] < n else ''} |" if dt
        else f"| documents | {n:,} | – |",
        f"| wall time, whole command (s) | {th['wall_s']:.1f} | {dash} |",
        f"| **docs/s, whole command** | **{th['docs_per_s']:.1f}** | {dash} |",
        f"| start-up: imports, model load, counting the documents (s) | {_f(th.get('startup_s'))} | {dash} |",
        f"| scoring stage (s) | {_f(th.get('scoring_s'))} | {_f(dt and dt['seconds'])} |",
        f"| **docs/s, scoring stage** | **{_f(th.get('scoring_docs_per_s'))}** | **{_f(dt and dt['docs_per_s'])}** |",
        f"| crawl-level signals + writing the output, one process (s) | {_f(th.get('after_s'))} | {dash} |",
        f"| CPU time, all processes (s) | {th['cpu_s']:.0f} | {_f(dt and dt['cpu_s'], '{:.0f}')} |",
        f"| CPU ms per document: scoring workers / CLI process | {1000 * th['cpu_others_in_tree_s'] / n:.1f} / "
        f"{1000 * th['cpu_parent_s'] / n:.1f} | " + (f"{1000 * dt['cpu_s'] / dt['docs']:.1f} |" if dt else "– |"),
        f"| peak RSS, process tree sum (MiB): scoring stage / crawl-level stage | {phase.get('scoring', 0):.0f} / "
        f"{phase.get('after', 0):.0f} | {_f(dt and dt['peak_mib'], '{:.0f}')} |",
        f"| peak RSS, largest single process (MiB): sampled / ru_maxrss | {th['peak_single_sampled_mib']:.0f} / "
        f"{th['ru_maxrss_child_mib']:.0f} | {_f(dt and dt['peak_mib'], '{:.0f}')} / "
        f"{_f(dt and dt['ru_maxrss_mib'], '{:.0f}')} |",
        f"| aim (issue) | ≥ {AIM_DOCS_PER_S:,.0f} docs/s | {dash} |",
    ]
    return "\n".join(rows)


def engines_table(lo: dict[str, Any], ry: dict[str, Any], workers: int, n: int) -> str:
    def both(key: str, fmt: str = "{:.1f}") -> str:
        return f"{_f(lo.get(key), fmt)} | {_f(ry.get(key), fmt)}"

    lp, rp = lo["peak_tree_by_phase_mib"], ry["peak_tree_by_phase_mib"]
    rows = [
        "| | `--engine local` | `--engine ray` (local Ray) |",
        "|---|---|---|",
        f"| processes (most at once) | CLI + {workers} pool workers ({lo['max_procs']}) | CLI + Ray's GCS, raylet, "
        f"agents + {workers} scoring actors ({ry['max_procs']}) |",
        f"| documents | {n:,} | {n:,} |",
        f"| wall time, whole command (s) | {both('wall_s')} |",
        f"| **docs/s, whole command** | **{lo['docs_per_s']:.1f}** | **{ry['docs_per_s']:.1f}** |",
        f"| start-up (s): local: imports, model load, counting; ray: + starting Ray, the walk | {both('startup_s')} |",
        f"| scoring stage (s) | {both('scoring_s')} |",
        f"| **docs/s, scoring stage** | **{_f(lo.get('scoring_docs_per_s'))}** | **{_f(ry.get('scoring_docs_per_s'))}** |",
        f"| crawl-level signals + writing (s) | {both('after_s')} |",
        f"| CPU time, process tree (s) | {both('cpu_s', '{:.0f}')} |",
        f"| CPU ms per document, whole command | {1000 * lo['cpu_s'] / n:.1f} | {1000 * ry['cpu_s'] / n:.1f} |",
        f"| peak RSS, process tree sum (MiB): scoring / after | {lp.get('scoring', 0):.0f} / {lp.get('after', 0):.0f} | "
        f"{rp.get('scoring', 0):.0f} / {rp.get('after', 0):.0f} |",
        f"| peak RSS, largest single process (MiB) | {both('peak_single_sampled_mib', '{:.0f}')} |",
        f"| other processes on the machine meanwhile (CPU s) | {both('other_cpu_s', '{:.0f}')} |",
        f"| output | {lo['records']:,} records, {lo['out_mib']:.0f} MiB | {ry['records']:,} records, "
        f"{ry['out_mib']:.0f} MiB |",
    ]
    return "\n".join(rows)


def compare_records(a: Path, b: Path) -> dict[str, Any]:
    """Both engines' records, field for field."""
    ra, rb = read_records(a), read_records(b)
    differ = sum(1 for x, y in zip(ra, rb, strict=False) if x != y) + abs(len(ra) - len(rb))
    return {"local": len(ra), "ray": len(rb), "differing": differ,
            "ids_equal": [r["id"] for r in ra] == [r["id"] for r in rb],
            "scores_equal": [r.get("score") for r in ra] == [r.get("score") for r in rb],
            "crawl_equal": [r.get("crawl") for r in ra] == [r.get("crawl") for r in rb]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20_000, help="documents to generate (default 20,000)")
    ap.add_argument("--workers", type=int, default=2, help="thresher scan --workers (default 2)")
    ap.add_argument("--crawl", type=Path, default=None, help="generate the crawl here (kept); reuse it if not empty")
    ap.add_argument("--keep", action="store_true", help="keep the temporary crawl and the scan's output")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datatrove-docs", type=int, default=None, help="datatrove on N documents spread over the crawl")
    ap.add_argument("--no-datatrove", action="store_true")
    ap.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="ray: also run the scan on a local Ray and compare the engines (instead of datatrove)")
    ap.add_argument("--datatrove-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.datatrove_child is not None:
        datatrove_child(args.datatrove_child, args.datatrove_docs)
        return

    work = Path(tempfile.mkdtemp(prefix="thresher-bench-scan-"))
    crawl = args.crawl.resolve() if args.crawl else work / "crawl"
    try:
        if crawl.is_dir() and any(crawl.iterdir()):
            print(f"reusing the crawl in {crawl}", flush=True)
        else:
            crawl.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            made = write_crawl(crawl, args.docs, args.seed)
            print(f"generated {made['documents']:,} documents in {time.perf_counter() - t0:.1f} s: files "
                  f"{made['files']}, labels {made['labels']}, built from {made['origins']}", flush=True)
        info = describe_crawl(crawl)
        n = info["documents"]
        print(f"crawl {crawl}: {n:,} documents, formats {info['formats']}, mean {info['mean_kb']:.2f} KB "
              f"(HTML pages counted as HTML), {info['disk_mib']:.0f} MiB on disk; read errors {info['read_errors']}",
              flush=True)
        th = run_thresher(crawl, work / "scan.jsonl", args.workers, n)
        print(json.dumps({"thresher": th}), flush=True)
        if args.engine == "ray":
            ry = run_thresher(crawl, work / "scan-ray", args.workers, n, engine="ray")
            print(json.dumps({"thresher_ray": ry}), flush=True)
            same = compare_records(work / "scan.jsonl", work / "scan-ray")
            print()
            print(f"{n:,} documents (mean {info['mean_kb']:.2f} KB, formats {info['formats']}), {os.cpu_count()} cores, "
                  f"--workers {args.workers}; other processes used {th['other_cpu_s']:.0f} CPU s during the local scan "
                  f"({th['other_cpu_s'] / th['wall_s']:.2f} cores on average) and {ry['other_cpu_s']:.0f} CPU s during "
                  f"the Ray scan ({ry['other_cpu_s'] / ry['wall_s']:.2f} cores)")
            print(f"records compared: {same}")
            print()
            print(engines_table(th, ry, args.workers, n))
            return
        dt = None
        if not args.no_datatrove:
            dt = run_datatrove(crawl, args.datatrove_docs)
            print(json.dumps({"datatrove": dt}), flush=True)
        print()
        print(f"{n:,} documents (mean {info['mean_kb']:.2f} KB, formats {info['formats']}), {os.cpu_count()} cores; "
              f"during the scan other processes used {th['other_cpu_s']:.0f} CPU s "
              f"({th['other_cpu_s'] / th['wall_s']:.2f} cores on average), this script {th['bench_cpu_s']:.0f} s")
        print(f"scan output: {th['records']:,} records ({th['error_records']} errors), {th['out_mib']:.0f} MiB; "
              f"near-duplicates {_f(th.get('near_duplicates'), '{:.0f}')}, story clusters "
              f"{_f(th.get('stories'), '{:.0f}')}")
        if dt:
            print(f"datatrove: filters passed (0-4) {dt['passed']}; mean {dt['mean_kb']:.2f} KB")
        print()
        print(table(th, dt, args.workers, n))
    finally:
        if args.keep or args.crawl:
            print(f"kept: {work if args.keep else crawl}", flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
