"""Crawl-level signals: near-duplicates, same-story clusters, spelling consensus, repeated lines, reasons."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from service.scan import CrawlDoc
from service.scan import crawl as C
from service.scan.crawl import (
    analyse_crawl,
    crawl_reasons,
    crawl_signals,
    duplicate_groups,
    spelling_consensus,
    story_clusters,
)
from training.dataset import FIXTURES_DIR

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared"
SEEDS_DIR = SHARED / "seeds"
GOLD = SHARED / "eval" / "extractions-dev.jsonl.gz"
FIELDS = {"duplicate_of", "duplicate_similarity", "story", "story_size", "spelling_consensus",
          "crawl_repeated_lines"}

needs_seeds = pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="../shared/seeds is absent")


def _fixture_rows() -> list[dict]:
    rows = []
    for name in ("reliable_a", "reliable_b", "reliable_c", "reliable_d", "unreliable_written"):
        lines = (FIXTURES_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        rows += [json.loads(line) for line in lines if line.strip()]
    return rows


def written_fixtures() -> list[tuple[str, str]]:
    """The project's 124 hand-written documents (88 reliable articles, 36 unreliable), 124 stories."""
    return [(r["id"], r["text"]) for r in _fixture_rows()]


def english_articles() -> list[tuple[str, str]]:
    """The 82 reliable English articles."""
    return [(r["id"], r["text"]) for r in _fixture_rows()
            if r["label"] == "reliable" and not any(t.startswith("lang-") for t in r["tags"])]


def seed_texts(min_words: int = 0) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("*.txt"))]
    if min_words:
        texts = ["\n".join(ln for ln in t.split("\n") if len(ln.split()) >= min_words) for t in texts]
    return texts


def docs_of(pairs: list[tuple[str, str]], site: str | None = None) -> list[CrawlDoc]:
    return [CrawlDoc(key=f"k-{i}", id=i, text=t, site=site or f"site-{i}") for i, t in pairs]


