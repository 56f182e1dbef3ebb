"""The HTTP service under load: keep-alive clients post ~4 KB articles to POST /v1/score for a while.

    python bench/load.py [--duration S] [--workers N] [--clients C] [--ramp S] [--explain/--no-explain]
                         [--compare/--no-compare] [--vary workers|explain] [--url URL [--pid PID]] [--rate R]
    python bench/load.py --profile N [--explain/--no-explain]

By default one invocation runs the same load twice, side by side, each phase against its own server
(`thresher serve` on a free loopback port, started here and stopped afterwards): 1 worker, then
--workers (default 2). `--vary explain` compares explain=true with explain=false at --workers instead;
`--no-compare` runs one phase. Each phase waits until every worker is ready, runs the load for a short
warm-up (not counted), then for --duration seconds (default 60; `--duration 5` for a quick try).

Articles: ~4 KB windows of consecutive lines over the project's own reliable fixtures
(training/fixtures/reliable_*.jsonl), cut at a line boundary, each window starting at another line. There
are about 1,400 distinct ones, shuffled with a fixed seed and taken in turn by all clients, so no
cache keyed by the text (textstat keeps the last 128 texts) answers a repeated request.

Closed loop by default: every client posts as soon as its previous answer arrived, so 16 requests are
always in flight and the latency is whatever the throughput makes it (Little's law: p50 ≈ 16 / req/s).
--rate R is the open loop a real population of users is: the clients together offer R requests per second,
client i's k-th request due at its start + k × clients / R (the clients interleaved evenly), and a request's
latency counts from when it was due, so one sent late because its client still waited for an answer is
charged for that wait (no coordinated omission). It answers "at R req/s, how long do clients wait?".

Reported per phase: requests, req/s (answers 200 per second of wall time), latency p50/p90/p99/max as the
client sees it (queueing in the server included), the server's own scoring time (the answer's
elapsed_ms), errors by kind (HTTP status or exception class), the server's CPU time (parent and children,
from /proc), and the RSS of the server's process tree (sum over processes, from /proc) after warm-up and
at the end. The load generator runs on the same machine: its CPU time is reported, and so is the CPU time
of every other process on the machine during the phase (from /proc/stat), since a busy neighbour changes
every figure.

Connections: every client opens its one connection during the warm-up, client i at i * --ramp / clients
seconds, and keeps it to the end. With --ramp 0 all sixteen arrive at once and, with several workers, the
first worker to wake accepts them all (asyncio accepts whatever is queued in one go): the other workers
idle. That is what a burst of keep-alive clients does to `thresher serve --workers N`; the report shows how
many connections each worker held and the CPU each one used.

--profile N scores N of the same articles in this process (no HTTP) under cProfile and prints where the
time goes: per step of score_text and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import proc_stat, process_tree

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "training" / "fixtures"
ARTICLE_BYTES = 4096  # a window grows line by line up to this size
MIN_ARTICLE_BYTES = 3584  # windows that end up shorter (a very long next line) are left out
SHUFFLE_SEED = 0
WARMUP_SECONDS = 3.0
RAMP_SECONDS = 2.0  # connections opened over the warm-up's first 2 s, not in one burst (see the notes above)
READY_TIMEOUT = 180.0  # seconds for every worker to load and warm its model (~10 s each here)
REQUEST_TIMEOUT = 60.0
AIM = {"p50": 5.0, "p99": 25.0, "rps": 300.0}  # the aim, with 2 workers and 0 errors
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------- articles


def build_articles(size: int = ARTICLE_BYTES, min_size: int = MIN_ARTICLE_BYTES) -> list[str]:
    """~4 KB texts: from every line of the reliable fixtures (read in order, as one stream of lines), the
    longest run of consecutive lines that stays within ``size`` bytes. Shuffled with a fixed seed."""
    lines: list[str] = []
    for path in sorted(FIXTURES.glob("reliable_*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for raw in fh:
                if raw.strip():
                    lines += [ln for ln in json.loads(raw)["text"].split("\n") if ln.strip()]
    if not lines:
        sys.exit(f"no reliable_*.jsonl fixtures with text in {FIXTURES}")
    sizes = [len(ln.encode()) + 1 for ln in lines]
    articles: list[str] = []
    for start in range(len(lines)):
        end, total = start, 0
        while total + sizes[end % len(lines)] <= size and end - start < len(lines):
            total += sizes[end % len(lines)]
            end += 1
        if total >= min_size:
            articles.append("\n".join(lines[i % len(lines)] for i in range(start, end)))
    articles = sorted(set(articles))
    random.Random(SHUFFLE_SEED).shuffle(articles)
    return articles


# ------------------------------------------------------------------------------------ server process


def rss_mib(pids: list[int]) -> float:
    """Sum of VmRSS over the processes (shared pages are counted once per process)."""
    kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kib += int(line.split()[1])
        except OSError:
            pass
    return kib / 1024


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process so far."""
    out = {}
    for pid in pids:
        fields = proc_stat(pid)
        if fields is not None:
            out[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def worker_processes(tree: list[int]) -> list[int]:
    """The processes of the tree that serve requests: the root alone when it has no children, else its
    children other than multiprocessing's resource tracker (uvicorn's supervisor serves nothing)."""
    if len(tree) <= 1:
        return tree
    out = []
    for pid in tree[1:]:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            out.append(pid)
    return sorted(out)


def connections_by_process(pids: list[int], port: int) -> dict[int, int]:
    """Established TCP connections on local ``port`` that each process holds (/proc/net/tcp and tcp6)."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                inodes.add(parts[9])
    out = {}
    for pid in pids:
        n = 0
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            n += link.startswith("socket:[") and link[8:-1] in inodes
        out[pid] = n
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK  # user..steal; guest time is inside user


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def thresher_command() -> list[str]:
    script = Path(sys.executable).parent / "thresher"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


class Server:
    """``thresher serve`` on a free loopback port; ready once every worker has loaded and warmed its model."""

    def __init__(self, workers: int, model: str | None) -> None:
        self.workers, self.model = workers, model
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="thresher-load-"))
        self.log_path = self.tmp / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [*thresher_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(self.workers)]
        if self.model:
            cmd += ["--model", self.model]
        env = {k: v for k, v in os.environ.items() if k not in ("THRESHER_API_KEYS", "PROMETHEUS_MULTIPROC_DIR")}
        if self.workers > 1:
            (self.tmp / "metrics").mkdir()
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.tmp / "metrics")  # removed with self.tmp
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """/readyz answers 200 and the log shows every worker's startup complete (a worker only accepts
        connections after its startup, so /readyz alone may come from the first worker ready)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the server exited with code {self.proc.returncode}:\n{self.log_tail()}")
            started = self.log_path.read_text(errors="replace").count("Application startup complete")
            if started >= self.workers:
                try:
                    if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.25)
        self.stop()
        sys.exit(f"the server was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            tree = process_tree(self.proc.pid)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                for pid in tree:  # only the processes this script started
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- load


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    scoring_ms: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    elapsed: float = 0.0
    late: int = 0  # open loop: requests sent more than 1 ms after they were due


class Load:
    """``clients`` keep-alive connections (one httpx.AsyncClient each), kept from the warm-up to the end, so
    that the measured phase runs on the connections the server accepted during the warm-up. Every client
    takes the next article in turn and posts it as soon as its previous answer arrived."""

    def __init__(self, base_url: str, bodies: list[bytes], turn: itertools.count[int], clients: int,
                 explain: bool, rate: float | None = None) -> None:
        self.url = f"{base_url}/v1/score"
        self.bodies, self.turn = bodies, turn
        self.rate = rate  # offered requests per second over all clients (open loop); None: closed loop
        self.params = {"explain": "true" if explain else "false"}
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.clients = [httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) for _ in range(clients)]

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients))

    async def _loop(self, client: httpx.AsyncClient, delay: float, deadline: float, tally: Tally) -> None:
        await asyncio.sleep(delay)
        headers = {"content-type": "application/json"}
        interval = len(self.clients) / self.rate if self.rate else 0.0
        due = time.perf_counter()
        while time.perf_counter() < deadline:
            if self.rate:
                # Open loop: this client's k-th request is due at its start + k * interval. Latency counts from
                # when it was due, so a request sent late (its client still waiting for the previous answer)
                # is charged for the wait, as a user arriving then would be (no coordinated omission).
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                    if time.perf_counter() >= deadline:
                        break
                else:
                    tally.late += now - due > 0.001
                t0 = due
                due += interval
            else:
                t0 = time.perf_counter()
            body = self.bodies[next(self.turn) % len(self.bodies)]
            try:
                r = await client.post(self.url, content=body, headers=headers, params=self.params)
                dt = (time.perf_counter() - t0) * 1000
            except httpx.HTTPError as exc:
                tally.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.1)  # a refused or broken connection fails at once: do not spin on it
                continue
            if r.status_code != 200:
                tally.errors[f"HTTP {r.status_code}"] += 1
                continue
            try:
                tally.scoring_ms.append(float(r.json()["elapsed_ms"]))
            except (ValueError, KeyError, TypeError):
                tally.errors["200 without a score"] += 1
                continue
            tally.latencies_ms.append(dt)

    async def run(self, seconds: float, *, ramp: float = 0.0, probe: Callable[[], None] | None = None) -> Tally:
        """Load for ``seconds``; client i starts ``i * ramp / clients`` seconds late (with a rate and no ramp,
        ``i / rate`` seconds late, so the clients' requests interleave evenly); ``probe`` runs halfway."""
        tally = Tally()
        start = time.perf_counter()
        deadline = start + seconds
        n = len(self.clients)
        step = ramp / n if ramp or not self.rate else 1.0 / self.rate
        tasks = [self._loop(c, i * step, deadline, tally) for i, c in enumerate(self.clients)]

        async def halfway() -> None:
            await asyncio.sleep(seconds / 2)
            if probe is not None:
                probe()

        await asyncio.gather(*tasks, halfway())
        tally.elapsed = time.perf_counter() - start
        return tally


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Phase:
    label: str
    workers: int | None
    explain: bool
    tally: Tally
    rss_start: float | None = None
    rss_end: float | None = None
    server_cpu: float | None = None
    worker_cpu: list[float] = field(default_factory=list)  # CPU seconds of each worker during the phase
    worker_connections: list[int] = field(default_factory=list)  # connections each worker held, halfway
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    rate: float | None = None  # offered req/s (open loop), or None (closed loop)

    @property
    def ok(self) -> int:
        return len(self.tally.latencies_ms)

    @property
    def requests(self) -> int:
        return self.ok + sum(self.tally.errors.values())

    @property
    def rps(self) -> float:
        return self.ok / self.tally.elapsed if self.tally.elapsed else 0.0

    @property
    def other_cpu(self) -> float:
        """CPU time of processes neither the server's nor this script's (another job on the machine)."""
        return max(0.0, self.machine_cpu - self.client_cpu - (self.server_cpu or 0.0))

    def pct(self, q: float) -> float:
        return percentile(sorted(self.tally.latencies_ms), q)

    def errors_text(self) -> str:
        if not self.tally.errors:
            return "0"
        kinds = ", ".join(f"{k} × {n}" for k, n in self.tally.errors.most_common())
        return f"{sum(self.tally.errors.values())} ({kinds})"


