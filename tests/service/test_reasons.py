from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.reasons import REASON_CODES, build_reasons, feature_group
from training.features import FEATURE_NAMES

README = Path(__file__).resolve().parents[2] / "README.md"


def _inputs(contributions, *, by_cat=None, english=True):
    values = dict.fromkeys(FEATURE_NAMES, 0.0)
    extra = {
        "language": {"code": "en" if english else "de", "probability": 0.99, "english_signals": english},
        "boilerplate_chars_by_category": by_cat or {},
        "n_chars": 1000,
        "n_words": 180,
    }
    contrib = dict.fromkeys(FEATURE_NAMES, 0.0)
    contrib.update(contributions)
    return contrib, values, {}, extra


def test_every_feature_has_a_reason():
    for name in FEATURE_NAMES:
        group = feature_group(name)
        assert group == "boilerplate" or group in REASON_CODES, (name, group)


def test_boilerplate_share_split_by_characters_keeps_the_sum():
    contrib = {
        "boilerplate_char_ratio": -1.5,
        "boilerplate_line_ratio": -0.5,
        "repetition_dup_line_frac": 0.25,
    }
    reasons = build_reasons(*_inputs(contrib, by_cat={"cookie": 300.0, "related": 100.0}))
    by_code = {r["code"]: r["contribution"] for r in reasons}
    assert by_code["boilerplate_cookie"] == pytest.approx(-1.5)
    assert by_code["boilerplate_related"] == pytest.approx(-0.5)
    assert "boilerplate_none" not in by_code
    assert sum(by_code.values()) == pytest.approx(sum(contrib.values()))
    assert [r["code"] for r in reasons][:3] == ["boilerplate_cookie", "boilerplate_related", "repetition"]


def test_no_boilerplate_goes_to_boilerplate_none():
    reasons = build_reasons(*_inputs({"boilerplate_char_ratio": 0.7}))
    by_code = {r["code"]: r["contribution"] for r in reasons}
    assert by_code["boilerplate_none"] == pytest.approx(0.7)
    assert not any(c.startswith("boilerplate_") and c != "boilerplate_none" for c in by_code)


def test_non_english_renames_the_language_reason():
    reasons = build_reasons(*_inputs({"language_english_prob": -2.0}, english=False))
    codes = [r["code"] for r in reasons]
    assert codes[0] == "language_not_english" and "language" not in codes
    assert "'de'" in reasons[0]["message"]


def test_sorted_by_magnitude_then_code_and_explain_flag():
    contrib = {"repetition_log_words": 0.3, "entity_oov_rate": -0.9, "repetition_promo_per_1k": -0.3}
    reasons = build_reasons(*_inputs(contrib), explain=False)
    assert [r["code"] for r in reasons][:3] == ["misspelled_entities", "length", "spam_signals"]
    assert all("evidence" not in r for r in reasons)
    assert all(r["code"] in REASON_CODES for r in reasons)


@pytest.mark.skipif(not README.is_file(), reason="README.md absent")
def test_readme_documents_every_reason_code():
    """service/reasons.py says the README documents the same table: the codes must match."""
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert documented == set(REASON_CODES), (
        f"missing from README: {sorted(set(REASON_CODES) - documented)}; "
        f"unknown to code: {sorted(documented - set(REASON_CODES))}"
    )


def test_misspelling_message_for_a_non_english_text_says_not_applicable():
    contrib, values, evidence, extra = _inputs({"entity_misspelled_per_1k": 0.1}, english=False)
    values["entity_oov_rate"] = float("nan")
    msg = next(r["message"] for r in build_reasons(contrib, values, evidence, extra) if r["code"] == "misspelled_entities")
    assert "nan" not in msg and "not applicable" in msg
    values["entity_oov_rate"] = 0.03
    msg = next(r["message"] for r in build_reasons(contrib, values, evidence, extra) if r["code"] == "misspelled_entities")
    assert msg == "No misspelled names or garbled words found (3% of words unknown)."


def test_no_reason_message_prints_nan_for_a_non_english_text():
    contrib, values, evidence, extra = _inputs({"readability_flesch_reading_ease": 0.1}, english=False)
    for name in values:
        if name.startswith(("readability_", "entity_")) or name in ("repetition_stopword_frac", "repetition_caps_word_frac"):
            values[name] = float("nan")
    messages = {r["code"]: r["message"] for r in build_reasons(contrib, values, evidence, extra)}
    assert not [m for m in messages.values() if "nan" in m.lower()]
    assert "not applicable" in messages["readability"]


def test_category_sentences_take_the_right_article():
    import re

    for code, meaning in REASON_CODES.items():
        assert not re.search(r"\ba [aeiou]", meaning), (code, meaning)
        assert not re.search(r"\ba \w+ or \w+ links\b", meaning), (code, meaning)
    assert REASON_CODES["boilerplate_author"] == "lines that are an author box"
    assert REASON_CODES["boilerplate_related"] == "lines that are related or recommended links"
