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