def _client_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_phase(label: str, *, workers: int | None, explain: bool, args: argparse.Namespace, bodies: list[bytes],
              turn: itertools.count[int]) -> Phase:
    server = None
    url, pid = args.url, args.pid
    if url is None:
        assert workers is not None
        server = Server(workers, args.model)
        print(f"[{label}] starting thresher serve --workers {workers} on {server.url} ...", flush=True)
        server.start()
    try:
        if server is not None:
            t0 = time.monotonic()
            server.wait_ready()
            assert server.proc is not None
            url, pid = server.url, server.proc.pid
            print(f"[{label}] ready after {time.monotonic() - t0:.1f} s", flush=True)
        assert url is not None
        return asyncio.run(_measure(label, url, pid, workers, explain, args, bodies, turn))
    finally:
        if server is not None:
            server.stop()


async def _measure(label: str, url: str, pid: int | None, workers: int | None, explain: bool,
                   args: argparse.Namespace, bodies: list[bytes], turn: itertools.count[int]) -> Phase:
    port = httpx.URL(url).port or 80
    load = Load(url, bodies, turn, args.clients, explain, rate=args.rate)
    phase = Phase(label, workers, explain, Tally(), rate=args.rate)
    try:
        pace = f"offering {args.rate:g} req/s in all (open loop)" if args.rate else "each posting as soon as answered"
        print(f"[{label}] warm-up {args.warmup:g} s (clients start over {args.ramp:g} s), then {args.clients} "
              f"clients for {args.duration:g} s, {pace}, explain={str(explain).lower()} ...", flush=True)
        warm = await load.run(args.warmup, ramp=args.ramp)
        if warm.errors:
            print(f"[{label}] warm-up errors: {dict(warm.errors)}", flush=True)
        tree = process_tree(pid) if pid else []
        phase.rss_start = rss_mib(tree) if tree else None
        cpu0, client0, machine0 = cpu_seconds(tree), _client_cpu(), machine_busy_seconds()
        held: dict[int, int] = {}

        def probe() -> None:
            if tree:
                held.update(connections_by_process(worker_processes(tree), port))

        phase.tally = await load.run(args.duration, probe=probe)
        phase.client_cpu = _client_cpu() - client0
        phase.machine_cpu = machine_busy_seconds() - machine0
        if pid:
            tree = process_tree(pid)
            phase.rss_end = rss_mib(tree)
            cpu1 = cpu_seconds(tree)
            phase.server_cpu = sum(cpu1[p] - cpu0.get(p, 0.0) for p in tree if p in cpu1)
            ws = worker_processes(tree)
            phase.worker_cpu = [cpu1.get(p, 0.0) - cpu0.get(p, 0.0) for p in ws]
            phase.worker_connections = [held.get(p, 0) for p in ws]
    finally:
        await load.close()
    return phase


