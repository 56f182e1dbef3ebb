"""Repetition and spam: Gopher-style duplicate fractions plus symbol, capitals, exclamation and
promotional-phrase rates. Counts are normalised (per line, per character, per 1,000 words) so that
long and short documents compare.
"""

from __future__ import annotations

import math
import re

import numpy as np

from training.document import WORD_RE, Document, count_cjk, has_cjk
from training.features import Context, FamilyOutput
from training.lexicons import STOP_WORDS, promo_hits

NAME = "repetition"
FEATURES = (
    "repetition_dup_line_frac",
    "repetition_dup_para_frac",
    "repetition_dup_line_char_frac",
    "repetition_top_2gram_frac",
    "repetition_top_3gram_frac",
    "repetition_top_4gram_frac",
    "repetition_dup_5gram_frac",
    "repetition_dup_8gram_frac",
    "repetition_symbol_word_ratio",
    "repetition_ellipsis_line_frac",
    "repetition_bullet_line_frac",
    "repetition_stopword_frac",
    "repetition_mean_word_length",
    "repetition_caps_word_frac",
    "repetition_exclamation_per_1k",
    "repetition_promo_per_1k",
    "repetition_log_words",
    "repetition_short_text",
)
# Repeats, symbols, ellipses, exclamations and promotional phrases can only lower the score; word
# length, capitals, bullets, stop words and length are two-sided and left free; being a fragment
# (short_text) only lowers it.
DIRECTIONS = {
    "repetition_dup_line_frac": -1,
    "repetition_dup_para_frac": -1,
    "repetition_dup_line_char_frac": -1,
    "repetition_top_2gram_frac": -1,
    "repetition_top_3gram_frac": -1,
    "repetition_top_4gram_frac": -1,
    "repetition_dup_5gram_frac": -1,
    "repetition_dup_8gram_frac": -1,
    "repetition_symbol_word_ratio": -1,
    "repetition_ellipsis_line_frac": -1,
    "repetition_exclamation_per_1k": -1,
    "repetition_promo_per_1k": -1,
    "repetition_short_text": -1,
}
# Under this many characters in words (letters and digits; about 30 English words) a text is a fragment (a
# headline, a teaser, an error page), not an article. Characters, not words: a word is one to three
# characters in Japanese or Chinese, five in English.
SHORT_TEXT_CHARS = 150
CJK_TEXT_SHARE = 0.5  # of a text's letters Chinese or Japanese characters: it is written without spaces
_BULLETS = ("-", "•", "*", "·", "▪", "►", "–")
_TEXT_RE = re.compile(r"[^\W_]")  # a letter or a digit: a line without one (a table rule, "* * *") is layout


def _dup_fraction(items: list[str]) -> tuple[float, float, list[str]]:
    """Share of items that repeat an earlier one, the share of characters in them, and the repeats."""
    seen: set[str] = set()
    dups: list[str] = []
    for it in items:
        key = it.lower()
        if key in seen:
            dups.append(it)
        seen.add(key)
    total_chars = sum(len(i) for i in items) or 1
    return (len(dups) / len(items) if items else 0.0, sum(len(d) for d in dups) / total_chars, dups)


def _ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """One polynomial hash per word n-gram, wrapping at 64 bits (vectorised; collisions are negligible)."""
    h = np.zeros(len(ids) - n + 1, dtype=np.uint64)
    for k in range(n):
        h = h * np.uint64(1_000_003) + ids[k : len(ids) - n + 1 + k]
    return h


def _ngram_hashes_upto(ids: np.ndarray, sizes: tuple[int, ...]) -> dict[int, np.ndarray]:
    """:func:`_ngram_hashes` for each n of ``sizes`` (at most ``len(ids)``), the longer n-grams' from the
    shorter ones': the same recurrence (``h * 1_000_003 + id`` from the n-gram's first word on), so the
    same numbers, with one array step per word of the longest n-gram instead of one per word of each."""
    out: dict[int, np.ndarray] = {}
    h = np.zeros(len(ids) + 1, dtype=np.uint64)  # the 0-grams' hashes, one per position
    for n in range(1, max(sizes, default=0) + 1):
        h = h[:-1] * np.uint64(1_000_003) + ids[n - 1 :]
        if n in sizes:
            out[n] = h
    return out


def _word_ids(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    # Ids 1, 2, ... in order of first occurrence (the n-gram hashes, and so ties between equally
    # frequent n-grams, depend on this order).
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words), start=1)}
    ids = np.fromiter(map(vocab.__getitem__, words), dtype=np.uint64, count=len(words))
    lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return ids, lens


def top_ngram_char_frac(
    words: list[str],
    n: int,
    *,
    _ids: tuple[np.ndarray, np.ndarray] | None = None,
    _hashes: np.ndarray | None = None,
) -> float:
    """Characters covered by the most frequent word n-gram, over all word characters (Gopher)."""
    if len(words) < n:
        return 0.0
    ids, lens = _ids or _word_ids(words)
    h = _ngram_hashes(ids, n) if _hashes is None else _hashes
    values, counts = np.unique(h, return_counts=True)
    k = int(counts.argmax())  # the first of the most frequent, in hash order
    if counts[k] < 2:
        return 0.0
    start = int(np.argmax(h == values[k]))  # its first occurrence
    total = int(lens.sum()) or 1
    return min(1.0, int(lens[start : start + n].sum()) * int(counts[k]) / total)


