"""Language: langdetect on a bounded sample, deterministic, plus the share of lines in another language."""

from __future__ import annotations

import math
from functools import lru_cache

from langdetect import DetectorFactory
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException

from training.document import Document
from training.features import Context, FamilyOutput
from training.lexicons import STOP_WORDS

NAME = "language"
FEATURES = ("language_english_prob", "language_top_prob", "language_other_line_share")

SAMPLE_CHARS = 400  # langdetect reads at most this many characters of the longer lines (~1.6 ms)
MIN_WORDS_FOR_LINE_CHECK = 8  # a line this long with almost no English stop words is another language
DetectorFactory.seed = 0  # langdetect is random unless seeded: scores must be deterministic


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    DetectorFactory.seed = 0
    init_factory()
    from langdetect import detector_factory

    return detector_factory._factory  # type: ignore[attr-defined,no-any-return]


def detect(text: str, *, max_chars: int = SAMPLE_CHARS) -> list[tuple[str, float]]:
    """Languages with probabilities, most likely first; empty when nothing is detectable."""
    sample = text[: max_chars * 2]
    det = _factory().create()
    det.set_max_text_length(max_chars)
    det.append(sample)
    try:
        return [(p.lang, float(p.prob)) for p in det.get_probabilities()]
    except LangDetectException:
        return []


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    # Sample the longer lines first: menus and buttons say little about the article's language.
    long_lines = [ln.text for ln in doc.lines if len(ln.words) >= 6] or [ln.text for ln in doc.lines]
    probs = detect("\n".join(long_lines))
    top, top_p = (probs[0] if probs else ("unknown", 0.0))
    en_p = next((p for lang, p in probs if lang == "en"), 0.0)
    context.language = top
    context.english = top == "en"
    other = math.nan
    if context.english:
        checked = [ln for ln in doc.lines if len(ln.words) >= MIN_WORDS_FOR_LINE_CHECK]
        if checked:
            foreign = [
                ln for ln in checked if sum(w.lower() in STOP_WORDS for w in ln.words) / len(ln.words) < 0.08
            ]
            other = len(foreign) / len(checked)
    evidence = {
        "language": [{"language": top, "probability": round(top_p, 3), "candidates": probs[:3]}],
    }
    return FamilyOutput(
        values={"language_english_prob": en_p, "language_top_prob": top_p, "language_other_line_share": other},
        evidence=evidence,
        extra={"language": {"code": top, "probability": round(top_p, 3), "english_signals": context.english}},
    )
