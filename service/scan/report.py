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
from service.scoring import shown_score

__all__ = ["write_report", "site_of", "shown_members", "ReportData"]


TOP_SITES = 50  # rows of the site table; the rest are counted in one line
TOP_CLUSTERS = 50  # story clusters shown with their members, largest first
CLUSTER_ROWS = 25  # members shown per cluster
ERROR_ROWS = 200  # error records listed one by one (all of them are in OUT); the rest are counted by code
LABEL_CHARS = 40  # a site or folder name in a chart, at most


def site_of(rec: dict[str, Any]) -> str:
    """The site a record belongs to: the one the scan gave it (its URL's host, else the top folder of its path
    under the scanned root), for scored documents and error records alike."""
    site = rec.get("_site")
    if isinstance(site, str) and site:
        return site
    crawl = rec.get("_crawl")  # a record journaled by an older version
    if isinstance(crawl, dict) and crawl.get("site"):
        return str(crawl["site"])
    return folder_site(str(rec.get("_key") or ""))


def _site_label(site: str) -> str:
    return "(top of the scanned folder)" if site == "." else site


@dataclass
class ReportData:
    """What the report shows, counted one record at a time (a crawl's records are never all in memory):
    the scores, verdicts by site or folder, the first errors and the count of all of them by code, and the
    score, verdict and copy of each document in the story clusters shown (``members``: their keys)."""

    members: set[str] = field(default_factory=set)
    scores: array = field(default_factory=lambda: array("d"))
    by_site: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)  # (id, path, code, message), the first
    error_codes: Counter[str] = field(default_factory=Counter)
    # key -> (id, path, score, verdict, copy of)
    member_rows: dict[str, tuple[str, str, float, str, str]] = field(default_factory=dict)

    def add(self, rec: dict[str, Any]) -> None:
        rid, path = str(rec.get("id")), str(rec.get("path") or "")
        if "error" in rec:
            code = str(rec["error"]["code"])
            self.by_site[site_of(rec)]["error"] += 1
            self.error_codes[code] += 1
            if len(self.errors) < ERROR_ROWS:
                self.errors.append((rid, path, code, str(rec["error"]["message"])))
            return
        self.by_site[site_of(rec)][str(rec.get("verdict"))] += 1
        self.scores.append(float(rec["score"]))
        key = rec.get("_key")
        if key in self.members:
            crawl = rec.get("crawl") or {}
            self.member_rows[str(key)] = (rid, path, float(rec["score"]), str(rec.get("verdict", "")),
                                          str(crawl.get("duplicate_of") or ""))