def dup_ngram_char_frac(
    words: list[str],
    n: int,
    *,
    _ids: tuple[np.ndarray, np.ndarray] | None = None,
    _hashes: np.ndarray | None = None,
) -> float:
    """Characters of words inside any n-gram that occurs more than once (Gopher)."""
    if len(words) < n:
        return 0.0
    ids, lens = _ids or _word_ids(words)
    h = _ngram_hashes(ids, n) if _hashes is None else _hashes
    _, inverse, counts = np.unique(h, return_inverse=True, return_counts=True)
    dup_start = (counts[inverse] > 1).astype(np.int64)
    # A word is covered when any of the n n-grams that contain it is duplicated.
    covered = np.convolve(dup_start, np.ones(n, dtype=np.int64))[: len(words)] > 0
    total = int(lens.sum()) or 1
    return int(lens[covered].sum()) / total


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    lines = [ln.text for ln in doc.lines]
    words = list(map(str.lower, doc.words))
    n_words = len(words)
    no_spaces = False
    spaced = words  # the words a mean word length is taken over
    if has_cjk(doc.text):
        # Every Chinese or Japanese character is a word to the parser, so that lengths and rates compare
        # with other languages'; but a run of 5 characters is not 5 words (common endings repeat all the
        # time). The n-gram statistics read the runs of letters between punctuation marks instead, as they
        # did before characters were words. A text mostly written in them has no mean word length (no
        # spaces, no words); an English article naming 北京 keeps its own.
        words = [w.lower() for ln in doc.lines for w in WORD_RE.findall(ln.text)]
        no_spaces = count_cjk(doc.text) >= CJK_TEXT_SHARE * sum(map(len, words))
        spaced = [w for w in words if not has_cjk(w)]
    ids = _word_ids(words)
    hashes = _ngram_hashes_upto(ids[0], tuple(n for n in (2, 3, 4, 5, 8) if n <= len(words)))
    per_1k = 1000.0 / max(n_words, 50)
    # Lines and paragraphs without a letter or digit (a text table's rules, separators) are layout,
    # not text: a table drawn with 20 identical rule lines is not a page repeating itself.
    has_text = _TEXT_RE.search
    dup_line, dup_line_chars, dup_lines = _dup_fraction([ln for ln in lines if has_text(ln)])
    dup_para, _, _ = _dup_fraction([p for p in doc.paragraphs if has_text(p)])
    # Hashtags and ellipses (Gopher), counted in the lines as parsed: a Markdown heading's "##" is layout,
    # which the parser has taken off its line, not a hashtag.
    joined = "\n".join(lines)
    symbols = joined.count("#") + joined.count("…") + joined.count("...")
    promo = promo_hits(doc.text)
    caps = [w for w in filter(str.isupper, doc.words) if len(w) >= 2]
    word_chars = sum(map(len, words))
    values = {
        "repetition_dup_line_frac": dup_line,
        "repetition_dup_para_frac": dup_para,
        "repetition_dup_line_char_frac": dup_line_chars,
        "repetition_top_2gram_frac": top_ngram_char_frac(words, 2, _ids=ids, _hashes=hashes.get(2)),
        "repetition_top_3gram_frac": top_ngram_char_frac(words, 3, _ids=ids, _hashes=hashes.get(3)),
        "repetition_top_4gram_frac": top_ngram_char_frac(words, 4, _ids=ids, _hashes=hashes.get(4)),
        "repetition_dup_5gram_frac": dup_ngram_char_frac(words, 5, _ids=ids, _hashes=hashes.get(5)),
        "repetition_dup_8gram_frac": dup_ngram_char_frac(words, 8, _ids=ids, _hashes=hashes.get(8)),
        "repetition_symbol_word_ratio": symbols / max(n_words, 1),
        "repetition_ellipsis_line_frac": sum(ln.endswith(("…", "...")) for ln in lines) / len(lines),
        "repetition_bullet_line_frac": sum(ln.startswith(_BULLETS) for ln in lines) / len(lines),
        "repetition_stopword_frac": (
            sum(map(STOP_WORDS.__contains__, words)) / max(len(words), 1) if context.english else math.nan
        ),
        "repetition_mean_word_length": (
            math.nan if no_spaces else min(sum(map(len, spaced)) / max(len(spaced), 1), 20.0)
        ),
        "repetition_caps_word_frac": len(caps) / max(n_words, 1),
        "repetition_exclamation_per_1k": doc.text.count("!") * per_1k,
        "repetition_promo_per_1k": len(promo) * per_1k,
        "repetition_log_words": math.log1p(n_words),
        # 1 for nothing, 0 from SHORT_TEXT_CHARS on: how far short of an article's length the text is
        "repetition_short_text": max(0.0, 1.0 - word_chars / SHORT_TEXT_CHARS),
    }
    evidence = {
        "duplicate_lines": [{"text": d[:300]} for d in dict.fromkeys(dup_lines)][:20],
        "promotional_phrases": [{"text": p} for p in dict.fromkeys(promo)][:20],
    }
    # the evidence lists the first 20 distinct lines; the reason's sentence counts every repeat
    extra = {"repetition": {"repeated_lines": len(dup_lines), "distinct_repeated_lines": len(set(dup_lines))}}
    return FamilyOutput(values=values, evidence=evidence, extra=extra)