def unrelated() -> list[tuple[str, str]]:
    """At least 200 articles unrelated to the seeds' story: the project's 124 written documents plus the
    gold article bodies of ../shared/eval/extractions-dev (real news of 2019, read, never copied)."""
    docs = written_fixtures()
    if GOLD.is_file():
        with gzip.open(GOLD, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        docs += [(f"gold-{r['page']}", r["text"]) for r in rows if r["extractor"] == "gold"]
    return docs


@pytest.fixture(scope="module", params=[0, 6], ids=["full-text", "lines-of-6+-words"])
def seed_crawl(request):
    others = unrelated()
    if not SEEDS_DIR.is_dir() or len(others) < 200:
        pytest.skip("needs ../shared/seeds and ../shared/eval for 200 unrelated articles")
    seeds = [(f"seed-{i:03d}", t) for i, t in enumerate(seed_texts(request.param))]
    docs = docs_of(seeds + others)
    return docs, analyse_crawl(docs)


# ----------------------------------------------------------------------------------------------- stories
@needs_seeds
def test_seeds_form_exactly_one_story_and_nothing_else_joins(seed_crawl):
    docs, result = seed_crawl
    assert len(docs) >= 205
    stories = {d.id: result.fields[d.key]["story"] for d in docs}
    seed_story = {stories[f"seed-{i:03d}"] for i in range(5)}
    assert seed_story == {"story-seed-000"}
    members = [c for c in result.clusters if c["story"] == "story-seed-000"]
    assert members == [{"story": "story-seed-000", "size": 5, "members": [f"seed-{i:03d}" for i in range(5)],
                        "keys": [d.key for d in docs if d.id.startswith("seed-")]}]
    assert all(result.fields[f"k-seed-{i:03d}"]["story_size"] == 5 for i in range(5))
    # the project's written documents are 124 distinct stories (some on the same topic as the seeds)
    fixture_stories = Counter(stories[i] for i, _ in written_fixtures() if stories[i])
    assert not fixture_stories


@needs_seeds
def test_story_clusters_summary_matches_fields(seed_crawl):
    docs, result = seed_crawl
    assert story_clusters(result.fields, docs) == result.clusters


# -------------------------------------------------------------------------------------- spelling consensus
@needs_seeds
def test_spun_seed_gets_the_story_spellings_and_clean_copies_get_none(seed_crawl):
    docs, result = seed_crawl
    spun = result.fields["k-seed-002"]["spelling_consensus"]
    pairs = {(e["found"], e["majority"]) for e in spun}
    assert ("Jemenskyy", "Zelenskyy") in pairs
    assert {("Voldymyr", "Volodymyr"), ("tomowawks", "Tomahawks")} <= pairs
    assert all(e["story"] == "story-seed-000" and e["documents_with_majority"] >= 3 for e in spun)
    for i in (0, 1, 3, 4):
        assert result.fields[f"k-seed-{i:03d}"]["spelling_consensus"] == [], i
    reasons = crawl_reasons(result.fields["k-seed-002"])
    (reason,) = [r for r in reasons if r["code"] == "story_spelling_inconsistent"]
    assert reason["contribution"] == pytest.approx(C.SPELLING_WEIGHT * len(pairs))
    assert "Jemenskyy (Zelenskyy)" in reason["message"] and "other 4 copies" in reason["message"]


@needs_seeds
def test_spelling_can_read_the_full_text_when_the_crawl_text_is_content_lines():
    """The cleaner drops 002's photo caption, where Jemenskyy and Voldymyr are: the full text keeps them."""
    full = seed_texts()
    content = [t if i != 2 else "\n".join(ln for ln in t.split("\n") if "Associated Press" not in ln)
               for i, t in enumerate(full)]
    docs = docs_of([(f"seed-{i:03d}", t) for i, t in enumerate(content)] + written_fixtures())
    found = {e["found"] for e in crawl_signals(docs)["k-seed-002"]["spelling_consensus"]}
    assert found == {"tomowawks"}
    with_full = crawl_signals(docs, spelling_texts={f"k-seed-{i:03d}": t for i, t in enumerate(full)})
    found = {e["found"] for e in with_full["k-seed-002"]["spelling_consensus"]}
    assert {"Jemenskyy", "Voldymyr", "tomowawks"} <= found
    assert all(not with_full[f"k-seed-{i:03d}"]["spelling_consensus"] for i in (0, 1, 3, 4))


def test_surname_swapped_after_a_shared_first_name_is_flagged():
    base = ("Treasury Secretary Scott {s} said on Wednesday that the administration expected more purchases "
            "from Europe. {s} spoke to reporters in Washington about the sanctions bill.")
    texts = [base.format(s="Bessent")] * 3 + [base.format(s="Scent").replace("Scent spoke", "He spoke")]
    flags = spelling_consensus(texts)
    assert flags[:3] == [[], [], []]
    assert flags[3] == [{"found": "Scott Scent", "majority": "Scott Bessent", "documents_with_majority": 3}]


@pytest.mark.parametrize("variant, flagged", [
    ("Jemenskyy", True),   # unknown, two edits from the majority
    ("Zelensky", False),   # a spelling wordfreq knows: attested, not a mangle
    ("Zelenskyys", False),  # the majority plus a suffix: inflection
])
def test_spelling_variants(variant, flagged):
    text = "President {n} met the delegation in Kyiv on Friday. Officials said {n} asked for air defence."
    texts = [text.format(n="Zelenskyy")] * 3 + [text.format(n=variant)]
    assert bool(spelling_consensus(texts)[3]) is flagged


def test_other_languages_take_no_part():
    german = ("Die Anwohner der Straße besteht darauf, dass die Stadt den Ausbau vorantreiben soll, "
              "sagte die Bürgermeisterin am Montag in Großröhrsdorf.")
    texts = [german.replace("besteht", "steht")] * 3 + [german]
    assert spelling_consensus(texts) == [[], [], [], []]


# ------------------------------------------------------------------------------------------ near-duplicates
def _edited(text: str) -> str:
    words = text.split(" ")
    for pos in (40, 90, 140):
        words[pos] = "altered"
    return " ".join(words) + "\nThis line was added by the copying site to the end of the article."


def test_verbatim_and_lightly_edited_copies_point_at_the_original():
    articles = english_articles()
    original_id, original = max(articles, key=lambda a: len(a[1]))
    short_id, short = min((a for a in articles if len(a[1].split()) >= 150), key=lambda a: len(a[1]))
    docs = docs_of(articles + [("copy-verbatim", original), ("copy-edited", _edited(original)),
                               ("copy-short-edited", _edited(short))])
    fields = crawl_signals(docs)
    assert fields["k-copy-verbatim"]["duplicate_of"] == original_id
    assert fields["k-copy-verbatim"]["duplicate_similarity"] == 1.0
    assert fields["k-copy-edited"]["duplicate_of"] == original_id
    assert C.DUPLICATE_THRESHOLD <= fields["k-copy-edited"]["duplicate_similarity"] < 1.0
    assert fields["k-copy-short-edited"]["duplicate_of"] == short_id
    assert all(fields[d.key]["duplicate_of"] is None for d in docs[: len(articles)])
    groups = duplicate_groups(fields, docs)
    assert {"canonical": original_id, "members": [original_id, "copy-verbatim", "copy-edited"]} in groups
    (reason,) = crawl_reasons(fields["k-copy-edited"])
    assert reason["code"] == "near_duplicate" and reason["contribution"] == 0.0
    assert original_id in reason["message"]


@needs_seeds
def test_rewrites_of_one_story_are_not_near_duplicates(seed_crawl):
    docs, result = seed_crawl
    assert all(result.fields[d.key]["duplicate_of"] is None for d in docs if d.id.startswith("seed-"))


def test_copies_count_once_and_form_a_story_of_their_own():
    articles = english_articles()[:30]
    first_id, first_text = articles[0]
    docs = docs_of(articles) + [CrawlDoc(key=f"c{i}", id=f"c{i}", text=first_text, site=f"site-{first_id}")
                                for i in range(6)]
    fields = crawl_signals(docs)
    assert fields["k-" + first_id]["story"] == f"story-{first_id}"
    assert fields["c5"]["story_size"] == 7 and fields["c5"]["duplicate_of"] == first_id
    # seven copies of one text on one site are one text: its lines are not boilerplate
    assert all(not f["crawl_repeated_lines"] for f in fields.values())


# ------------------------------------------------------------------------------------------ repeated lines
def test_lines_repeated_across_a_site_and_across_the_crawl():
    articles = english_articles()[:40]
    site_lines = ["Sign up for our newsletter to get the day's top stories.", "© 2024 Valley Herald Media."]
    crawl_line = "Follow us on social media for breaking news alerts"
    docs = []
    for n, (i, text) in enumerate(articles):
        extra = site_lines if n < 10 else []
        extra = extra + ([crawl_line] if 20 <= n < 26 else [])
        site = "herald" if n < 10 else f"s{n}"
        docs.append(CrawlDoc(key=i, id=i, text="\n".join([text, *extra]), site=site))
    fields = crawl_signals(docs)
    def found(doc_id):
        return [(e["line"], e["documents"], e["scope"]) for e in fields[doc_id]["crawl_repeated_lines"]]

    assert found(articles[0][0]) == [(site_lines[0], 10, "site"), (site_lines[1], 10, "site")]
    assert found(articles[20][0]) == [(crawl_line, 6, "crawl")]
    assert fields[articles[12][0]]["crawl_repeated_lines"] == []
    (reason,) = crawl_reasons(fields[articles[0][0]])
    assert reason["code"] == "crawl_repeated_lines"
    assert reason["contribution"] == pytest.approx(2 * C.REPEATED_LINE_WEIGHT)
    assert "Sign up for our newsletter" in reason["message"]


# ------------------------------------------------------------------------------------------------ reasons
def test_reason_weights_are_capped():
    spelling = [{"found": f"Nme{i}", "majority": f"Name{i}", "documents_with_majority": 4, "story": "s"}
                for i in range(9)]
    lines = [{"line": f"line {i} of boilerplate", "documents": 9, "scope": "site"} for i in range(20)]
    fields = {"duplicate_of": None, "duplicate_similarity": None, "story": "s", "story_size": 5,
              "spelling_consensus": spelling, "crawl_repeated_lines": lines}
    by_code = {r["code"]: r for r in crawl_reasons(fields)}
    assert by_code["story_spelling_inconsistent"]["contribution"] == C.SPELLING_CAP
    assert by_code["crawl_repeated_lines"]["contribution"] == C.REPEATED_LINE_CAP
    assert set(by_code["crawl_repeated_lines"]) == {"code", "message", "contribution", "evidence"}
    assert crawl_reasons(C._empty_fields()) == []


# ------------------------------------------------------------------------------------- chains and edge cases
def test_a_bridge_does_not_glue_two_stories():
    # focus vectors: story A around e0, story B around e1, one text half-way between the two
    a = [np.array([1.0, 0.0, 0.5 * k]) for k in (0.1, 0.2, 0.3)]
    b = [np.array([0.0, 1.0, 0.5 * k]) for k in (0.1, 0.2, 0.3)]
    bridge = np.array([1.0, 1.0, 0.0])
    rows = np.array([v / np.linalg.norm(v) for v in [*a, bridge, *b]])
    focus = sp.csr_matrix(rows)
    adjacency = {0: [1, 2, 3], 1: [0, 2, 3], 2: [0, 1, 3], 3: [0, 1, 2, 4, 5, 6], 4: [3, 5, 6], 5: [3, 4, 6],
                 6: [3, 4, 5]}
    groups = C._split_chains([list(range(7))], focus, adjacency, C.STORY_MIN_MEAN_FOCUS)
    assert [0, 1, 2] in [g[:3] for g in groups] and any(g[-3:] == [4, 5, 6] for g in groups)
    assert not any({0, 4} <= set(g) for g in groups)


def test_empty_and_single_document():
    assert crawl_signals([]) == {}
    assert analyse_crawl([]).clusters == []
    one = CrawlDoc(key="a", id="a", text="Just one short document.", site="x")
    assert crawl_signals([one]) == {"a": C._empty_fields()}
    empty = CrawlDoc(key="b", id="b", text="", site="x")
    assert crawl_signals([empty, empty.__class__(key="c", id="c", text="", site="x")]) == {
        "b": C._empty_fields(), "c": C._empty_fields()}


@needs_seeds
def test_deterministic_and_complete():
    docs = docs_of([(f"seed-{i}", t) for i, t in enumerate(seed_texts())] + written_fixtures()[:60])
    first, second = crawl_signals(docs), crawl_signals(list(docs))
    assert first == second
    assert set(first) == {d.key for d in docs}
    assert all(set(f) == FIELDS for f in first.values())
    assert json.loads(json.dumps(first)) == first


def test_pooled_sketches_share_their_words_and_give_the_same_analysis():
    import pickle

    pairs = written_fixtures()[:40]
    pairs += [(f"copy-{i}", t.replace("the", "a", 1)) for i, t in pairs[:5]]  # copies: duplicates and a story
    sketches = [C.doc_sketch(f"k{i}", f"d{i}", t, site=f"s{i % 3}") for i, (_, t) in enumerate(pairs)]
    pool: dict[str, str] = {}
    # as the scan receives them from its workers: each with its own copies of every word
    pooled = [pickle.loads(pickle.dumps(s)).pooled(pool) for s in sketches]
    assert [dict(p.words.items()) for p in pooled] == [s.words for s in sketches]
    a, b = C.analyse_sketches(sketches), C.analyse_sketches(pooled)
    assert (a.fields, a.clusters, a.duplicates) == (b.fields, b.clusters, b.duplicates)
    assert any(c["size"] > 1 for c in a.clusters)
    common = set(pooled[0].words.words) & set(pooled[1].words.words)
    assert common
    first = {w: w for w in pooled[0].words.words}
    assert all(first[w] is w for w in pooled[1].words.words if w in common)  # one copy per crawl


@needs_seeds
def test_same_output_in_another_process_with_another_hash_seed():
    script = (
        "import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "import test_crawl as T\n"
        "from service.scan.crawl import analyse_crawl\n"
        "a = analyse_crawl(T.docs_of([(f'seed-{i}', t) for i, t in enumerate(T.seed_texts())]"
        " + T.written_fixtures()[:60] + [('copy', T.written_fixtures()[0][1])]))\n"
        "print(json.dumps([a.fields, a.clusters, a.duplicates], sort_keys=True))\n"
    )
    runs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), str(REPO)], env=env,
                              capture_output=True, text=True, timeout=600, check=True)
        runs.append(proc.stdout)
    assert runs[0] == runs[1]
    fields, clusters, duplicates = json.loads(runs[0])
    first = written_fixtures()[0][0]
    assert len(fields) == 66 and fields["k-copy"]["duplicate_of"] == first
    assert clusters[0]["members"][:5] == [f"seed-{i}" for i in range(5)]
    assert duplicates == [{"canonical": first, "members": [first, "copy"]}]