def describe(p: Phase) -> str:
    t = p.tally
    sc = sorted(t.scoring_ms)
    lines = [
        f"[{p.label}] {p.requests} requests in {t.elapsed:.1f} s: {p.rps:.1f} req/s; latency ms p50 {p.pct(50):.1f} "
        f"p90 {p.pct(90):.1f} p99 {p.pct(99):.1f} max {max(t.latencies_ms, default=math.nan):.1f}; "
        f"errors {p.errors_text()}"
        + (f"; offered {p.rate:g} req/s, {t.late} requests sent late (latency counted from when they were due)"
           if p.rate else ""),
        f"[{p.label}] server scoring time (elapsed_ms) p50 {percentile(sc, 50):.1f} p99 {percentile(sc, 99):.1f} ms",
    ]
    if p.server_cpu is not None:
        per = " + ".join(f"{c:.1f}" for c in p.worker_cpu)
        conns = " + ".join(str(c) for c in p.worker_connections)
        lines.append(
            f"[{p.label}] server CPU {p.server_cpu:.1f} s (workers: {per}; connections held: {conns}) = "
            f"{p.server_cpu / t.elapsed:.2f} cores, "
            f"{1000 * p.server_cpu / max(p.ok, 1):.1f} ms per request; RSS {p.rss_start:.0f} MiB after warm-up, "
            f"{p.rss_end:.0f} MiB at the end"
        )
    lines.append(f"[{p.label}] load generator CPU {p.client_cpu:.1f} s = {p.client_cpu / t.elapsed:.2f} cores; "
                 f"whole machine busy {p.machine_cpu / t.elapsed:.2f} of {os.cpu_count()} cores, other processes "
                 f"{p.other_cpu / t.elapsed:.2f}")
    return "\n".join(lines)


