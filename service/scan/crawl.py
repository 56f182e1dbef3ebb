"""Crawl-level signals: what only the whole crawl shows about one document.

Computed once, after every document was scored, from the documents' content lines
(:class:`service.scan.CrawlDoc`). Four signals, each sub-quadratic in the number of documents:

1. **Near-duplicate copies** (:func:`near_duplicates`): MinHash over 5-word shingles of the normalised text,
   candidates from MinHashLSH, confirmed by the exact Jaccard of the pair's shingle sets. A copy points at
   the first document of its group (input order).
2. **Same-story clusters** (:func:`story_labels`): rewrites of one story share few shingles but the same
   names and key terms. Two TF-IDF views of the content words are compared for the pairs an inverted index
   over each document's key terms proposes; edges above both thresholds make connected components, which
   average linkage then re-splits so that no single-linkage chain glues two stories.
3. **Entity spelling consensus** (:func:`spelling_consensus`): within a story of at least three distinct
   texts, a word unknown to the general vocabulary that is one or two edits from a spelling most of the
   other texts use (Jemenskyy for Zelenskyy) is flagged; so is a surname swapped after a shared first name
   (Scott Scent for Scott Bessent).
4. **Lines repeated across documents** (:func:`repeated_lines`): boilerplate by frequency, as CCNet does
   it: a normalised line found in many documents of one site, or of the whole crawl.

:func:`crawl_signals` returns the per-document fields, :func:`crawl_reasons` turns one document's fields
into reasons shaped like the scorer's, :func:`story_clusters` and :func:`duplicate_groups` summarise.

Two stages, so that no stage needs every text in one place: :func:`doc_sketch` reduces one document to what
the signals read of it (a :class:`DocSketch`: shingle hashes and MinHash signature, content-word counts, the
names and rare words of its full text with its capitalised word pairs, its line hashes), where the document
is (a scan worker, a Ray actor); :func:`analyse_sketches` runs the four signals over the sketches alone; the
line evidence points into the document's text by offset, and :func:`line_evidence` turns it into lines where
the text is. :func:`analyse_crawl` (texts in, fields out) is the two stages in one process: every engine
takes the same path, so the same crawl gives the same fields.
Copies (near-duplicates) count once wherever the signals count documents: five verbatim copies of one
misspelled page are one text, not a majority, and their lines are not boilerplate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from datasketch import LeanMinHash, MinHash, MinHashLSH
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Indel

from service.scan import CrawlDoc
from training.arrays import distinct_sorted
from training.document import has_cjk, split_cjk
from training.vocabulary import COMMON_ZIPF, general_vocabulary

__all__ = [
    "CrawlAnalysis", "DocSketch", "doc_sketch", "analyse_sketches", "line_evidence", "analyse_crawl", "crawl_signals", "crawl_reasons", "story_clusters", "duplicate_groups",
    "near_duplicates", "story_labels", "spelling_consensus", "repeated_lines", "normalise_tokens",
]

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------ near-duplicates
SHINGLE_WORDS = 5
NUM_PERM = 128
MINHASH_SEED = 1
# Jaccard of 5-word shingle sets at or above which two texts are copies. Measured: three words changed and
# a 13-word line added give 0.76 on the shortest fixture article (160 words), 0.90 on a median one (414
# words); the seeds (rewrites of one story) are at 0.001-0.031 between them, and no two of 231 distinct
# articles (the seeds, the 124 written fixtures, 102 news pages of 2019) exceed 0.058. Lower thresholds buy
# shorter edited texts (below ~120 words three edits fall under 0.7) at the risk of pages of one site with
# short articles and long shared navigation; 0.7 is the usual choice for web text and well clear of both.
DUPLICATE_THRESHOLD = 0.7

# ------------------------------------------------------------------------------------------------- stories
# Two views of the content words (English stop words removed, alphabetic tokens of 3+ letters), both with
# IDF from the crawl plus a fixed background of the project's 88 reliable fixture articles (so that a crawl
# of five documents does not give every shared word the weight 1):
# - "breadth": sublinear tf (1 + log tf) . idf: how much of the vocabulary two texts share;
# - "focus": raw tf . idf: whether the words each text repeats most (its main subjects) are the same.
# Rewrites of one story agree on both; follow-ups and other stories on the same topic share vocabulary
# but not the focus. Measured on the five seeds beside the 124 written fixtures and 102 news pages of 2019
# (the setting of the tests): between seeds breadth 0.23-0.41 and focus 0.50-0.66, with every seed linked
# to the others by pairs of at least 0.35 / 0.55; the closest other article (the fixture following up the
# same meeting a day later) 0.31 / 0.42 to a seed; the closest two distinct fixtures 0.32 / 0.45. Sublinear
# tf alone cannot tell the follow-up from the seeds (it is as close to them as they are to each other); raw
# tf alone merges evergreen pages on one topic (0.87 between two "form an LLC" guides). With 701 more 2025
# pages in the crawl the seeds rise to 0.42 / 0.65 and the follow-up to 0.39 / 0.47: still apart. Any of
# breadth 0.2-0.3 x focus 0.45-0.55 x mean 0.4-0.5 keeps the seeds one story with nothing joining in the
# tests' setting; with the 701 pages added only focus 0.45 with mean 0.4 lets the follow-up in.
STORY_MIN_BREADTH = 0.25
STORY_MIN_FOCUS = 0.5
# Components of the edge graph are re-clustered by average linkage on focus similarity, merging only down
# to this mean: a document that bridges two stories does not glue them together. The seeds merge at a mean
# focus of 0.52-0.62 (depending on what else the crawl holds); the follow-up article's mean to them is
# 0.35-0.41.
STORY_MIN_MEAN_FOCUS = 0.45
STORY_LINKAGE_MAX = 2000  # texts per component for exact average linkage (a 2000 x 2000 matrix, 32 MB)
STORY_MIN_TOKENS = 40  # content words a text needs to take part (fragments give chance similarities)
STORY_KEY_TERMS = 15  # per text, its heaviest terms index it for candidate pairs
STORY_POSTING_CAP = 200  # per key term, only the texts where it weighs most: pairs <= n * 15 * 200
STORY_MIN_SHARED_KEYS = 2  # candidate pairs share at least this many key terms
STORY_CHUNK = 2000  # rows per sparse product when counting shared key terms
_STORY_TOKEN_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"

# -------------------------------------------------------------------------------------- spelling consensus
SPELLING_MIN_TEXTS = 3  # distinct texts a story needs before its majority means anything
SPELLING_MIN_OTHERS = 2  # the majority spelling is in at least this many other texts of the story
SPELLING_MIN_LENGTH = 4
SPELLING_LONG = 7  # tokens this long may be two edits away (Jemenskyy/Zelenskyy); shorter ones one edit
SPELLING_MIN_SURNAME_SIMILARITY = 0.6  # Indel similarity of a swapped surname to the majority's (Scent 0.67)
# Share of a text's distinct words (3+ letters) that English wordfreq knows: the seeds 0.96-0.99, the
# English fixtures >= 0.97, 700 web pages of 2025 >= 0.90 but one (0.80), the German/Spanish/... fixtures
# <= 0.70. Other texts take no part: every German word is "unknown" and one edit from another German word
# (besteht/steht).
SPELLING_MIN_ENGLISH_SHARE = 0.8

# ----------------------------------------------------------------------------------------- repeated lines
LINE_MIN_WORDS = 3
SITE_MIN_DOCS, SITE_MIN_SHARE = 3, 0.01
CRAWL_MIN_DOCS, CRAWL_MIN_SHARE = 5, 0.005
MAX_LINE_EVIDENCE = 20  # evidence items kept per document; the reason's weight is capped well before

# ------------------------------------------------------------------------------------------------ reasons
# Fixed log-odds weights, not learned: there are no crawl-level labels to fit them on. On the seeds only the
# spun copy gets a crawl reason (three names spelled unlike the other copies: -4.5), so the order the
# document scorer gives them (004 and 003 reliable, 000 and 001 below, 002 last) holds and the spun copy
# moves further down; -1.5 a name is a third of what the shipped model gives 002 for its misspelled names
# inside the document (-7.4), as the crawl evidence partly overlaps it. A page carrying a site's repeated
# navigation loses up to 3, about what the model gives one boilerplate family. A near-duplicate costs
# nothing: a copy is not less reliable text.
SPELLING_WEIGHT, SPELLING_CAP = -1.5, -6.0  # per distinct flagged name
REPEATED_LINE_WEIGHT, REPEATED_LINE_CAP = -0.5, -3.0  # per repeated line
NEAR_DUPLICATE_WEIGHT = 0.0

_LETTERS_RE = re.compile(r"[^\W\d_]+")
_PUNCT_RE = re.compile(r"[^\w\s]+")
_APOSTROPHE_RE = re.compile(r"['’]")
_DIGIT_RE = re.compile(r"\d")
# Two adjacent capitalised words; the second is matched in a lookahead so that it can start the next pair.
_NAME_PAIR_RE = re.compile(r"(?<![\w'’-])([A-Z][a-z]+)[ \t]+(?=([A-Z][a-z]{2,})(?:['’]s)?(?![\w'’-]))")


# ================================================================================================ results
@dataclass
class CrawlAnalysis:
    """Everything the crawl pass found: per-document fields (by key) and the groups behind them."""

    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    # {story, size, members: [ids], keys: [keys]}; a document is named by its id, or by its key when other
    # documents of the crawl have the same id
    clusters: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # {canonical, members: [ids]}


def _empty_fields() -> dict[str, Any]:
    return {"duplicate_of": None, "duplicate_similarity": None, "story": None, "story_size": None,
            "spelling_consensus": [], "crawl_repeated_lines": []}


@dataclass
class DocSketch:
    """What the crawl-level signals read of one document: a few KB whatever the text's size.

    Computed by :func:`doc_sketch` where the document is scored; :func:`analyse_sketches` needs nothing else.
    """

    key: str
    id: str
    site: str
    shingles: np.ndarray  # sorted unique uint32 hashes of the 5-word shingles (near-duplicates)
    minhash: np.ndarray | None  # the MinHash signature of ``shingles`` (None when there is none)
    words: dict[str, int] | PackedCounts  # content-word counts, in order of first occurrence (story views)
    spelling: _Text  # names and rare words of the full text, its capitalised pairs, its English share
    line_keys: np.ndarray  # uint64 hashes of its distinct lines (LINE_MIN_WORDS+), in text order
    line_offsets: np.ndarray  # int64: where in the text each of those lines first starts

    def pooled(self, pool: dict[str, str]) -> DocSketch:
        """This sketch (changed in place) with its words and names held once per crawl in ``pool``, its word
        counts packed: what a process that keeps many sketches does with each one it receives (every sketch
        arrives from a worker with its own copies of the same words). A sketch of a 4 KB text: 43 KB as it
        arrives, 17 KB pooled, 14 KB pooled and packed."""
        self.words = PackedCounts(self.words, pool)
        sp = self.spelling
        lows, surfaces = sp.tokens.keys(), sp.tokens.values()
        sp.tokens = dict(zip(map(pool.setdefault, lows, lows), map(pool.setdefault, surfaces, surfaces), strict=True))
        sp.bigrams = {(pool.setdefault(a, a), pool.setdefault(b, b)): (pool.setdefault(c, c), pool.setdefault(d, d))
                      for (a, b), (c, d) in sp.bigrams.items()}
        return self


class PackedCounts:
    """Word counts in a third of a dict's memory: the words (``pool``'s copies) in a tuple, the counts in
    an array; :meth:`items` gives the pairs in the same order."""

    __slots__ = ("words", "counts")
    words: tuple[str, ...]
    counts: array[int]

    def __init__(self, counts: dict[str, int] | PackedCounts, pool: dict[str, str]) -> None:
        words, ns = (counts.words, counts.counts) if isinstance(counts, PackedCounts) else (counts.keys(), counts.values())
        self.words = tuple(map(pool.setdefault, words, words))  # each word as pooled, in order
        self.counts = array("I", ns)

    def items(self) -> Iterable[tuple[str, int]]:
        return zip(self.words, self.counts, strict=True)

    def __len__(self) -> int:
        return len(self.words)


def doc_sketch(key: str, doc_id: str, text: str, *, site: str, full_text: str | None = None) -> DocSketch:
    """Reduce one document to its :class:`DocSketch`. ``text``: what stories, duplicates and repeated lines
    read (the content lines); ``full_text``: what the spelling consensus reads (default ``text``)."""
    sh = _shingles(text)
    keys, offsets = _line_keys(text)
    return DocSketch(key=key, id=str(doc_id), site=site, shingles=sh, minhash=_minhash(sh),
                     words=_content_counts(text), spelling=_text_words(text if full_text is None else full_text),
                     line_keys=keys, line_offsets=offsets)


def crawl_signals(docs: list[CrawlDoc], *, background: Sequence[str] | None = None,
                  spelling_texts: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Crawl-level fields for every document, by key (all keys always present, null or empty when none)."""
    return analyse_crawl(docs, background=background, spelling_texts=spelling_texts).fields


