"""Words: are the text's words words of its language, and do they stand in a grammatical order?

Two faults the other families cannot see, because each looks at lines, names or counts, not at words:

* Unknown words. Random letter strings, keyboard mash, lorem ipsum, text in a cipher or a broken encoding:
  langdetect still names a language for them (Dutch, Catalan, Croatian ...), and every English-only signal
  then stands aside. ``words_unknown_excess`` is the share of the text's lower-case words that wordfreq does
  not know in the detected language (any language wordfreq has a word list for; NaN for the others) beyond
  ``UNKNOWN_TOLERANCE``. Only words
  written in lower case count: names, acronyms and a German noun's capital are no evidence either way.
* Word salad. Real words in no grammatical order (the shuffled copy of an article that spam sites publish to
  look like text): every word is known, every count looks normal. In English an article ("the", "a", "an")
  is followed by what it determines, almost never by another function word ("the of", "a and"): 0.1 % of
  articles do so in real text (99th percentile 2 %), about 30 % in shuffled text.
  ``words_article_clash_excess`` is that share beyond ``CLASH_TOLERANCE``, English only (NaN elsewhere, or
  with fewer than ``MIN_ARTICLES`` articles).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from training.arrays import distinct_sorted
from training.document import Document
from training.features import Context, FamilyOutput

NAME = "words"
FEATURES = ("words_unknown_excess", "words_article_clash_excess")
DIRECTIONS = dict.fromkeys(FEATURES, -1)  # more of either can only make a text less reliable

MIN_WORDS = 5  # fewer lower-case words than this: no rate (NaN)
# What clean text reaches, which no value counts: wordfreq's lists miss inflected forms of agglutinative
# languages (7 % of a clean Turkish article's lower-case words, 4 % of a Romanian one; English at most 2 %),
# and an article followed by "he" or "or" happens (real text: at most 8 % of a few articles, 2 % at the 99th
# percentile). Made-up words reach 30-100 %, shuffled text about 30 % of its articles. The values are the
# excess over these.
UNKNOWN_TOLERANCE = 0.10
CLASH_TOLERANCE = 0.05
MIN_ARTICLES = 5
EXAMPLES = 10  # evidence: at most this many unknown words, and as many clashes

# langdetect's codes -> wordfreq's word lists. A language wordfreq lacks is NaN: its nearest match would be
# another language's list (Swahili is given English), which would call every word unknown.
_WORDFREQ_CODES = {"no": "nb", "hr": "sh", "sr": "sh", "bs": "sh", "tl": "fil"}
# Languages whose words wordfreq needs a segmenter for (not written with spaces), or that have no case.
_NO_LIST = frozenset({"zh", "zh-cn", "zh-tw", "ja", "ko", "th"})

ARTICLES = frozenset({"the", "a", "an", "The", "An"})  # "A" alone may be a letter ("Plan A and B")
# Words that do not follow an article in English: other articles, prepositions, conjunctions, auxiliaries,
# pronouns ("the of", "a and", "an it"). Compared as written: a capital makes a name or an acronym of them
# ("the WHO", "an IT team", "the OR", "The Who").
CLOSED_CLASS = frozenset(
    "the a an of to and or in on at by for from with is are was were be been has have had that which who it he she "
    "they we you not but as if than I".split()
)


@lru_cache(maxsize=64)  # every language a process meets stays loaded: 2-5 MB each
def known_words(language: str) -> np.ndarray | None:
    """The words wordfreq knows in ``language`` (a langdetect code), as the sorted hashes of the words (8
    bytes a word: a German list as a set of strings took 40 MB more in every process), or None when it has no
    list for it. Read from wordfreq's file, not through its cached lookup, which keeps every list it read."""
    import wordfreq

    if language in _NO_LIST:
        return None
    path = wordfreq.available_languages().get(_WORDFREQ_CODES.get(language, language))
    if path is None:
        return None
    buckets = wordfreq.read_cBpack(path)
    return distinct_sorted(np.fromiter((hash(w) for bucket in buckets for w in bucket), dtype=np.int64))


def preload_word_lists() -> int:
    """Load the word list of every language the language family can answer (37 lists here, 67 MiB,
    about 2 s), so that the first text in a language does not pay 50-300 ms for its list; returns how many
    lists there are. The server calls it (``warm_up(word_lists=True)``): its requests should not wait for a list."""
    from training.features.language import detectable_languages

    return sum(known_words(lang) is not None for lang in detectable_languages())


def _unknown_in(words: list[str], known: np.ndarray) -> set[str]:
    """The distinct words of ``words`` (case-folded as wordfreq folds its keys) whose hash ``known`` lacks."""
    distinct = sorted({w.casefold() for w in words})
    hashes = np.fromiter(map(hash, distinct), dtype=np.int64, count=len(distinct))
    at = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
    return {w for w, found in zip(distinct, known[at] == hashes, strict=True) if not found}


def _absent(words: list[str], context: Context) -> set[str] | None:
    """The distinct words (case-folded) of ``words`` that the text's language's word list lacks; None when
    there is no list for that language."""
    if context.english:  # the English list is loaded already, as a dict
        zipf = context.resources.vocabulary.zipf
        return {f for f in {w.casefold() for w in words} if f not in zipf}
    known = known_words(context.language)
    return _unknown_in(words, known) if known is not None and len(known) else None


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    nan = math.nan
    lower = [w for ln in doc.lines for w in ln.words if w[:1].islower() and w.isalpha()]
    unknown_rate, unknown = nan, []
    absent = _absent(lower, context) if len(lower) >= MIN_WORDS else None
    if absent is not None:
        missing = [w for w in lower if w.casefold() in absent]
        unknown_rate = len(missing) / len(lower)
        unknown = list(dict.fromkeys(missing))[:EXAMPLES]  # the first ones, in order
    clash_rate, clashes = nan, []
    if context.english:
        n_articles = 0
        for ln in doc.lines:
            words = ln.words
            for a, b in zip(words, words[1:], strict=False):
                if a in ARTICLES:
                    n_articles += 1
                    if b in CLOSED_CLASS:  # as written: "the WHO", "an IT", "the OR" are names, not clashes
                        clashes.append({"line": ln.number, "text": f"{a} {b}"})
        if n_articles >= MIN_ARTICLES:
            clash_rate = len(clashes) / n_articles
        else:
            clashes = []
    return FamilyOutput(
        values={
            "words_unknown_excess": max(0.0, unknown_rate - UNKNOWN_TOLERANCE) if unknown_rate == unknown_rate else nan,
            "words_article_clash_excess": max(0.0, clash_rate - CLASH_TOLERANCE) if clash_rate == clash_rate else nan,
        },
        evidence={
            "unknown_words": [{"text": w} for w in unknown],
            "article_clashes": clashes[:EXAMPLES],
        },
        extra={"words": {"unknown_rate": unknown_rate, "article_clash_rate": clash_rate}},  # for the reasons
    )
