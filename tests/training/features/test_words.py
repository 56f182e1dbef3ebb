from __future__ import annotations

import math
import random

import pytest
from resources import CLEAN, GERMAN, JAPANESE, SPUN

from training.corrupt import _lines, gibberish, word_salad
from training.document import parse
from training.features import Context, language, words


def _run(text, resources, lang=None):
    doc = parse(text)
    ctx = Context(resources=resources)
    language.extract(doc, context=ctx)
    if lang is not None:  # as if detection had said so
        ctx.language, ctx.english = lang, lang == "en"
    return words.extract(doc, context=ctx)


def _made_up(text, share_seed=1):
    return "\n\n".join(gibberish(_lines(text), {}, random.Random(share_seed)).lines)


def _salad(text, seed=1):
    return "\n\n".join(word_salad(_lines(text), {}, random.Random(seed)).lines)


@pytest.mark.parametrize("text", [CLEAN, SPUN, GERMAN])
def test_written_text_has_few_unknown_words_and_no_article_clash(text, resources):
    out = _run(text, resources)
    assert out.extra["words"]["unknown_rate"] < 0.08, out.evidence["unknown_words"]
    clash = out.extra["words"]["article_clash_rate"]
    assert math.isnan(clash) if text is GERMAN else clash <= 0.02


def test_made_up_words_are_unknown_whatever_language_detection_says(resources):
    for seed in range(4):
        out = _run(_made_up(CLEAN, seed), resources)
        assert out.extra["words"]["unknown_rate"] > 0.25, seed
        assert out.evidence["unknown_words"]
    # the same text under a language wordfreq has a list for, and one it has none for
    assert _run(_made_up(CLEAN), resources, lang="nl").extra["words"]["unknown_rate"] > 0.25
    for no_list in ("sw", "ja", "unknown"):
        assert math.isnan(_run(_made_up(CLEAN), resources, lang=no_list).extra["words"]["unknown_rate"]), no_list


def test_capitalised_words_are_no_evidence(resources):
    """Names, acronyms and German nouns are not looked up: only words written in lower case count."""
    names = "Okonkwo Zxqvb Pellingham Qwrtz Brauhaus Tschernobyl " * 5
    out = _run(CLEAN + "\n\n" + names.strip() + ".", resources)
    assert out.extra["words"]["unknown_rate"] == _run(CLEAN, resources).extra["words"]["unknown_rate"]


def test_shuffled_words_clash_after_articles(resources):
    clean = _run(CLEAN, resources).extra["words"]["article_clash_rate"]
    rates = [_run(_salad(CLEAN, seed), resources).extra["words"]["article_clash_rate"] for seed in range(5)]
    assert all(r > 0.1 > clean for r in rates), (rates, clean)
    out = _run(_salad(CLEAN), resources)
    assert all(e["text"].split()[0] in words.ARTICLES for e in out.evidence["article_clashes"])


def test_article_clash_needs_english_and_enough_articles(resources):
    assert math.isnan(_run(JAPANESE, resources).extra["words"]["article_clash_rate"])
    assert math.isnan(_run("The cat sat on the mat and a dog of the house barked.", resources)
                      .extra["words"]["article_clash_rate"])  # 3 articles: too few to tell


def test_the_values_are_the_excess_over_what_clean_text_reaches(resources):
    clean, made_up = _run(GERMAN, resources), _run(_made_up(CLEAN), resources)
    assert clean.values["words_unknown_excess"] == 0.0 and clean.extra["words"]["unknown_rate"] >= 0.0
    rate = made_up.extra["words"]["unknown_rate"]
    assert made_up.values["words_unknown_excess"] == pytest.approx(rate - words.UNKNOWN_TOLERANCE)
    salad = _run(_salad(CLEAN), resources)
    clash = salad.extra["words"]["article_clash_rate"]
    assert salad.values["words_article_clash_excess"] == pytest.approx(clash - words.CLASH_TOLERANCE)
    assert _run(CLEAN, resources).values["words_article_clash_excess"] == 0.0
    assert math.isnan(_run(JAPANESE, resources).values["words_unknown_excess"])


def test_german_sharp_s_and_umlauts_are_looked_up_as_wordfreq_folds_them(resources):
    out = _run("Der Stadtrat beschließt einen großen Plan, und die Bürger begrüßten ihn am Abend sehr.\n\n"
               "Die Straße wird größer, weil die Stadt wächst und viele Familien hierher ziehen.", resources, lang="de")
    assert out.extra["words"]["unknown_rate"] == 0.0, out.evidence["unknown_words"]


def test_acronyms_and_names_after_an_article_are_no_clash(resources):
    text = ("The WHO said an IT team at the WHO would help. The agency and the IT staff met the OR nurses.\n\n"
            "A report from the WHO named an IS fighter; The Who played a concert, and the band thanked the city.")
    out = _run(text, resources)
    assert out.evidence["article_clashes"] == [] and out.values["words_article_clash_excess"] == 0.0



def test_preloading_loads_every_detectable_languages_list_once():
    """The server preloads the lists (``warm_up(word_lists=True)``): afterwards no language's first text loads
    one (50-300 ms each, which made the first requests in a language a latency outlier)."""
    loaded = words.preload_word_lists()
    codes = language.detectable_languages()
    assert 30 <= loaded < len(codes)  # 37 here: langdetect answers 55 languages, wordfreq has lists for 42
    before = words.known_words.cache_info()
    assert sum(words.known_words(code) is not None for code in codes) == loaded
    after = words.known_words.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + len(codes)