def analyse_crawl(docs: list[CrawlDoc], *, background: Sequence[str] | None = None,
                  spelling_texts: Mapping[str, str] | None = None) -> CrawlAnalysis:
    """Run the four crawl-level signals over texts: :func:`doc_sketch` for each, :func:`analyse_sketches`,
    then the line evidence read back from the texts.

    ``background``: texts that only steady the story IDF (None: the project's reliable fixture articles).
    ``spelling_texts``: by key, the text the spelling consensus reads instead of ``CrawlDoc.text``, e.g.
    the full text when ``text`` holds only the content lines: a mangled name in a photo caption that the
    cleaner drops (Jemenskyy in seed 002) is still evidence of a spun copy.
    """
    full = spelling_texts or {}
    sketches = [doc_sketch(d.key, d.id, d.text, site=d.site, full_text=full.get(d.key)) for d in docs]
    out = analyse_sketches(sketches, background=background)
    for d in docs:
        f = out.fields[d.key]
        f["crawl_repeated_lines"] = line_evidence(f["crawl_repeated_lines"], d.text)
    return out


def analyse_sketches(sketches: Sequence[DocSketch], *, background: Sequence[str] | None = None) -> CrawlAnalysis:
    """The four crawl-level signals over the documents' sketches, in input order (the order decides which
    document of a copy group is the original and names a story).

    ``crawl_repeated_lines`` evidence here is ``{offset, documents, scope}``: :func:`line_evidence` turns
    ``offset`` into the line, where the document's text is.
    """
    out = CrawlAnalysis(fields={s.key: _empty_fields() for s in sketches})
    if not sketches:
        return out
    docs = sketches
    # How the fields name another document: by its id, or by its key (its place in the crawl: path, #N for
    # the N-th record) when other documents have the same id (shards that number their records from 0).
    refs = _refs(docs)

    def ref(i: int) -> str:
        return refs[i]
    dup = _near_duplicates([s.shingles for s in docs], [s.minhash for s in docs])
    canonical: list[int] = []
    for i, hit in enumerate(dup):
        canonical.append(i if hit is None else hit[0])
        if hit is not None:
            f = out.fields[docs[i].key]
            f["duplicate_of"] = ref(hit[0])
            f["duplicate_similarity"] = round(hit[1], 4)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(canonical):
        groups[c].append(i)
    out.duplicates = [{"canonical": ref(c), "members": [ref(i) for i in members]}
                      for c, members in sorted(groups.items()) if len(members) > 1]

    reps = sorted(groups)  # one text per duplicate group: its first document
    labels = _story_labels([docs[i].words for i in reps], background=background)
    stories: dict[int, list[int]] = defaultdict(list)  # story label -> rep positions
    for pos, lab in enumerate(labels):
        if lab is not None:
            stories[lab].append(pos)
    # A story is every document of its texts; one text with verbatim copies is a story of its copies too.
    story_members: list[tuple[list[int], list[int]]] = []  # (rep doc indices, all doc indices)
    for lab in sorted(stories):
        rep_docs = [reps[p] for p in stories[lab]]
        story_members.append((rep_docs, sorted(i for r in rep_docs for i in groups[r])))
    for c, lab in zip(reps, labels, strict=True):
        if lab is None and len(groups[c]) > 1:
            story_members.append(([c], list(groups[c])))
    story_members.sort(key=lambda sm: sm[1][0])
    for rep_docs, members in story_members:
        story = f"story-{ref(members[0])}"
        for i in members:
            out.fields[docs[i].key]["story"] = story
            out.fields[docs[i].key]["story_size"] = len(members)
        out.clusters.append({"story": story, "size": len(members), "members": [ref(i) for i in members],
                             "keys": [docs[i].key for i in members]})
        if len(rep_docs) >= SPELLING_MIN_TEXTS:
            flags = _spelling_consensus([docs[r].spelling for r in rep_docs])
            for r, evidence in zip(rep_docs, flags, strict=True):
                for i in groups[r]:
                    out.fields[docs[i].key]["spelling_consensus"] = [{**e, "story": story} for e in evidence]
    out.clusters.sort(key=lambda c: (-c["size"], c["story"]))

    is_rep = [hit is None for hit in dup]
    lines = _repeated_lines([(d.line_keys, d.line_offsets) for d in docs], [d.site for d in docs],
                            counted=is_rep)
    for d, evidence in zip(docs, lines, strict=True):
        out.fields[d.key]["crawl_repeated_lines"] = evidence
    return out


