from __future__ import annotations

import pytest
import wordfreq

from training.lexicons import FUNCTION_WORDS_TOP_N, STOP_WORDS_TOP_N, _top_list, function_words, stop_words


@pytest.mark.parametrize("language", ["de", "pl", "sv", "tr", "ja"])
def test_other_languages_function_words_are_wordfreqs_top_words(language):
    """The same words as wordfreq's top_n_list, read without filling wordfreq's unbounded cache of
    whole frequency lists (tens of MiB per language in every worker)."""
    for cached in (_top_list, function_words, stop_words):
        cached.cache_clear()
    before = wordfreq.get_frequency_list.cache_info().currsize
    stop, function = stop_words(language), function_words(language)
    assert wordfreq.get_frequency_list.cache_info().currsize == before
    assert stop == {w.lower() for w in wordfreq.top_n_list(language, STOP_WORDS_TOP_N)}
    assert function >= {w.lower() for w in wordfreq.top_n_list(language, FUNCTION_WORDS_TOP_N)}


def _texts_with_phrases() -> list[str]:
    import random

    from training.lexicons import _PHRASE_KEYWORDS, PROMO_PHRASES

    phrases = [kw for kw, _ in _PHRASE_KEYWORDS] + list(PROMO_PHRASES)
    rng = random.Random(7)
    filler = "the council met on tuesday – budget ünïcödé 市议会 \udcff lines\n".split(" ")
    out = []
    for _ in range(60):
        parts = [rng.choice(filler) for _ in range(rng.randint(50, 400))]
        for _ in range(rng.randint(0, 6)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(phrases))
        out.append(" ".join(parts))
    return out


def test_phrase_filter_never_rules_out_a_phrase_that_occurs():
    """``may_hold`` is a necessary condition: a phrase in the text is always left in."""
    from training.lexicons import _PHRASES, _PROMO

    for text in _texts_with_phrases():
        for filt in (_PHRASES, _PROMO):
            for phrase, maybe in zip(filt.phrases, filt.may_hold(text), strict=True):
                assert maybe or phrase not in text


def test_keyword_hits_and_promo_hits_as_plain_searches_count_them():
    import numpy as np

    from training.lexicons import PROMO_PHRASES, keyword_hits_lines, promo_hits

    for text in _texts_with_phrases():
        lowered = [ln for ln in text.lower().split("\n") if ln]
        assert np.array_equal(keyword_hits_lines(lowered), _plain_keyword_hits(lowered))
        assert promo_hits(text) == [p for p in PROMO_PHRASES for _ in range(text.lower().count(p))]


def _plain_keyword_hits(lowered):
    """keyword_hits_lines as a plain search, line by line."""
    import numpy as np

    from training.lexicons import _PHRASE_KEYWORDS, _TOKEN_RE, _WORD_KEYWORDS, CATEGORIES

    expected = np.zeros((len(lowered), len(CATEGORIES)))
    for i, low in enumerate(lowered):
        for tok in _TOKEN_RE.findall(low):
            for j in _WORD_KEYWORDS.get(tok, ()):
                expected[i, j] += 1
        for kw, j in _PHRASE_KEYWORDS:
            expected[i, j] += kw in low
    return expected


@pytest.mark.parametrize(
    "lowered",
    [
        [],
        [""],
        ["", "read more read more", "", "privacy policy"],  # a phrase twice in a line counts once
        ["share this on twitter and facebook", "all rights reserved", "all rights reserved. all rights reserved"],
        ["a line with\nits own newline: read more", "read\nmore is no phrase", "home\nmenu"],
        ["\n", "about us\n", "\nabout us", "x" * 700 + " read more " + "\n" + "subscribe"],  # over MIN_CHARS too
        ["ends with a phrase: read more", "read more starts this one", "free free free"],
    ],
)
def test_keyword_hits_lines_are_each_lines_own(lowered):
    """The document-wide search (one tokenisation, phrases found in the joined lines) counts what a plain
    search of each line counts: empty lines, lines with a newline of their own, a phrase at a line's
    start or end, a phrase twice in one line."""
    import numpy as np

    from training.lexicons import CATEGORIES, keyword_hits_lines

    got = keyword_hits_lines(lowered)
    assert got.shape == (len(lowered), len(CATEGORIES)) and got.dtype == np.float64
    assert np.array_equal(got, _plain_keyword_hits(lowered))


def test_contact_and_url_patterns_have_bounded_runs():
    """Runs are bounded as the standards bound them (an unbounded run is tried from every position of a
    long line to its end: "@" and 100,000 letters took 18 s), and real addresses still match."""
    from training.lexicons import EMAIL_RE, URL_RE

    assert EMAIL_RE.findall("Write to jane.doe+news@mail.example.co.uk today.") == ["jane.doe+news@mail.example.co.uk"]
    assert EMAIL_RE.findall("x" * 70 + "@example.com") == ["x" * 64 + "@example.com"]  # a local part is <= 64
    assert URL_RE.findall("See www.example.com/a?b=1 and news.bbc.co.uk or EXAMPLE.ORG.") == [
        "www.example.com/a?b=1", "news.bbc.co.uk", "EXAMPLE.ORG"
    ]
    assert URL_RE.findall("a" * 64 + ".com") == []  # a label is at most 63 characters
    assert URL_RE.findall(".".join(["a"] * 18) + ".com") == [".".join(["a"] * 17) + ".com"]  # 16 + 1 labels
