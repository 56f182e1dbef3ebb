"""Language: langdetect on a bounded sample, deterministic, plus the share of lines in another language."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from langdetect import DetectorFactory
from langdetect.detector import Detector
from langdetect.detector_factory import init_factory
from langdetect.utils.ngram import NGram

from training.document import Document
from training.features import Context, FamilyOutput
from training.lexicons import STOP_WORDS

NAME = "language"
FEATURES = ("language_english_prob", "language_top_prob", "language_other_line_share")
# Known direction of a value (see features.FEATURE_DIRECTIONS): lines in another language are page furniture.
DIRECTIONS = {"language_other_line_share": -1}

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
    det.cleaning_text()
    ngrams = _extract_ngrams(det.text, det.word_lang_prob_map)
    if not ngrams:
        return []
    probs = _trials(det, ngrams)
    found = [(lang, float(p)) for lang, p in zip(det.langlist, probs, strict=True) if p > det.PROB_THRESHOLD]
    found.sort(key=lambda lp: lp[1], reverse=True)  # as langdetect sorts: by probability, stable
    return found


_NORMALISED: dict[str, str] = {}  # NGram.normalize per character, remembered


def _extract_ngrams(text: str, word_map: dict[str, list[float]]) -> list[str]:
    """langdetect's ``Detector._extract_ngrams`` (with ``NGram.add_char`` inlined and each character's
    normalisation looked up once per process): the same n-grams in the same order."""
    result: list[str] = []
    grams = " "
    capital = False
    for ch in text:
        c = _NORMALISED.get(ch)
        if c is None:
            if len(_NORMALISED) >= 100_000:
                _NORMALISED.clear()
            c = _NORMALISED[ch] = NGram.normalize(ch)
        last = grams[-1]
        if last == " ":
            grams = " "
            capital = False
            if c == " ":
                continue
        elif len(grams) >= NGram.N_GRAM:
            grams = grams[1:]
        grams += c
        if c.isupper():
            if last.isupper():
                capital = True
        else:
            capital = False
        if capital:
            continue
        for n in range(1, NGram.N_GRAM + 1):
            if len(grams) < n:
                break
            w = grams[-n:]
            if w and w != " " and w in word_map:
                result.append(w)
    return result


_NGRAM_ROWS: dict[str, np.ndarray] = {}  # a profile row as an array, made the first time an n-gram is drawn


def _row(word_map: dict[str, list[float]], word: str) -> np.ndarray:
    row = _NGRAM_ROWS.get(word)
    if row is None:
        row = _NGRAM_ROWS[word] = np.array(word_map[word], dtype=np.float64)
    return row


def _trials(det: Detector, ngrams: list[str]) -> np.ndarray:
    """langdetect's ``Detector._detect_block`` after n-gram extraction, with the 55 language
    probabilities as one array: the same random draws and the same floating-point operations in the
    same order (normalised by Python's own ``sum``, as langdetect does), so the same probabilities, faster."""
    word_map = det.word_lang_prob_map
    rand = det.random
    rand.seed(det.seed)
    n_lang = len(det.langlist)
    langprob = np.zeros(n_lang)
    for _ in range(det.n_trial):
        prob = np.array(det.prior_map if det.prior_map is not None else [1.0 / n_lang] * n_lang, dtype=np.float64)
        alpha = det.alpha + rand.gauss(0.0, 1.0) * det.ALPHA_WIDTH
        weight = alpha / det.BASE_FREQ
        i = 0
        while True:
            word = rand.choice(ngrams)
            if word in word_map:
                prob *= weight + _row(word_map, word)
            if i % 5 == 0:
                prob /= sum(prob.tolist())  # the interpreter's own sum, as langdetect's (3.12 changed it)
                if prob.max() > det.CONV_THRESHOLD or i >= det.ITERATION_LIMIT:
                    break
            i += 1
        langprob += prob / det.n_trial
    return langprob


def detect_document(doc: Document) -> list[tuple[str, float]]:
    """:func:`detect` on the document's longer lines first: menus and buttons say little about the
    article's language."""
    long_lines = [ln.text for ln in doc.lines if len(ln.words) >= 6] or [ln.text for ln in doc.lines]
    return detect("\n".join(long_lines))


def document_language(doc: Document) -> str:
    """The document's most likely language (``unknown`` when nothing is detectable)."""
    probs = detect_document(doc)
    return probs[0][0] if probs else "unknown"


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    probs = detect_document(doc)
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
