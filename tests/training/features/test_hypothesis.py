"""Property tests: no text makes a family raise, and every value is finite or NaN."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from resources import BINARY_ISH

from training.document import EmptyDocumentError, parse
from training.features import FAMILIES, FEATURE_NAMES, Context, extract_features

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text shaped like documents: words, punctuation, newlines and odd characters mixed.
_pieces = st.one_of(
    st.text(),
    st.sampled_from(
        [
            "\n",
            "\n\n",
            "\r\n",
            " ",
            "!!!",
            "...",
            "©",
            "|",
            "Okonkwo",
            "cookies",
            "http://x.org",
            "a@b.com",
            "\x00",
            "\u00a0",
            "\u2028",
            "Die",
            "und",
            "THE",
            "the",
            "-",
            "•",
        ]
    ),
    st.from_regex(r"[A-Z][a-z]{2,12}( [a-z]{1,10}){0,12}[.!?]?", fullmatch=True),
)
doc_text = st.one_of(st.text(), st.lists(_pieces, max_size=30).map("".join))


_INVISIBLE = frozenset("\u00ad\u2060\ufeff\u200b")  # removed by parse (a zero-width space made a space)


def _visible(text: str) -> bool:
    """A character survives parsing unless it is whitespace, a C0 control, DEL, or one of the invisible
    format characters parse takes out (soft hyphen, word joiner, byte-order mark, zero-width space)."""
    return any(not ch.isspace() and not (ord(ch) < 32 or ord(ch) == 127) and ch not in _INVISIBLE for ch in text)


def _parse_or_none(text: str):
    try:
        doc = parse(text)
    except EmptyDocumentError:
        assert not _visible(text), f"EmptyDocumentError on text with visible characters: {text!r}"
        return None
    assert _visible(text), f"parse accepted a text without visible characters: {text!r}"
    return doc


def _finite_or_nan(values: dict[str, float], names) -> None:
    assert set(values) == set(names)
    for k in names:
        v = values[k]
        assert isinstance(v, float | int), (k, v)
        assert math.isfinite(v) or math.isnan(v), (k, v)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.NAME)
@pytest.mark.parametrize("after_language", [False, True], ids=["default-context", "after-language"])
@SETTINGS
@given(text=doc_text)
@example(text="")
@example(text=BINARY_ISH)
@example(text="\x00\x01 \n")
@example(text="ééé\u0301 ǅ ǈ")
# The cut-off, site-title and markdown rules: a credit after the last stop, a prose first line with a
# domain, a long headline with a site, a reference link, a table rule, a long line of an uncased script.
@example(text="Officials said on Monday that the new homes would be ready in the spring of next year. PTI")
@example(text="The council said the plan for the town is on Example.com and the city will vote on it in May.")
@example(text="Council approves the new budget for the schools and the roads of the town on Tuesday | Gazette")
@example(text="The [plan][1] was approved.\n\n[1]: http://x.org\n─────┼─────\n─────┼─────")
@example(text="הוועדה תתכנס שוב בשבוע הבא כדי לדון בתקציב החדש של העיר ובתוכניות לבנייה. ראש העיר אמר")
def test_family_never_raises(family, after_language, text, resources):
    doc = _parse_or_none(text)
    if doc is None:
        return
    ctx = Context(resources=resources)
    if after_language:
        for fam in FAMILIES:  # the earlier families fill the context, as in extract_features
            if fam is family:
                break
            fam.extract(doc, context=ctx)
    out = family.extract(doc, context=ctx)
    _finite_or_nan(out.values, family.FEATURES)
    assert all(isinstance(v, list) for v in out.evidence.values())


@SETTINGS
@given(text=doc_text)
@example(text=BINARY_ISH)
def test_extract_features_never_raises(text, resources):
    doc = _parse_or_none(text)
    if doc is None:
        return
    ext = extract_features(doc, resources=resources)
    _finite_or_nan(ext.values, FEATURE_NAMES)
    vec = ext.vector()
    assert vec.shape == (len(FEATURE_NAMES),)
    assert not (vec == float("inf")).any() and not (vec == float("-inf")).any()