def line_evidence(evidence: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """:func:`analyse_sketches`' repeated-line evidence ``{offset, documents, scope}`` of one document as
    ``{line, documents, scope}``: the line (stripped, at most 200 characters) read from its text."""
    out = []
    for e in evidence:
        if "offset" not in e:
            out.append(e)
            continue
        start = int(e["offset"])
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        out.append({"line": line.strip()[:200], "documents": e["documents"], "scope": e["scope"]})
    return out


def _refs(docs: Sequence[CrawlDoc | DocSketch]) -> list[str]:
    """How the crawl fields name each document: its id, or its key when other documents have the same id."""
    shared = {i for i, n in Counter(d.id for d in docs).items() if n > 1}
    return [d.key if d.id in shared else d.id for d in docs]


def story_clusters(fields: dict[str, dict[str, Any]], docs: list[CrawlDoc]) -> list[dict[str, Any]]:
    """The story clusters in :func:`crawl_signals`' fields: ``{story, size, members: [ids], keys: [keys]}``,
    largest first (what :attr:`CrawlAnalysis.clusters` holds, rebuilt from the fields)."""
    members: dict[str, list[str]] = defaultdict(list)
    keys: dict[str, list[str]] = defaultdict(list)
    for d, ref in zip(docs, _refs(docs), strict=True):
        story = fields.get(d.key, {}).get("story")
        if story:
            members[story].append(ref)
            keys[story].append(d.key)
    clusters = [{"story": s, "size": len(m), "members": m, "keys": keys[s]} for s, m in members.items()]
    return sorted(clusters, key=lambda c: (-c["size"], c["story"]))


def duplicate_groups(fields: dict[str, dict[str, Any]], docs: list[CrawlDoc]) -> list[dict[str, Any]]:
    """Near-duplicate groups: ``{canonical, members: [ids]}`` (canonical first), in input order."""
    refs = _refs(docs)
    order = {r: i for i, r in enumerate(refs)}
    groups: dict[str, list[str]] = defaultdict(list)
    for d, ref in zip(docs, refs, strict=True):
        of = fields.get(d.key, {}).get("duplicate_of")
        if of in order:
            groups[of].append(ref)
    return [{"canonical": c, "members": [c, *groups[c]]} for c in sorted(groups, key=order.__getitem__)]


# ========================================================================================= near-duplicates
def normalise_tokens(text: str) -> list[str]:
    """Lower case, apostrophes dropped ("don't" -> "dont"), other punctuation a space: the words in order.
    Chinese and Japanese write no spaces: each of their characters is a token, as :func:`training.document.parse`
    counts words, so that a shingle is five characters, not five clauses, and a character edited does not
    change a whole clause."""
    words = _PUNCT_RE.sub(" ", _APOSTROPHE_RE.sub("", text.lower())).split()
    if has_cjk(text):
        words = [piece for w in words for piece in split_cjk(w)]
    return words


_token_hashes: dict[str, int] = {}
_SHINGLE_BASES = np.array([0x9E3779B97F4A7C15 ** k % 2**64 for k in range(SHINGLE_WORDS)], dtype=np.uint64)


def _token_hash(token: str) -> int:
    """A stable 64-bit hash of a token (blake2b, memoised: a crawl repeats its words)."""
    h = _token_hashes.get(token)
    if h is None:
        if len(_token_hashes) > 1_000_000:
            _token_hashes.clear()
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        h = _token_hashes[token] = int.from_bytes(digest, "little")
    return h


def _shingles(text: str) -> np.ndarray:
    """Sorted unique 32-bit hashes of the text's 5-word shingles (the whole text if shorter).

    A shingle's hash is a polynomial over its tokens' hashes (mod 2**64, folded to 32 bits): stable across
    runs and processes, unlike ``hash()``, and vectorised.
    """
    tokens = normalise_tokens(text)
    if not tokens:
        return np.empty(0, dtype=np.uint32)
    cache = _token_hashes
    th = np.array([cache[t] if t in cache else _token_hash(t) for t in tokens], dtype=np.uint64)
    n = max(1, len(th) - SHINGLE_WORDS + 1)
    h = np.zeros(n, dtype=np.uint64)
    for k in range(min(SHINGLE_WORDS, len(th))):
        h += th[k : k + n] * _SHINGLE_BASES[k]
    return distinct_sorted(((h >> np.uint64(32)) ^ h).astype(np.uint32))


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def _identity(x: Any) -> Any:
    return x


@lru_cache(maxsize=1)
def _minhash_template() -> MinHash:
    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=_identity)


