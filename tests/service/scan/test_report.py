"""The scan's HTML report (service/scan/report.py): what it shows of a crawl, at any size."""

from __future__ import annotations

import re

from service.scan.report import (
    CLUSTER_ROWS,
    ERROR_ROWS,
    TOP_CLUSTERS,
    TOP_SITES,
    ReportData,
    shown_members,
    write_report,
)
from service.scan.runner import ScanResult, summarise, tally


def _summary(data: ReportData, clusters: list) -> dict:
    verdicts: dict[str, int] = {}
    for c in data.by_site.values():
        for v, n in c.items():
            if v != "error":
                verdicts[v] = verdicts.get(v, 0) + n
    return {"documents": len(data.scores) + sum(data.error_codes.values()), "verdicts": verdicts,
            "top_reasons": [], "stories": len(clusters)}


def _scored(key: str, site: str, score: float, verdict: str = "reliable", **extra) -> dict:
    return {"id": key.split("#")[-1], "path": f"/crawl/{key.split('#')[0]}", "_key": key, "_site": site,
            "score": score, "verdict": verdict, **extra}


def test_a_big_crawl_gives_a_page_of_bounded_size_with_every_count_kept(tmp_path):
    clusters = [{"story": f"story-{i}", "size": 40, "members": [f"{i}-{j}" for j in range(40)],
                 "keys": [f"s{i}.jsonl#{j}" for j in range(40)]} for i in range(TOP_CLUSTERS + 30)]
    data = ReportData(members=shown_members(clusters))
    for i in range(TOP_SITES + 100):  # sites of 1 to 3 documents
        for j in range(1 + i % 3):
            data.add(_scored(f"site{i}/{j}.txt", f"site{i}", 80.0))
    for c in clusters:
        for k in c["keys"]:
            data.add(_scored(k, "stories.example", 55.0, "suspect"))
    for i in range(ERROR_ROWS + 300):
        data.add({"id": f"e{i}", "path": "/crawl/bad.jsonl", "_key": f"bad.jsonl#{i}", "_site": ".",
                  "error": {"code": "bad_json" if i % 2 else "empty", "message": "line is not valid JSON"}})
    assert len(data.errors) == ERROR_ROWS and sum(data.error_codes.values()) == ERROR_ROWS + 300
    assert len(data.member_rows) == TOP_CLUSTERS * CLUSTER_ROWS  # only the rows the page shows are kept
    page_path = tmp_path / "r.html"
    write_report(page_path, data, _summary(data, clusters), clusters)
    page = page_path.read_text(encoding="utf-8")
    assert f"Errors ({ERROR_ROWS + 300})" in page and f"The first {ERROR_ROWS} error records" in page
    assert "<td><code>bad_json</code></td><td class=n>250</td>" in page
    assert page.count("<td><code>empty</code>") == 1 + ERROR_ROWS // 2  # the count's row, then the listed ones
    assert "30 more clusters, of 1200 documents" in page and page.count("<h3>") == TOP_CLUSTERS
    assert page.count(f"{40 - CLUSTER_ROWS} more documents") == TOP_CLUSTERS
    # sites by how many documents they have, the largest first; the rest in one line
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=n>(\d+)</td><td class=n>\d+</td>", page)
    assert rows[0] == ("stories.example", str(len(clusters) * 40))
    assert [int(n) for _, n in rows[1:TOP_SITES]] == sorted((int(n) for _, n in rows[1:TOP_SITES]), reverse=True)
    assert "(top of the scanned folder)" in page  # the errors' site, ".", in words
    assert re.search(r"<tr class=more><td>\d+ more sites or folders</td>", page)
    assert "<meta name='viewport'" in page and "img{max-width:100%" in page
    for anchor in ("verdicts", "sites", "reasons", "clusters", "errors"):
        assert f"href='#{anchor}'" in page and f"id='{anchor}'" in page


def test_a_scan_of_errors_only_says_so_instead_of_drawing_empty_charts(tmp_path):
    data = ReportData()
    data.add({"id": "a", "path": "/crawl/a.bin", "_key": "a.bin", "_site": ".",
              "error": {"code": "binary", "message": "looks binary"}})
    path = tmp_path / "r.html"
    write_report(path, data, _summary(data, []), [])
    page = path.read_text(encoding="utf-8")
    assert "No document was scored." in page and page.count("data:image/png") == 1  # the site chart only
    assert "<td>a</td><td>/crawl/a.bin</td><td><code>binary</code></td>" in page