def table(phases: list[Phase]) -> str:
    head = ("| phase | workers | explain | offered req/s | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | "
            "scoring p50 ms | server CPU s (cores) | per worker: CPU s (connections) | CPU ms/req | RSS start → end MiB | "
            "client CPU s | other CPU s |")
    rows = [head, "|" + "---|" * head.count(" | ") + "---|"]

    def f(x: float | None, fmt: str = ".1f") -> str:
        return "–" if x is None or x != x else format(x, fmt)

    for p in phases:
        t = p.tally
        cpu = "–" if p.server_cpu is None else f"{p.server_cpu:.1f} ({p.server_cpu / t.elapsed:.2f})"
        cpu_req = None if p.server_cpu is None else 1000 * p.server_cpu / max(p.ok, 1)
        rss = "–" if p.rss_start is None else f"{p.rss_start:.0f} → {p.rss_end:.0f}"
        per = " + ".join(f"{c:.1f} ({n})" for c, n in zip(p.worker_cpu, p.worker_connections, strict=True)) or "–"
        rows.append(
            f"| {p.label} | {p.workers if p.workers is not None else '?'} | {str(p.explain).lower()} | "
            f"{f'{p.rate:g} (open loop; {t.late} late)' if p.rate else 'as answered (closed loop)'} | {p.requests} | "
            f"{p.rps:.1f} | {f(p.pct(50))} | {f(p.pct(90))} | {f(p.pct(99))} | "
            f"{f(max(t.latencies_ms, default=None))} | {p.errors_text()} | "
            f"{f(percentile(sorted(t.scoring_ms), 50))} | {cpu} | {per} | {f(cpu_req)} | {rss} | {p.client_cpu:.1f} | "
            f"{p.other_cpu:.1f} |"
        )
    rows.append(f"| aim | 2 | – | – | – | ≥ {AIM['rps']:.0f} | ≤ {AIM['p50']:.0f} | – | ≤ {AIM['p99']:.0f} | – | 0 "
                "| – | – | – | – | – | – | – |")
    return "\n".join(rows)