def _minhash(shingles: np.ndarray) -> np.ndarray | None:
    """The MinHash signature (``NUM_PERM`` values) of a shingle set; None for an empty one."""
    if len(shingles) == 0:
        return None
    m = _minhash_template().copy()
    m.update_batch(shingles.tolist())
    return np.asarray(m.hashvalues).copy()


def near_duplicates(texts: Sequence[str], *, threshold: float = DUPLICATE_THRESHOLD,
                    ) -> list[tuple[int, float] | None]:
    """For each text, ``(index of the text it copies, exact shingle Jaccard)`` or None (see
    :func:`_near_duplicates`)."""
    shingles = [_shingles(t) for t in texts]
    return _near_duplicates(shingles, [_minhash(sh) for sh in shingles], threshold=threshold)


def _near_duplicates(shingles: Sequence[np.ndarray], minhashes: Sequence[np.ndarray | None], *,
                     threshold: float = DUPLICATE_THRESHOLD) -> list[tuple[int, float] | None]:
    """For each document, ``(index of the document it copies, exact shingle Jaccard)`` or None.

    Streaming in input order: a document is compared (through MinHashLSH) only with the earlier ones that
    are not copies themselves, and joins the most similar one at or above ``threshold``; so every copy
    points at the first document of its group, directly, and its similarity is to that one. Empty texts
    copy nothing. The exact Jaccard of the LSH candidates confirms them.
    """
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    scheme = getattr(_minhash_template(), "scheme", None)
    extra = {"scheme": scheme} if scheme is not None else {}
    out: list[tuple[int, float] | None] = []
    for i, (sh, hv) in enumerate(zip(shingles, minhashes, strict=True)):
        if len(sh) == 0 or hv is None:
            out.append(None)
            continue
        m = LeanMinHash(seed=MINHASH_SEED, hashvalues=hv, **extra)
        best: tuple[int, float] | None = None
        for j in sorted(lsh.query(m)):
            jac = _jaccard(sh, shingles[j])
            if jac >= threshold and (best is None or jac > best[1]):
                best = (j, jac)
        out.append(best)
        if best is None:
            lsh.insert(i, m)
    return out