@pytest.mark.slow
def test_five_thousand_documents_each_get_their_fields_and_mixes_form_no_giant_story():
    """Synthetic crawl: each document two thirds of one article and a third of another, shuffled. (Its
    speed is measured in bench/scan.py, not here: a timed test fails on a busy machine.)"""
    paras = [[ln for ln in t.split("\n") if ln.strip()] for _, t in english_articles()]
    rng = random.Random(7)
    docs = []
    for n in range(5000):
        x, y = rng.sample(range(len(paras)), 2)
        lines = rng.sample(paras[x], max(1, 2 * len(paras[x]) // 3))
        lines += rng.sample(paras[y], max(1, len(paras[y]) // 3))
        rng.shuffle(lines)
        docs.append(CrawlDoc(key=str(n), id=f"d{n}", text="\n".join(lines), site=f"site{n % 40}"))
    fields = crawl_signals(docs)
    assert set(fields) == {d.key for d in docs}
    sizes = [f["story_size"] or 0 for f in fields.values()]
    assert max(sizes) < 1000, "documents mixing two articles must not chain the crawl into one story"


def test_an_edited_japanese_copy_is_a_near_duplicate_and_its_short_lines_repeat_by_key():
    """Chinese and Japanese tokens are characters, as parse() counts words: with clauses as tokens, three
    characters edited changed three whole clauses, and the copy shared too few shingles to be found."""
    from resources import JAPANESE

    edited = JAPANESE.replace("二十日", "二十一日").replace("約六十万人", "約五十九万人").replace("秋まで", "夏まで")
    assert edited != JAPANESE
    none, (of, similarity) = C.near_duplicates([JAPANESE, edited])
    assert none is None and of == 0 and C.DUPLICATE_THRESHOLD <= similarity < 1.0
    assert C._line_key("この記事をシェアする") is not None  # a short Japanese line can repeat across a site
    assert C.normalise_tokens("2025年3月4日 東京 don't") == ["2025", "年", "3", "月", "4", "日", "東", "京", "dont"]
    # other scripts keep their words
    assert C.normalise_tokens("Don't stop — the U.S. team's 2-1 win! Ελλάδα 한국어") == \
        ["dont", "stop", "the", "u", "s", "teams", "2", "1", "win", "ελλάδα", "한국어"]