# -------------------------------------------------------------------------------------------- profile


def profile(n: int, articles: list[str], explain: bool, model_dir: str | None) -> None:
    """Score ``n`` articles in this process: once timed, once under cProfile; print where the time goes."""
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    from service.model import DEFAULT_MODEL_DIR, load_model
    from service.scoring import score_text

    model = load_model(model_dir or DEFAULT_MODEL_DIR)
    texts = [articles[i % len(articles)] for i in range(n)]
    for t in articles[-20:]:  # warm-up on texts not in the sample unless n is near len(articles)
        score_text(t, model=model, explain=explain)
    t0 = time.perf_counter()
    for t in texts:
        score_text(t, model=model, explain=explain)
    plain_ms = 1000 * (time.perf_counter() - t0) / n
    prof = cProfile.Profile()
    prof.enable()
    for t in texts:
        score_text(t, model=model, explain=explain)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in stats.values())

    def cumulative(path_end: str, func: str) -> float:
        return sum(ct for (file, _, name), (_, _, _, ct, _) in stats.items()
                   if file.replace(os.sep, "/").endswith(path_end) and name == func)

    print(f"{n} articles, mean {sum(len(t.encode()) for t in texts) / n / 1024:.1f} KB, explain={str(explain).lower()}: "
          f"{plain_ms:.1f} ms per article without the profiler")
    print("\nshare of score_text's time by step (cProfile; the profiler adds most to pure-Python steps):")
    steps = [("parse (training/document.py)", "training/document.py", "parse")]
    steps += [(f"features: {fam}", f"training/features/{fam}.py", "extract")
              for fam in ("language", "boilerplate", "entities", "readability", "repetition")]
    steps += [("classifier contributions", "training/classifier.py", "contributions"),
              ("reasons", "service/reasons.py", "build_reasons")]
    whole = cumulative("service/scoring.py", "score_text")
    for name, path, func in steps:
        ct = cumulative(path, func)
        print(f"  {name:<32} {100 * ct / whole:5.1f} %  ≈ {plain_ms * ct / whole:5.1f} ms")
    print("\nfunctions with the most own time (ms per article without the profiler, scaled):")
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    for (file, line, func), (_, nc, tt, _, _) in top:
        where = file.replace(str(ROOT) + os.sep, "")
        where = where.split("site-packages" + os.sep)[-1]
        print(f"  {100 * tt / total:5.1f} %  ≈ {plain_ms * tt / total:5.2f} ms  {nc / n:8.0f} calls/article  "
              f"{func} ({where}:{line})")