# ================================================================================================ stories
@lru_cache(maxsize=1)
def _fixture_background() -> tuple[str, ...]:
    """The project's reliable fixture articles: a fixed IDF background (88 news texts)."""
    from training.dataset import FIXTURES_DIR, RELIABLE_FILES

    texts: list[str] = []
    for name in RELIABLE_FILES:
        path = FIXTURES_DIR / name
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:  # an installed package without fixtures: the crawl's own IDF only
            logger.warning("no IDF background (%s): %s", path, exc)
            continue
        texts += [str(json.loads(ln).get("text", "")) for ln in lines if ln.strip()]
    return tuple(texts)


@lru_cache(maxsize=1)
def _content_analyzer() -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(stop_words="english", token_pattern=_STORY_TOKEN_PATTERN).build_analyzer()


def _content_counts(text: str) -> dict[str, int]:
    """The text's content words (English stop words removed, alphabetic tokens of 3+ letters, lower case)
    with their counts, in order of first occurrence: what the story views are built from."""
    return dict(Counter(_content_analyzer()(text)))


@lru_cache(maxsize=4)
def _background_counts(background: tuple[str, ...] | None) -> tuple[dict[str, int], ...]:
    texts = _fixture_background() if background is None else background
    return tuple(_content_counts(t) for t in texts)


def _expand(counts: dict[str, int] | PackedCounts) -> list[str]:
    """A document's tokens again from its counts (first occurrences in order): fed to CountVectorizer, it
    gives the very matrix the texts would have given."""
    return [t for t, n in counts.items() for _ in range(n)]


def _views(counts: Sequence[dict[str, int] | PackedCounts], background: Sequence[dict[str, int]],
           ) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Row-normalised breadth (sublinear tf.idf) and focus (raw tf.idf) matrices, and content-token counts."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    cv = CountVectorizer(analyzer=_expand, dtype=np.float64)
    counts_m = cv.fit_transform([*counts, *background]).tocsr()
    n_all = counts_m.shape[0]
    df = np.bincount(counts_m.indices, minlength=counts_m.shape[1])
    idf = np.log((1 + n_all) / (1 + df)) + 1.0  # sklearn's smooth idf
    c = counts_m[: len(counts)]
    tokens = np.asarray(c.sum(axis=1)).ravel()
    raw = c.multiply(idf[None, :]).tocsr()
    sub = c.copy()
    sub.data = 1.0 + np.log(sub.data)
    sub = sub.multiply(idf[None, :]).tocsr()
    return normalize(sub), normalize(raw), tokens


def _key_terms(x: sp.csr_matrix, active: np.ndarray) -> sp.csr_matrix:
    """Binary text x term matrix of each active text's heaviest terms, each term kept for its top texts."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i in np.flatnonzero(active):
        lo, hi = x.indptr[i], x.indptr[i + 1]
        data = x.data[lo:hi]
        k = min(STORY_KEY_TERMS, len(data))
        top = np.argpartition(-data, k - 1)[:k] if k < len(data) else np.arange(len(data))
        rows += [int(i)] * len(top)
        cols += x.indices[lo:hi][top].tolist()
        vals += data[top].tolist()
    a = sp.csc_matrix((vals, (rows, cols)), shape=x.shape)
    for j in np.flatnonzero(np.diff(a.indptr) > STORY_POSTING_CAP):
        lo, hi = a.indptr[j], a.indptr[j + 1]
        col = a.data[lo:hi]
        # lexsort keeps ties in text order: deterministic
        drop = np.lexsort((a.indices[lo:hi], -col))[STORY_POSTING_CAP:]
        col[drop] = 0.0
    a.eliminate_zeros()
    a.data[:] = 1.0
    return a.tocsr()


PAIR_BATCH = 20_000  # candidate pairs per sparse product: bounds memory (all at once took 5.9 GiB at 20k docs)


def _pair_sims(x: sp.csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    out = np.empty(len(i))
    for s in range(0, len(i), PAIR_BATCH):
        a, b = i[s : s + PAIR_BATCH], j[s : s + PAIR_BATCH]
        out[s : s + PAIR_BATCH] = np.asarray(x[a].multiply(x[b]).sum(axis=1)).ravel()
    return out


def _edges(breadth: sp.csr_matrix, focus: sp.csr_matrix, active: np.ndarray, *, min_breadth: float,
           min_focus: float) -> list[tuple[int, int]]:
    """Pairs (i < j) similar in both views, among candidates sharing key terms (never all pairs)."""
    keys = _key_terms(breadth, active)
    keys_t = keys.T.tocsc()
    edges: list[tuple[int, int]] = []
    n = keys.shape[0]
    for start in range(0, n, STORY_CHUNK):
        shared = (keys[start : start + STORY_CHUNK] @ keys_t).tocoo()
        i = shared.row + start
        keep = (shared.col > i) & (shared.data >= STORY_MIN_SHARED_KEYS)
        i, j = i[keep], shared.col[keep]
        if not len(i):
            continue
        ok = _pair_sims(breadth, i, j) >= min_breadth
        i, j = i[ok], j[ok]
        ok = _pair_sims(focus, i, j) >= min_focus
        edges += list(zip(i[ok].tolist(), j[ok].tolist(), strict=True))
    edges.sort()
    return edges


def _components(nodes: Iterable[int], adjacency: dict[int, list[int]]) -> list[list[int]]:
    """Connected components of ``nodes`` over the adjacency restricted to them, each sorted, in node order."""
    todo = set(nodes)
    out: list[list[int]] = []
    for start in sorted(todo):
        if start not in todo:
            continue
        todo.discard(start)
        comp, stack = [start], [start]
        while stack:
            for nb in adjacency.get(stack.pop(), ()):
                if nb in todo:
                    todo.discard(nb)
                    comp.append(nb)
                    stack.append(nb)
        out.append(sorted(comp))
    return out


def _split_chains(components: list[list[int]], focus: sp.csr_matrix, adjacency: dict[int, list[int]],
                  min_mean: float) -> list[list[int]]:
    """Undo single-linkage chaining: re-cluster each component by average linkage on focus similarity.

    Two parts of a component stay together only if their texts are, on average, at least ``min_mean``
    similar; a text that bridges two stories joins one of them, not both. The cost is quadratic in the
    component's size only, up to ``STORY_LINKAGE_MAX`` texts; a larger component (one huge story) keeps
    the texts whose mean similarity to the rest reaches ``min_mean`` (one pass: x_i . sum_j x_j), and the
    others stand alone.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    out: list[list[int]] = []
    for comp in components:
        if len(comp) < 3:
            out.append(comp)
            continue
        rows = focus[comp]
        if len(comp) <= STORY_LINKAGE_MAX:
            dist = np.clip(1.0 - (rows @ rows.T).toarray(), 0.0, 2.0)
            np.fill_diagonal(dist, 0.0)
            tree = linkage(squareform(dist, checks=False), method="average")
            labels = fcluster(tree, t=1.0 - min_mean, criterion="distance")
            groups: dict[int, list[int]] = defaultdict(list)
            for node, lab in zip(comp, labels, strict=True):
                groups[int(lab)].append(node)
            out += sorted(groups.values())
            continue
        total = np.asarray(rows.sum(axis=0)).ravel()
        mean = (rows @ total - 1.0) / (len(comp) - 1)
        core = [node for node, m in zip(comp, mean, strict=True) if m >= min_mean]
        out += _components(core, adjacency)
        out += [[node] for node, m in zip(comp, mean, strict=True) if m < min_mean]
    return sorted(out)