def test_numbers_verdicts_and_headers_are_never_broken_inside_a_word(tmp_path):
    """Every cell could break anywhere, so that long paths fit; beside them a table shrank its short columns
    too and showed a score of 35.8 as "35" over ".8", "unreliable" as "unre/liabl/e", "score" as "sc/or/e".
    Numbers, verdicts, codes and headers stay whole; on a narrow screen a table scrolls in its own box."""
    long_path = "crawl/" + "a-very-long-folder-name-" * 6 + "/a.txt"
    clusters = [{"story": "story-" + long_path, "size": 2, "keys": [long_path, "b.txt"]}]
    data = ReportData(members=shown_members(clusters))
    data.add(_scored(long_path, "crawl", 35.8, "unreliable"))
    data.add(_scored("b.txt", ".", 86.2, "reliable", crawl={"duplicate_of": long_path}))
    path = tmp_path / "r.html"
    write_report(path, data, _summary(data, clusters), clusters)
    page = path.read_text(encoding="utf-8")
    style = page[page.index("<style>"):page.index("</style>")]
    assert "th,.n,.v,td code{white-space:nowrap;overflow-wrap:normal}" in style
    assert "<td class=n>35.8</td><td class=v>unreliable</td>" in page
    assert "<td class=n>86.2</td><td class=v>reliable</td>" in page
    assert "h3{overflow-wrap:anywhere}" in style  # the story's id, as long as a path
    assert ".scroll{overflow-x:auto" in style
    assert page.count("<table>") == page.count("<div class=scroll><table>") >= 4
    assert page.count("</table>") == page.count("</table></div>")



def test_every_reason_that_lowered_a_score_is_listed(tmp_path):
    """The summary kept the 10 most frequent reasons, and the report listed those 10 under a sentence that
    reads as the whole list: the 11th and 12th looked as if they never lowered a score."""
    codes = [f"reason_{i:02d}" for i in range(12)]
    recs = [{"id": f"d{i}", "_key": f"d{i}", "_site": ".", "score": 10.0, "verdict": "unreliable",
             "reasons": [{"code": c, "contribution": -1.5} for c in codes[: 12 - i]]
             + [{"code": "length", "contribution": -0.5}]} for i in range(12)]
    summary = summarise(ScanResult(scored_now=len(recs), resumed=0, elapsed_s=1.0), tally(recs))
    assert summary["top_reasons"] == [(c, 12 - i) for i, c in enumerate(codes)]  # "length" lowered none by 1
    data = ReportData()
    for r in recs:
        data.add(r)
    path = tmp_path / "r.html"
    write_report(path, data, summary, [])
    page = path.read_text(encoding="utf-8")
    section = page[page.index("id='reasons'"):page.index("id='clusters'")]
    rows = re.findall(r"<code>(\w+)</code></td><td class=n>(\d+)<", section)
    assert rows == [(c, str(12 - i)) for i, c in enumerate(codes)]
    assert "Every reason that lowers a score by at least 1 log-odds" in section


def test_the_histogram_says_its_counts_in_words(tmp_path):
    """A reader who cannot see the image (a screen reader, a text browser) gets its counts from the alt text."""
    data = ReportData(members={})
    for i, score in enumerate([3.0, 8.5, 45.0, 69.99, 70.0, 100.0]):
        data.add(_scored(f"s/{i}.txt", "s", score, "reliable" if score >= 70 else "suspect"))
    page_path = tmp_path / "r.html"
    write_report(page_path, data, _summary(data, []), [])
    alt = re.search(r"<img alt='([^']*)' src='data:image/png", page_path.read_text(encoding="utf-8"))
    assert alt is not None
    assert alt.group(1) == ("Score histogram of 6 documents, documents per 10 points: 0–10: 2; 10–20: 0; 20–30: 0; "
                            "30–40: 0; 40–50: 1; 50–60: 0; 60–70: 1; 70–80: 1; 80–90: 0; 90–100: 1.")