def shown_members(clusters: list[dict[str, Any]]) -> set[str]:
    """The keys of the documents the report lists: the first members of the clusters it shows."""
    return {str(k) for c in clusters[:TOP_CLUSTERS] for k in c.get("keys", [])[:CLUSTER_ROWS]}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _histogram_alt(scores: array) -> str:
    """The histogram's counts in words, for a reader who cannot see the image: documents per 10 points."""
    counts = [0] * 10
    for x in scores:
        counts[min(9, max(0, int(x // 10)))] += 1
    bins = "; ".join(f"{10 * i}–{10 * i + 10}: {n}" for i, n in enumerate(counts))
    return f"Score histogram of {len(scores)} documents, documents per 10 points: {bins}."


def _plots(scores: array, by_site: dict[str, Counter[str]]) -> tuple[str | None, str | None]:
    """The score histogram and the verdicts by site (None when there is nothing to plot). Names are shown as
    written: matplotlib's math mode is off, so a folder called ``deals_$5_$10`` is no formula."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    hist = bars = None
    with matplotlib.rc_context({"text.parse_math": False}):
        if len(scores):
            fig, ax = plt.subplots(figsize=(7, 3))
            ax.hist(scores, bins=[i * 5 for i in range(21)], color="#3b6ea5", edgecolor="white")
            ax.axvline(40, color="#b44", linestyle="--", linewidth=1)
            ax.axvline(70, color="#4a4", linestyle="--", linewidth=1)
            ax.set_xlim(0, 100)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("score")
            ax.set_ylabel("documents")
            ax.set_title("Scores (dashed: suspect and reliable thresholds)")
            hist = _png(fig)
            plt.close(fig)
        sites = sorted(by_site, key=lambda s: (-sum(by_site[s].values()), s))[:20]
        if sites:
            fig, ax = plt.subplots(figsize=(7, max(2.0, 0.3 * len(sites) + 1)))
            labels = [_short(_site_label(s)) for s in sites]
            y = list(range(len(sites)))
            left = [0] * len(sites)
            for verdict, color in (("reliable", "#4a8f4a"), ("suspect", "#d9a23b"), ("unreliable", "#b44"),
                                   ("error", "#888")):
                vals = [by_site[s].get(verdict, 0) for s in sites]
                ax.barh(y, vals, left=left, color=color, label=verdict)
                left = [a + b for a, b in zip(left, vals, strict=True)]
            ax.set_yticks(y, labels)
            ax.invert_yaxis()
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("documents")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
            ax.set_title(f"Verdicts by site or folder ({'top 20 of ' + str(len(by_site)) if len(by_site) > 20 else 'all'})")
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
    errors_total = sum(data.error_codes.values())
    sections = [("verdicts", "Verdicts"), ("sites", "By site or folder"), ("reasons", "Top reasons"),
                ("clusters", f"Story clusters ({len(clusters)})")]
    skipped = summary.get("skipped") or {}
    if skipped:
        sections.append(("skipped", f"Not documents ({sum(skipped.values())})"))
    sections.append(("errors", f"Errors ({errors_total})"))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>",
        "body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}",
        "img{max-width:100%;height:auto}nav a{margin-right:1em}",
        "table{border-collapse:collapse}.scroll{overflow-x:auto;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;"
        "padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f3f3f3}"
        ".n{text-align:right}th,.n,.v,td code{white-space:nowrap;overflow-wrap:normal}td:not(.n,.v){min-width:9em}"
        "h3{overflow-wrap:anywhere}"
        ".more{color:#666}code{background:#f5f5f5;padding:0 3px}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<p>" + ", ".join(f"{label}: <b>{esc(str(summary[k]))}</b>" for label, k in _HEADLINE if k in summary)
        + (" — <b>interrupted</b>: the output holds what was done; <code>--resume</code> finishes it"
           if summary.get("interrupted") else "") + "</p>",
        "<nav>" + "".join(f"<a href='#{a}'>{esc(t)}</a>" for a, t in sections) + "</nav>",
        "<h2 id='verdicts'>Verdicts</h2><table><tr><th>verdict</th><th>documents</th></tr>",
        *(f"<tr><td>{esc(str(k))}</td><td class=n>{v}</td></tr>" for k, v in sorted(summary["verdicts"].items())),
        "</table>",
        f"<img alt='{esc(_histogram_alt(data.scores))}' src='{hist}'>" if hist else "<p>No document was scored.</p>",
        "<h2 id='sites'>By site or folder</h2>",
        f"<img alt='verdicts by site or folder' src='{bars}'>" if bars else "",
        "<table><tr><th>site or folder</th><th>documents</th><th>reliable</th><th>suspect</th><th>unreliable</th>"
        "<th>errors</th></tr>",
    ]
    ranked = sorted(by_site.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    parts += [f"<tr><td>{esc(_site_label(s))}</td><td class=n>{sum(c.values())}</td>"
              + "".join(f"<td class=n>{c.get(v, 0)}</td>" for v in ("reliable", "suspect", "unreliable", "error"))
              + "</tr>" for s, c in ranked[:TOP_SITES]]
    if len(ranked) > TOP_SITES:
        rest = ranked[TOP_SITES:]
        parts.append(f"<tr class=more><td>{len(rest)} more sites or folders</td>"
                     f"<td class=n>{sum(sum(c.values()) for _, c in rest)}</td>"
                     + "".join(f"<td class=n>{sum(c.get(v, 0) for _, c in rest)}</td>"
                               for v in ("reliable", "suspect", "unreliable", "error")) + "</tr>")
    parts += [
        "</table><h2 id='reasons'>Top reasons</h2><p>Every reason that lowers a score by at least 1 log-odds, by how "
        "many documents it lowers, the most frequent first.</p><table><tr><th>reason</th><th>documents</th></tr>",
        *(f"<tr><td><code>{esc(code)}</code></td><td class=n>{n}</td></tr>" for code, n in summary["top_reasons"]),
        "</table>",
        f"<h2 id='clusters'>Story clusters ({len(clusters)})</h2>",
        "<p>Documents that tell the same story (shared names and key terms), with their scores"
        + (f"; the {TOP_CLUSTERS} largest clusters are shown" if len(clusters) > TOP_CLUSTERS else "")
        + ". Each record's <code>crawl.story</code> names its cluster.</p>",
    ]
    for c in clusters[:TOP_CLUSTERS]:
        keys = [str(k) for k in c.get("keys", [])]
        parts.append(f"<h3>{esc(str(c.get('story')))} — {c.get('size', len(keys))} documents</h3><table>"
                     "<tr><th>document</th><th>file</th><th>score</th><th>verdict</th><th>copy of</th></tr>")
        for k in keys[:CLUSTER_ROWS]:
            row = data.member_rows.get(k)
            if row is None:  # not in OUT (cannot happen for a complete run): said, not shown as a score of 0
                parts.append(f"<tr><td colspan=5>{esc(k)}: not in the output</td></tr>")
                continue
            rid, fpath, score, verdict, copy_of = row
            parts.append(f"<tr><td>{esc(rid)}</td><td>{esc(fpath)}</td><td class=n>{shown_score(score)}</td>"
                         f"<td class=v>{esc(verdict)}</td><td>{esc(copy_of)}</td></tr>")
        if len(keys) > CLUSTER_ROWS:
            parts.append(f"<tr class=more><td colspan=5>{len(keys) - CLUSTER_ROWS} more documents</td></tr>")
        parts.append("</table>")
    if len(clusters) > TOP_CLUSTERS:
        parts.append(f"<p class=more>{len(clusters) - TOP_CLUSTERS} more clusters, of "
                     f"{sum(c.get('size', 0) for c in clusters[TOP_CLUSTERS:])} documents.</p>")
    if skipped:
        parts += [f"<h2 id='skipped'>Not documents ({sum(skipped.values())})</h2><p>WARC records that are no page "
                  "(requests, metadata, responses that are not HTML or not 2xx): no document, so no record.</p>"
                  "<table><tr><th>kind</th><th>records</th></tr>",
                  *(f"<tr><td><code>{esc(k)}</code></td><td class=n>{n}</td></tr>" for k, n in skipped.items()),
                  "</table>"]
    parts.append(f"<h2 id='errors'>Errors ({errors_total})</h2>")
    if errors_total:
        parts += ["<table><tr><th>code</th><th>records</th></tr>",
                  *(f"<tr><td><code>{esc(code)}</code></td><td class=n>{n}</td></tr>"
                    for code, n in sorted(data.error_codes.items(), key=lambda kv: (-kv[1], kv[0]))),
                  "</table>"]
        if errors_total > len(data.errors):
            parts.append(f"<p>The first {len(data.errors)} error records (all {errors_total} are in the output, "
                         "with <code>error.code</code> and <code>error.message</code>):</p>")
        parts.append("<table><tr><th>document</th><th>file</th><th>code</th><th>message</th></tr>")
        parts += [f"<tr><td>{esc(rid)}</td><td>{esc(fpath)}</td><td><code>{esc(code)}</code></td>"
                  f"<td>{esc(message)}</td></tr>" for rid, fpath, code, message in data.errors]
        parts.append("</table>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)  # missing parent folders are created, as OUT's are
    tmp = path.with_name(f".{path.name}.tmp")
    # Every table scrolls sideways in a box of its own on a narrow screen: the page itself never does. (No
    # escaped name can hold "<table>".)
    page = "\n".join(parts).replace("<table>", "<div class=scroll><table>").replace("</table>", "</table></div>")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