def story_labels(texts: Sequence[str], *, background: Sequence[str] | None = None,
                 min_breadth: float = STORY_MIN_BREADTH, min_focus: float = STORY_MIN_FOCUS,
                 min_mean_focus: float = STORY_MIN_MEAN_FOCUS) -> list[int | None]:
    """For each text, a story label (the index of the story's first text) or None when it stands alone.

    ``texts`` should be distinct (one per near-duplicate group). See the constants for the thresholds.
    """
    return _story_labels([_content_counts(t) for t in texts], background=background, min_breadth=min_breadth,
                         min_focus=min_focus, min_mean_focus=min_mean_focus)


def _story_labels(counts: Sequence[dict[str, int] | PackedCounts], *, background: Sequence[str] | None = None,
                  min_breadth: float = STORY_MIN_BREADTH, min_focus: float = STORY_MIN_FOCUS,
                  min_mean_focus: float = STORY_MIN_MEAN_FOCUS) -> list[int | None]:
    """:func:`story_labels` over the texts' content-word counts (:func:`_content_counts`)."""
    if len(counts) < 2:
        return [None] * len(counts)
    bg = _background_counts(None if background is None else tuple(background))
    try:
        breadth, focus, tokens = _views(counts, bg)
    except ValueError:  # no content word anywhere (empty vocabulary)
        return [None] * len(counts)
    active = tokens >= STORY_MIN_TOKENS
    edges = _edges(breadth, focus, active, min_breadth=min_breadth, min_focus=min_focus)
    adjacency: dict[int, list[int]] = defaultdict(list)
    for i, j in edges:
        adjacency[i].append(j)
        adjacency[j].append(i)
    comps = _split_chains(_components(adjacency, adjacency), focus, adjacency, min_mean_focus)
    labels: list[int | None] = [None] * len(counts)
    for comp in comps:
        if len(comp) > 1:
            for i in comp:
                labels[i] = comp[0]
    return labels


# ===================================================================================== spelling consensus
@dataclass
class _Text:
    tokens: dict[str, str]  # lower -> first surface form; only words rarer than COMMON_ZIPF (see below)
    bigrams: dict[tuple[str, str], tuple[str, str]]  # adjacent capitalised words, lower -> surface
    english: float  # share of its distinct words of 3+ letters that English wordfreq knows


def _text_words(text: str) -> _Text:
    """The text's words and its capitalised word pairs.

    Words are runs of letters: a possessive or a hyphenated name comes apart ("Kyiv's" -> Kyiv, s;
    "Trump-Putin" -> Trump, Putin), which is what a name comparison wants. A pair is two capitalised words
    separated by spaces or tabs only (no punctuation, so no sentence break and no line break), the second
    of 3+ letters: "Scott Bessent", "White House".

    Only words below ``COMMON_ZIPF`` are kept (after the English share is taken over all of them): the
    consensus neither flags a word the vocabulary knows nor takes a common word as a majority spelling,
    so the others never matter, and the sketch of a text stays small.
    """
    tokens: dict[str, str] = {}
    for w in dict.fromkeys(_LETTERS_RE.findall(text)):
        tokens.setdefault(w.lower(), w)
    english = _english_share(tokens)
    zipf = general_vocabulary("en").zipf
    tokens = {low: w for low, w in tokens.items() if zipf.get(low, 0.0) < COMMON_ZIPF}
    bigrams: dict[tuple[str, str], tuple[str, str]] = {}
    for m in _NAME_PAIR_RE.finditer(text):
        bigrams.setdefault((m.group(1).lower(), m.group(2).lower()), (m.group(1), m.group(2)))
    return _Text(tokens, bigrams, english)


