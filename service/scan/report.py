"""The scan's report: one self-contained HTML page (plots embedded as PNG data, no network)."""

from __future__ import annotations

import base64
import html
import io
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.scan import folder_site

__all__ = ["write_report", "site_of", "ReportData"]


def site_of(rec: dict[str, Any]) -> str:
    """The site a record belongs to: the one its crawl-level signals used (its URL's host, else the top
    folder of its path under the scanned root); for an error record, its URL's host or top folder."""
    from urllib.parse import urlsplit

    crawl = rec.get("_crawl")
    if isinstance(crawl, dict) and crawl.get("site"):
        return str(crawl["site"])
    rid = str(rec.get("id") or "")
    if rid.startswith(("http://", "https://")):
        host = urlsplit(rid).hostname
        if host:
            return host.removeprefix("www.")
    return folder_site(str(rec.get("_key") or ""))


@dataclass
class ReportData:
    """What the report shows, counted one record at a time (a crawl's records are never all in memory):
    the scores, verdicts by site or folder, the errors, and the score, verdict and copy of each document
    in a story cluster (``members``: their ids)."""

    members: set[str] = field(default_factory=set)
    scores: array = field(default_factory=lambda: array("d"))
    by_site: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (id, code, message)
    member_rows: dict[str, tuple[float, str, str]] = field(default_factory=dict)  # id -> (score, verdict, copy of)

    def add(self, rec: dict[str, Any]) -> None:
        rid = str(rec.get("id"))
        if "error" in rec:
            self.by_site[site_of(rec)]["error"] += 1
            self.errors.append((rid, str(rec["error"]["code"]), str(rec["error"]["message"])))
            return
        self.by_site[site_of(rec)][str(rec.get("verdict"))] += 1
        self.scores.append(float(rec["score"]))
        if rid in self.members:
            crawl = rec.get("crawl") or {}
            self.member_rows[rid] = (float(rec["score"]), str(rec.get("verdict", "")),
                                     str(crawl.get("duplicate_of") or ""))


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(scores: array, by_site: dict[str, Counter[str]]) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(scores, bins=[i * 5 for i in range(21)], color="#3b6ea5", edgecolor="white")
    ax.axvline(40, color="#b44", linestyle="--", linewidth=1)
    ax.axvline(70, color="#4a4", linestyle="--", linewidth=1)
    ax.set_xlabel("score")
    ax.set_ylabel("documents")
    ax.set_title("Scores (dashed: suspect and reliable thresholds)")
    hist = _png(fig)
    plt.close(fig)
    sites = sorted(by_site, key=lambda s: -sum(by_site[s].values()))[:20]
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.3 * len(sites) + 1)))
    left = [0] * len(sites)
    for verdict, color in (("reliable", "#4a8f4a"), ("suspect", "#d9a23b"), ("unreliable", "#b44"),
                           ("error", "#888")):
        vals = [by_site[s].get(verdict, 0) for s in sites]
        ax.barh(sites, vals, left=left, color=color, label=verdict)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("documents")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Verdicts by site or folder (top 20)")
    bars = _png(fig)
    plt.close(fig)
    return hist, bars


_HEADLINE = (  # (what the page calls it, the summary's key)
    ("documents", "documents"), ("scored", "scored"), ("error records", "errors"),
    ("story clusters", "stories"), ("near-duplicates", "near_duplicates"),
    ("records made by this run (error records included)", "scored_now"), ("taken from the journal", "resumed"),
    ("seconds", "elapsed_s"), ("documents/s", "docs_per_s"),
)


def write_report(path: Path, data: ReportData, summary: dict[str, Any],
                 clusters: list[dict[str, Any]], title: str = "Thresher scan") -> None:
    esc = html.escape
    by_site = data.by_site
    hist, bars = _plots(data.scores, by_site)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>",
        "body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}",
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:3px 8px;"
        "text-align:left;vertical-align:top}th{background:#f3f3f3}.n{text-align:right}"
        "code{background:#f5f5f5;padding:0 3px}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<p>" + ", ".join(f"{label}: <b>{esc(str(summary[k]))}</b>" for label, k in _HEADLINE if k in summary)
        + (" — <b>interrupted</b>: the output holds what was done; <code>--resume</code> finishes it"
           if summary.get("interrupted") else "") + "</p>",
        "<h2>Verdicts</h2><table><tr><th>verdict</th><th>documents</th></tr>",
        *(f"<tr><td>{esc(str(k))}</td><td class=n>{v}</td></tr>" for k, v in sorted(summary["verdicts"].items())),
        "</table>",
        f"<img alt='score histogram' src='{hist}'>",
        f"<h2>By site or folder</h2><img alt='verdicts by site' src='{bars}'>",
        "<table><tr><th>site or folder</th><th>reliable</th><th>suspect</th><th>unreliable</th><th>errors</th></tr>",
        *(f"<tr><td>{esc(s)}</td>" + "".join(f"<td class=n>{c.get(v, 0)}</td>" for v in
                                              ("reliable", "suspect", "unreliable", "error")) + "</tr>"
          for s, c in sorted(by_site.items())),
        "</table><h2>Top reasons</h2><p>Reasons that lower a score by at least 1 log-odds, by how many documents "
        "they lower.</p><table><tr><th>reason</th><th>documents</th></tr>",
        *(f"<tr><td><code>{esc(code)}</code></td><td class=n>{n}</td></tr>" for code, n in summary["top_reasons"]),
        "</table>",
        f"<h2>Story clusters ({len(clusters)})</h2>",
        "<p>Documents that tell the same story (shared names and key terms), with their scores.</p>",
    ]
    for c in clusters:
        members = c.get("members", [])
        parts.append(f"<h3>{esc(str(c.get('story')))} — {len(members)} documents</h3><table>"
                     "<tr><th>document</th><th>score</th><th>verdict</th><th>copy of</th></tr>")
        for m in members:
            score, verdict, copy_of = data.member_rows.get(str(m), (0.0, "", ""))
            parts.append(f"<tr><td>{esc(str(m))}</td><td class=n>{score:.1f}</td>"
                         f"<td>{esc(verdict)}</td><td>{esc(copy_of)}</td></tr>")
        parts.append("</table>")
    skipped = summary.get("skipped") or {}
    if skipped:
        parts += [f"<h2>Not documents ({sum(skipped.values())})</h2><p>WARC records that are no page (requests, "
                  "metadata, responses that are not HTML or not 2xx): no document, so no record.</p>"
                  "<table><tr><th>kind</th><th>records</th></tr>",
                  *(f"<tr><td><code>{esc(k)}</code></td><td class=n>{n}</td></tr>" for k, n in skipped.items()),
                  "</table>"]
    errors = data.errors
    parts.append(f"<h2>Errors ({len(errors)})</h2><table><tr><th>document</th><th>code</th><th>message</th></tr>")
    parts += [f"<tr><td>{esc(rid)}</td><td><code>{esc(code)}</code></td><td>{esc(message)}</td></tr>"
              for rid, code, message in errors]
    parts.append("</table></body></html>")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)
