"""Prometheus metrics of one app: requests by route and status, latency, scores, verdicts, model version.

Each app has its own registry, so several apps in one process (tests) do not share counts. When
``thresher serve`` runs several worker processes it sets ``PROMETHEUS_MULTIPROC_DIR``; then every
worker writes its counts there and ``/metrics`` adds up all workers (prometheus_client's multiprocess
mode), so a scrape sees the whole server, not the one worker that answered it. No series gains a
``pid`` label in that mode: the model gauges are combined over the live workers (``thresher_model_info``
by max, ``thresher_model_workers`` by sum), so a scrape looks the same with one worker or several.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

__all__ = ["Metrics", "CONTENT_TYPE", "reload_counter", "multiprocess_counting"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORE_BUCKETS = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100)


def _multiprocess_dir() -> str | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


def reload_counter(registry: CollectorRegistry | None = None) -> Counter:
    """``thresher_model_reloads_total{outcome}``. The supervisor of several workers counts its reloads in
    its own process: in multiprocess mode its counts land in the shared folder beside the workers'."""
    return Counter("thresher_model_reloads", "Model reloads, by outcome: loaded, or refused (the model was refused, "
                   "or a worker could not start on it; no worker changed model).", ("outcome",),
                   registry=registry or CollectorRegistry())


def multiprocess_counting() -> bool:
    """Whether this process's counts go to the shared folder (``PROMETHEUS_MULTIPROC_DIR`` was set before
    prometheus_client was first imported here)."""
    from prometheus_client import values

    return _multiprocess_dir() is not None and values.ValueClass is not values.MutexValue


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "thresher_http_requests", "HTTP requests by route template, method and status.",
            ("route", "method", "status"), registry=r,
        )
        self.latency = Histogram(
            "thresher_http_request_duration_seconds", "Time to answer, by route template.",
            ("route",), buckets=LATENCY_BUCKETS, registry=r,
        )
        self.scores = Histogram(
            "thresher_score", "Scores given (0-100), by model version.", ("model_version",),
            buckets=SCORE_BUCKETS, registry=r,
        )
        self.verdicts = Counter(
            "thresher_verdicts", "Verdicts given, by verdict and model version.", ("verdict", "model_version"),
            registry=r,
        )
        self.rejected = Counter(
            "thresher_rejected_documents",
            "Documents refused with a client error (4xx) by /v1/score and /v1/score/batch, by error code: a "
            "refused request counts once, each refused batch item once. Auth failures (401, 403) are not "
            "counted: no document was read (see thresher_http_requests_total by status).",
            ("code",), registry=r,
        )
        self.model_info = Gauge(
            "thresher_model_info", "The model being served (value 1), by name and version; 0 (or absent) for a "
            "version no longer served.", ("name", "version"), registry=r, multiprocess_mode="livemax",
        )
        self.model_workers = Gauge(
            "thresher_model_workers", "Worker processes serving the model, by name and version.",
            ("name", "version"), registry=r, multiprocess_mode="livesum",
        )
        self.reloads = reload_counter(r)

    def set_model(self, name: str, version: str, previous: tuple[str, str] | None = None) -> None:
        if previous is not None and previous != (name, version):
            for gauge in (self.model_info, self.model_workers):
                # A worker's values live on in its multiprocess file, where remove() cannot reach: zero them.
                gauge.labels(*previous).set(0)
                if _multiprocess_dir() is None:
                    gauge.remove(*previous)
        self.model_info.labels(name, version).set(1)
        self.model_workers.labels(name, version).set(1)

    def reject(self, code: str) -> None:
        self.rejected.labels(code).inc()

    def observe_score(self, score: float, verdict: str, version: str) -> None:
        self.scores.labels(version).observe(score)
        self.verdicts.labels(verdict, version).inc()

    def render(self) -> bytes:
        directory = _multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(merged, path=directory)
        return generate_latest(merged)

    @staticmethod
    def worker_exited(pid: int) -> None:
        """Drop a finished worker's live gauges (multiprocess mode only)."""
        if _multiprocess_dir() is not None:
            prom_multiprocess.mark_process_dead(pid)