def _affix_variant(a: str, b: str) -> bool:
    """One contains the other (Kyiv/Kyivs, Russia/Russias, steht/besteht): inflection, not a misspelling."""
    return a in b or b in a


def _plain(word: str) -> bool:
    """Letters only, lower case after an optional capital: words and names, not codes (GGas) or acronyms."""
    return word.isalpha() and (len(word) < 2 or word[1:].islower())


def _english_share(tokens: Iterable[str]) -> float:
    """Share of the (lower-case) words of 3+ letters that English wordfreq knows."""
    zipf = general_vocabulary("en").zipf
    words = [w for w in tokens if len(w) >= 3]
    return sum(w in zipf for w in words) / len(words) if words else 0.0


def spelling_consensus(texts: Sequence[str]) -> list[list[dict[str, Any]]]:
    """For each text of one story (distinct texts), the names it spells unlike the story's majority.

    A token is flagged when it is unknown to the general vocabulary (wordfreq: zipf 0; a spelling wordfreq
    knows, like Zelensky, is an attested variant), has ``SPELLING_MIN_LENGTH``+ letters, and is within one
    edit (two from ``SPELLING_LONG`` letters; Damerau-Levenshtein, case-insensitive) of a majority spelling:
    a name or rare word (zipf < ``COMMON_ZIPF``; common words are the document scorer's business) found in
    at least ``SPELLING_MIN_OTHERS`` other texts and in more texts than the variant. Neither may contain the
    other (Kyiv/Kyivs). A surname after a shared capitalised first word ("Scott Scent") is flagged likewise
    when most texts follow that word with another surname that is a name and looks alike ("Scott Bessent").
    Texts that are not English (``SPELLING_MIN_ENGLISH_SHARE``) neither count nor get flagged.
    Evidence: ``{found, majority, documents_with_majority}`` (the caller adds ``story``).
    """
    return _spelling_consensus([_text_words(t) for t in texts])


def _spelling_consensus(parsed: Sequence[_Text]) -> list[list[dict[str, Any]]]:
    """:func:`spelling_consensus` over the texts' parsed words (:func:`_text_words`)."""
    vocab = general_vocabulary("en")
    english = [p.english >= SPELLING_MIN_ENGLISH_SHARE for p in parsed]
    min_texts = SPELLING_MIN_OTHERS + 1
    in_texts: Counter[str] = Counter()
    bigram_texts: Counter[tuple[str, str]] = Counter()
    for p, ok in zip(parsed, english, strict=True):
        if ok:
            in_texts.update(p.tokens.keys())
            bigram_texts.update(p.bigrams.keys())
    surface: dict[str, Counter[str]] = defaultdict(Counter)  # how the frequent words are written
    for p, ok in zip(parsed, english, strict=True):
        if ok:
            for low, w in p.tokens.items():
                if in_texts[low] >= min_texts:
                    surface[low][w] += 1

    def spelled(w: str) -> str:
        return surface[w].most_common(1)[0][0]

    def is_name(w: str) -> bool:
        """A majority spelling: written as a name (capitalised), or a rare word wordfreq knows (tomahawks);
        a lowercase unknown word is another language's (voranzutreiben) or a code."""
        z = vocab.zipf_of(w)
        return z < COMMON_ZIPF and _plain(spelled(w)) and (z > 0 or spelled(w)[0].isupper())

    majority = sorted(w for w, n in in_texts.items() if n >= min_texts and len(w) >= SPELLING_MIN_LENGTH
                      and is_name(w))
    surnames: dict[str, list[tuple[str, int]]] = defaultdict(list)  # first word -> [(surname, texts)]
    for (first, last), n in sorted(bigram_texts.items()):
        if n >= min_texts and is_name(last):
            surnames[first].append((last, n))

    out: list[list[dict[str, Any]]] = []
    for p, ok in zip(parsed, english, strict=True):
        flags: list[dict[str, Any]] = []
        out.append(flags)
        if not ok:
            continue
        flagged: set[str] = set()
        for low, w in p.tokens.items():
            if low in vocab.zipf or len(low) < SPELLING_MIN_LENGTH or not _plain(w):
                continue
            max_d = 2 if len(low) >= SPELLING_LONG else 1
            hits = process.extract(low, majority, scorer=DamerauLevenshtein.distance, score_cutoff=max_d,
                                   limit=None)
            cands = [(int(d), -in_texts[m], m) for m, d, _ in hits
                     if 0 < d and not _affix_variant(low, m) and in_texts[m] > in_texts[low]
                     and in_texts[m] - (m in p.tokens) >= SPELLING_MIN_OTHERS
                     # a capitalised variant mangles a name; near a lowercase word it is a brand (Typemade)
                     and (w[0].islower() or spelled(m)[0].isupper())]
            if cands:
                m = min(cands)[2]
                flagged.add(low)
                flags.append({"found": w, "majority": spelled(m), "documents_with_majority": in_texts[m]})
        for (first, last), (w1, w2) in p.bigrams.items():
            if last in flagged or first in flagged:
                continue
            mine = bigram_texts[(first, last)]
            cands2 = [(-n, other) for other, n in surnames.get(first, ())
                      if other != last and n > mine
                      and n - ((first, other) in p.bigrams) >= SPELLING_MIN_OTHERS
                      and not _affix_variant(last, other)
                      and Indel.normalized_similarity(last, other) >= SPELLING_MIN_SURNAME_SIMILARITY]
            if cands2:
                n, other = min(cands2)
                flagged.add(last)
                flags.append({"found": f"{w1} {w2}", "majority": f"{w1} {spelled(other)}",
                              "documents_with_majority": -n})
    return out