# ----------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per phase (default 60)")
    ap.add_argument("--warmup", type=float, default=None,
                    help=f"seconds of load before measuring, not counted (default {WARMUP_SECONDS:g}, at most --duration)")
    ap.add_argument("--ramp", type=float, default=RAMP_SECONDS,
                    help="spread the clients' first requests (their connections) over this many seconds of the "
                    f"warm-up (default {RAMP_SECONDS:g}; 0: all at once, see the module's notes)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the server (default 2)")
    ap.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    ap.add_argument("--explain", action=argparse.BooleanOptionalAction, default=True,
                    help="ask for evidence, line labels and the cleaned text (default: yes)")
    ap.add_argument("--compare", action=argparse.BooleanOptionalAction, default=True,
                    help="run two phases side by side (default: yes)")
    ap.add_argument("--vary", choices=("workers", "explain"), default="workers",
                    help="what the two phases differ in: 1 worker vs --workers (default), or explain true vs false")
    ap.add_argument("--url", default=None, help="load a server already running there instead of starting one")
    ap.add_argument("--pid", type=int, default=None, help="with --url: the server's pid, for its CPU time and RSS")
    ap.add_argument("--model", default=None, help="model folder for the started server (default: its own default)")
    ap.add_argument("--rate", type=float, default=None, metavar="R",
                    help="open loop: the clients together offer R requests per second, each on its own schedule, "
                    "and latency counts from when a request was due (default: closed loop, every client posts as "
                    "soon as its previous answer arrives)")
    ap.add_argument("--profile", type=int, default=None, metavar="N",
                    help="instead of the load: profile the scoring of N articles in this process")
    args = ap.parse_args()
    if args.duration <= 0 or args.clients < 1 or args.workers < 1:
        ap.error("--duration must be > 0, --clients and --workers ≥ 1")
    if args.rate is not None and not (0 < args.rate < math.inf):
        ap.error("--rate must be a positive number of requests per second")
    args.warmup = min(WARMUP_SECONDS if args.warmup is None else args.warmup, args.duration)
    if args.ramp < 0:
        ap.error("--ramp must be ≥ 0")
    args.warmup = max(args.warmup, args.ramp + 1.0) if args.ramp else args.warmup
    if args.url:
        args.url = args.url.rstrip("/")
    articles = build_articles()
    if args.profile:
        profile(args.profile, articles, args.explain, args.model)
        return

    if not args.compare:
        plan = [("a", args.workers, args.explain)]
    elif args.vary == "explain":
        plan = [("a", args.workers, True), ("b", args.workers, False)]
    elif args.url:
        ap.error("with --url the server's workers are fixed: use --vary explain or --no-compare")
    else:
        plan = [("a", 1, args.explain), ("b", args.workers if args.workers > 1 else 2, args.explain)]
    if args.url:
        plan = [(label, None, explain) for label, _, explain in plan]

    kb = sum(len(a.encode()) for a in articles) / len(articles) / 1024
    print(f"{len(articles)} distinct articles from training/fixtures/reliable_*.jsonl, mean {kb:.2f} KB; "
          f"{args.clients} keep-alive clients; {os.cpu_count()} cores", flush=True)
    bodies = [json.dumps({"text": a}).encode() for a in articles]
    turn = itertools.count()  # all clients take the next article in turn, across phases too
    phases = []
    for label, workers, explain in plan:
        phase = run_phase(label, workers=workers, explain=explain, args=args, bodies=bodies, turn=turn)
        print(describe(phase), flush=True)
        phases.append(phase)
    print()
    print(f"python bench/load.py {' '.join(sys.argv[1:])}".strip())
    print(table(phases))


if __name__ == "__main__":
    main()
