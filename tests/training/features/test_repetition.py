from __future__ import annotations

import math

import pytest
from resources import CLEAN, GERMAN, JAPANESE, SPAM, SPAM_LINE

from training.document import parse
from training.features import Context, language, repetition


def _run(text, resources):
    doc = parse(text)
    ctx = Context(resources=resources)
    language.extract(doc, context=ctx)
    return repetition.extract(doc, context=ctx), doc


def test_spam_duplicated_lines(resources):
    out, doc = _run(SPAM, resources)
    n = len(doc.lines)
    assert out.values["repetition_dup_line_frac"] == pytest.approx(2 / n)
    assert out.evidence["duplicate_lines"] == [{"text": SPAM_LINE}]
    total = sum(len(ln.text) for ln in doc.lines)
    assert out.values["repetition_dup_line_char_frac"] == pytest.approx(2 * len(SPAM_LINE) / total)


@pytest.mark.parametrize(
    ("key", "clean_is_lower"),
    [
        ("repetition_dup_line_frac", True),
        ("repetition_dup_5gram_frac", True),
        ("repetition_top_2gram_frac", True),
        ("repetition_caps_word_frac", True),
        ("repetition_exclamation_per_1k", True),
        ("repetition_promo_per_1k", True),
        ("repetition_stopword_frac", False),
    ],
)
def test_spam_versus_clean(key, clean_is_lower, resources):
    spam = _run(SPAM, resources)[0].values[key]
    clean = _run(CLEAN, resources)[0].values[key]
    assert (clean < spam) if clean_is_lower else (clean > spam), (clean, spam)


def test_clean_has_no_repeats(resources):
    out, _ = _run(CLEAN, resources)
    for key in (
        "repetition_dup_line_frac",
        "repetition_dup_para_frac",
        "repetition_dup_line_char_frac",
        "repetition_dup_8gram_frac",
        "repetition_promo_per_1k",
        "repetition_exclamation_per_1k",
    ):
        assert out.values[key] == 0.0, key
    assert out.evidence == {"duplicate_lines": [], "promotional_phrases": []}


def test_spam_promotional_phrases_are_evidence(resources):
    out, _ = _run(SPAM, resources)
    phrases = [p["text"] for p in out.evidence["promotional_phrases"]]
    assert phrases and len(phrases) == len(set(phrases))
    assert all(p == p.lower() and p in SPAM.lower() for p in phrases)


def test_duplicate_paragraphs(resources):
    para = "The council met on Monday to discuss the new budget for the coming year."
    text = f"{para}\n\nA different paragraph about something else entirely.\n\n{para}\n"
    out, _ = _run(text, resources)
    assert out.values["repetition_dup_para_frac"] == pytest.approx(1 / 3)
    assert out.values["repetition_dup_line_frac"] == pytest.approx(1 / 3)


def test_line_shape_fractions(resources):
    text = "- first bullet item\n• second bullet item\nA teaser that trails off...\nA normal line.\n"
    out, _ = _run(text, resources)
    assert out.values["repetition_bullet_line_frac"] == pytest.approx(2 / 4)
    assert out.values["repetition_ellipsis_line_frac"] == pytest.approx(1 / 4)


def test_german_stopwords_not_applicable(resources):
    out, _ = _run(GERMAN, resources)
    assert math.isnan(out.values["repetition_stopword_frac"])
    others = {k: v for k, v in out.values.items() if k != "repetition_stopword_frac"}
    assert all(math.isfinite(v) for v in others.values())


def test_log_words(resources):
    out, doc = _run(CLEAN, resources)
    assert out.values["repetition_log_words"] == pytest.approx(math.log1p(doc.n_words))


@pytest.mark.parametrize(
    ("words", "n", "top", "dup"),
    [
        (["a", "b", "a", "b"], 2, 1.0, 1.0),
        (["the", "cat", "sat", "the", "cat"], 2, 0.8, 0.8),
        (["one", "two", "three"], 2, 0.0, 0.0),
        (["x"], 2, 0.0, 0.0),
        (["aa", "b", "aa", "c", "aa"], 1, 0.75, 0.75),
    ],
)
def test_gopher_ngram_fractions(words, n, top, dup):
    assert repetition.top_ngram_char_frac(words, n) == pytest.approx(top)
    assert repetition.dup_ngram_char_frac(words, n) == pytest.approx(dup)


def test_a_text_tables_rule_lines_are_not_repeated_lines(resources):
    """A table drawn with identical rule lines repeats layout, not text; a repeated row is still a repeat."""
    rule = "─────┼──────────┼──────"
    rows = [f"{k} │ Driver {chr(65 + k)} │ {5000 - 7 * k}" for k in range(1, 9)]
    table = "\n".join(x for row in rows for x in (rule, row))
    text = f"Final standings\n\nThe season ended on Sunday after thirty-six races.\n\n{table}\n"
    out, _ = _run(text, resources)
    assert out.values["repetition_dup_line_frac"] == 0.0
    assert out.values["repetition_dup_line_char_frac"] == 0.0
    out, _ = _run(text + rows[0] + "\n", resources)
    assert out.values["repetition_dup_line_frac"] > 0.0
    assert out.evidence["duplicate_lines"] == [{"text": rows[0]}]