# ========================================================================================= repeated lines
def _line_key(line: str) -> int | None:
    """64-bit hash of the normalised line (digits as 0, as CCNet), or None under ``LINE_MIN_WORDS`` words."""
    words = normalise_tokens(_DIGIT_RE.sub("0", line))
    if len(words) < LINE_MIN_WORDS:
        return None
    return int.from_bytes(hashlib.blake2b(" ".join(words).encode(), digest_size=8).digest(), "little")


def _line_keys(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The text's distinct line keys (:func:`_line_key`) in order, and the offset of each one's first line."""
    keys: list[int] = []
    offsets: list[int] = []
    seen: set[int] = set()
    pos = 0
    for line in text.split("\n"):
        k = _line_key(line)
        if k is not None and k not in seen:
            seen.add(k)
            keys.append(k)
            offsets.append(pos)
        pos += len(line) + 1
    return np.array(keys, dtype=np.uint64), np.array(offsets, dtype=np.int64)


def repeated_lines(texts: Sequence[str], sites: Sequence[str], *, counted: Sequence[bool] | None = None,
                   ) -> list[list[dict[str, Any]]]:
    """For each text, its lines found in many texts of its site or of the crawl (CCNet-style counting).

    A line counts once per text, and only texts marked in ``counted`` count (default all; the crawl pass
    leaves out near-duplicate copies, so that seven copies of an article do not make its lines
    boilerplate). A line is evidence when it is in at least max(``SITE_MIN_DOCS``, ``SITE_MIN_SHARE`` of the
    site's counted texts) counted texts of the same site (scope "site"), else in max(``CRAWL_MIN_DOCS``,
    ``CRAWL_MIN_SHARE`` of all counted texts) (scope "crawl"). Memory: one counter per distinct line hash.
    Evidence ``{line, documents, scope}``, in text order, at most ``MAX_LINE_EVIDENCE`` per text.
    """
    found = _repeated_lines([_line_keys(t) for t in texts], sites, counted=counted)
    return [line_evidence(ev, t) for ev, t in zip(found, texts, strict=True)]


def _repeated_lines(lines: Sequence[tuple[np.ndarray, np.ndarray]], sites: Sequence[str], *,
                    counted: Sequence[bool] | None = None) -> list[list[dict[str, Any]]]:
    """:func:`repeated_lines` over each text's distinct line keys and their offsets (:func:`_line_keys`);
    evidence ``{offset, documents, scope}``."""
    counted = [True] * len(lines) if counted is None else counted
    crawl: Counter[int] = Counter()
    per_site: dict[str, Counter[int]] = defaultdict(Counter)
    site_size: Counter[str] = Counter()
    for (keys, _), site, count in zip(lines, sites, counted, strict=True):
        if count:
            distinct = keys.tolist()
            crawl.update(distinct)
            per_site[site].update(distinct)
            site_size[site] += 1
    crawl_min = max(CRAWL_MIN_DOCS, math.ceil(CRAWL_MIN_SHARE * sum(site_size.values())))
    out: list[list[dict[str, Any]]] = []
    for (keys, offsets), site in zip(lines, sites, strict=True):
        site_min = max(SITE_MIN_DOCS, math.ceil(SITE_MIN_SHARE * site_size[site]))
        site_counts = per_site.get(site, Counter())
        evidence: list[dict[str, Any]] = []
        for k, offset in zip(keys.tolist(), offsets.tolist(), strict=True):
            if site_counts[k] >= site_min:
                evidence.append({"offset": offset, "documents": site_counts[k], "scope": "site"})
            elif crawl[k] >= crawl_min:
                evidence.append({"offset": offset, "documents": crawl[k], "scope": "crawl"})
            if len(evidence) >= MAX_LINE_EVIDENCE:
                break
        out.append(evidence)
    return out


# ================================================================================================ reasons
def crawl_reasons(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Reasons to add to a document's record, shaped like the scorer's: ``{code, message, contribution,
    evidence}``; contributions are the fixed log-odds weights above."""
    reasons: list[dict[str, Any]] = []
    spelling = fields.get("spelling_consensus") or []
    if spelling:
        names = list(dict.fromkeys(e["found"] for e in spelling))
        others = max(0, int(fields.get("story_size") or 0) - 1)
        listed = ", ".join(f"{e['found']} ({e['majority']})" for e in spelling)
        noun = "name is" if len(names) == 1 else "names are"
        reasons.append({
            "code": "story_spelling_inconsistent",
            "message": f"{len(names)} {noun} spelled differently from the other {others} copies of this "
                       f"story: {listed}. Rewrites that mangle names are typical of machine-spun copies.",
            "contribution": max(SPELLING_CAP, SPELLING_WEIGHT * len(names)),
            "evidence": spelling,
        })
    lines = fields.get("crawl_repeated_lines") or []
    if lines:
        shown = "; ".join(f"\"{e['line'][:60]}\" ({e['documents']} documents of this "
                          f"{'site' if e['scope'] == 'site' else 'crawl'})" for e in lines[:3])
        more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
        n = f"{len(lines)}+" if len(lines) >= MAX_LINE_EVIDENCE else str(len(lines))
        reasons.append({
            "code": "crawl_repeated_lines",
            "message": f"{n} line{'s' if len(lines) != 1 else ''} of this document also appear in many other "
                       f"documents, which marks them as boilerplate: {shown}{more}.",
            "contribution": max(REPEATED_LINE_CAP, REPEATED_LINE_WEIGHT * len(lines)),
            "evidence": lines,
        })
    if fields.get("duplicate_of"):
        sim = fields.get("duplicate_similarity")
        reasons.append({
            "code": "near_duplicate",
            "message": f"This text is a near-copy of document {fields['duplicate_of']} (Jaccard similarity "
                       f"{sim} over 5-word shingles). For information only: a copy is not less reliable text "
                       "in itself, so this does not change the score.",
            "contribution": NEAR_DUPLICATE_WEIGHT,
            "evidence": {"duplicate_of": fields["duplicate_of"], "duplicate_similarity": sim},
        })
    return reasons