@pytest.mark.parametrize(
    "words",
    [[], ["a"], ["a", "b"], list("abcabcabc"), list("aaaaaaaaaaaa"), "the cat sat on the mat the cat sat".split(),
     [str(i % 7) for i in range(100)], [str(i) for i in range(50)]],
)
def test_shared_ngram_hashes_are_each_ns_own(words):
    """The n-gram hashes made one from another are those made for each n alone, and so are the values."""
    from training.features.repetition import (
        _ngram_hashes,
        _ngram_hashes_upto,
        _word_ids,
        dup_ngram_char_frac,
        top_ngram_char_frac,
    )

    ids = _word_ids(words)
    sizes = tuple(n for n in (2, 3, 4, 5, 8) if n <= len(words))
    shared = _ngram_hashes_upto(ids[0], sizes)
    assert sorted(shared) == sorted(sizes)
    for n in sizes:
        assert shared[n].tolist() == _ngram_hashes(ids[0], n).tolist()
    for n in (2, 3, 4, 5, 8):
        for fn in (top_ngram_char_frac, dup_ngram_char_frac):
            assert fn(words, n, _ids=ids, _hashes=shared.get(n)) == fn(words, n)


@pytest.mark.parametrize("words", [list("abab"), list("abcabcab"), "x y x y z z z z".split(), list("aabbaabb")])
def test_top_ngram_takes_the_first_of_equally_frequent_in_hash_order(words):
    """Ties between equally frequent n-grams go to the smallest hash, counted from its first occurrence."""
    import numpy as np

    from training.features.repetition import _ngram_hashes, _word_ids, top_ngram_char_frac

    ids, lens = _word_ids(words)
    for n in (2, 3):
        h = _ngram_hashes(ids, n)
        _, first, counts = np.unique(h, return_index=True, return_counts=True)
        k = int(counts.argmax())
        start = int(first[k])
        expected = 0.0 if counts[k] < 2 else min(1.0, int(lens[start : start + n].sum()) * int(counts[k]) / int(lens.sum()))
        assert top_ngram_char_frac(words, n) == expected


def test_japanese_ngrams_are_read_over_runs_between_marks_and_word_length_is_not_applicable(resources):
    """Its characters are words to the parser; "公立小学校" (a school, five characters) in the headline and
    the first sentence would otherwise be a repeated 5-gram, and every common ending one too."""
    out, doc = _run(JAPANESE, resources)
    assert doc.n_words >= 250
    assert out.values["repetition_log_words"] == pytest.approx(math.log1p(doc.n_words))
    assert out.values["repetition_dup_5gram_frac"] == 0.0
    assert out.values["repetition_dup_8gram_frac"] == 0.0
    assert math.isnan(out.values["repetition_mean_word_length"])


def test_an_english_article_naming_a_chinese_city_keeps_its_word_statistics(resources):
    named = CLEAN.replace("Pellingham", "Pellingham (北京)", 1)
    out, _ = _run(named, resources)
    plain, _ = _run(CLEAN, resources)
    assert math.isfinite(out.values["repetition_mean_word_length"])
    assert out.values["repetition_mean_word_length"] == pytest.approx(plain.values["repetition_mean_word_length"], abs=0.05)
    assert out.values["repetition_dup_5gram_frac"] == plain.values["repetition_dup_5gram_frac"]


def test_a_text_mostly_in_english_with_japanese_lines_takes_its_word_length_from_the_english_words(resources):
    english = "\n\n".join(CLEAN.split("\n\n")[1:3])
    mixed = JAPANESE + "\n\n" + english
    out, _ = _run(mixed, resources)
    alone, _ = _run(english, resources)
    assert math.isfinite(out.values["repetition_mean_word_length"])
    assert out.values["repetition_mean_word_length"] == pytest.approx(alone.values["repetition_mean_word_length"], abs=0.01)


def test_markdown_heading_marks_are_no_hashtags(resources):
    body = "The council approved the plan on Tuesday after a long debate about the budget and the schools."
    marked = f"# Council backs plan\n\n{body}\n\n## What happens next\n\n{body}\n\n### Reactions\n\n{body}"
    plain = f"Council backs plan\n\n{body}\n\nWhat happens next\n\n{body}\n\nReactions\n\n{body}"
    tagged = f"{plain}\n\nShare it: #council #budget #schools"

    def ratio(text: str) -> float:
        return _run(text, resources)[0].values["repetition_symbol_word_ratio"]

    assert ratio(marked) == ratio(plain) == 0.0
    assert ratio(tagged) > 0.0
