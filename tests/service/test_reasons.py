from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from service.reasons import FAULT_CODES, REASON_CODES, build_reasons, feature_group
from training.features import FEATURE_NAMES
from training.lexicons import CATEGORIES

README = Path(__file__).resolve().parents[2] / "README.md"


def _inputs(contributions, *, by_cat=None, english=True, lines=()):
    """build_reasons' arguments: ``lines`` are boilerplate lines as (category, position, characters)."""
    values = dict.fromkeys(FEATURE_NAMES, 0.0)
    extra = {
        "language": {"code": "en" if english else "de", "probability": 0.99, "english_signals": english},
        "boilerplate_chars_by_category": by_cat or {},
        "n_chars": 1000,
        "n_words": 180,
    }
    if lines and not by_cat:
        for cat, _, chars in lines:
            extra["boilerplate_chars_by_category"][cat] = extra["boilerplate_chars_by_category"].get(cat, 0.0) + chars
    evidence = {"boilerplate_lines": [
        {"line": i + 1, "category": cat, "position": pos, "text": "x" * chars, "confidence": 0.9}
        for i, (cat, pos, chars) in enumerate(lines)
    ]} if lines else {}
    contrib = dict.fromkeys(FEATURE_NAMES, 0.0)
    contrib.update(contributions)
    return contrib, values, evidence, extra


def _all(*args, **kwargs):
    """Every reason, with effect or without, by code."""
    reasons, no_effect = build_reasons(*args, **kwargs)
    return {r["code"]: r for r in reasons + no_effect}


BOILERPLATE_SHARED = [n for n in FEATURE_NAMES if feature_group(n) == "boilerplate"]
FAULT_CATEGORIES = {c for c in REASON_CODES if c.startswith("boilerplate_") and c != "boilerplate_none"}


def test_every_feature_has_a_reason():
    for name in FEATURE_NAMES:
        group = feature_group(name)
        assert group == "boilerplate" or group in REASON_CODES, (name, group)


def test_what_lowers_the_score_goes_to_the_categories_by_their_characters():
    """Without positions (no evidence), each value that lowers the score is split by the categories'
    characters; what raises it is less_boilerplate, never a category."""
    contrib = {
        "boilerplate_char_ratio": -1.5,
        "boilerplate_line_ratio": -0.5,
        "boilerplate_tail_char_ratio": 0.3,
        "repetition_dup_line_frac": 0.25,
    }
    reasons, no_effect = build_reasons(*_inputs(contrib, by_cat={"cookie": 300.0, "related": 100.0}))
    by_code = {r["code"]: r["contribution"] for r in reasons}
    assert by_code["boilerplate_cookie"] == pytest.approx(-1.5)
    assert by_code["boilerplate_related"] == pytest.approx(-0.5)
    assert by_code["less_boilerplate"] == pytest.approx(0.3)
    assert "boilerplate_none" not in by_code
    assert sum(by_code.values()) == pytest.approx(sum(contrib.values()), abs=1e-9)
    assert [r["code"] for r in reasons][:4] == ["boilerplate_cookie", "boilerplate_related", "less_boilerplate",
                                                "repetition"]


def test_a_category_is_charged_only_with_the_values_that_count_its_lines():
    """Lines before the article go to the category found there, not to the one after it; a share of
    characters after the article to the categories there, by their characters."""
    lines = [("title_site", "head", 20), ("comments", "tail", 60), ("cookie", "tail", 180)]
    contrib = {"boilerplate_head_lines": -3.0, "boilerplate_tail_char_ratio": -0.8, "boilerplate_body_lines": 0.1}
    got = _all(*_inputs(contrib, lines=lines))
    assert got["boilerplate_title_site"]["contribution"] == pytest.approx(-3.0)
    assert got["boilerplate_comments"]["contribution"] == pytest.approx(-0.2)
    assert got["boilerplate_cookie"]["contribution"] == pytest.approx(-0.6)
    assert got["less_boilerplate"]["contribution"] == pytest.approx(0.1)
    assert "fewer lines inside the article" in got["less_boilerplate"]["message"]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_what_the_shared_boilerplate_values_measure_is_said_whole(sign):
    """The phrase for the lines before the article is longer than a quoted item may be, and was cut as one:
    "fewer lines before the article (beyond two of timestamp, cr…, and 2 more." (seed 002's less_boilerplate)."""
    contrib = {"boilerplate_head_lines": 0.3 * sign, "boilerplate_body_lines": 0.2 * sign,
               "boilerplate_nonterminal_line_ratio": 0.4 * sign}
    # what raises the score beside boilerplate lines, and what lowers it in a text without any
    got = _all(*_inputs(contrib, lines=[("cookie", "tail", 100)] if sign > 0 else ()))
    message = got["less_boilerplate" if sign > 0 else "boilerplate_none"]["message"]
    assert "…" not in message
    what = "fewer" if sign > 0 else "more"
    assert f"{what} lines before the article (beyond two of timestamp, credit or byline)" in message
    assert f"{what} lines inside the article" in message and f"{what} lines that do not end as sentences" in message


def test_head_lines_are_charged_to_the_widgets_before_the_article_not_to_a_timestamp_there():
    """The head-line count leaves out what stands above a story (boilerplate.HEADER_CATEGORIES): its
    contribution goes to the share bar before the article, not to the timestamp beside it."""
    lines = [("meta", "head", 30), ("share", "head", 15), ("caption", "head", 40)]
    got = _all(*_inputs({"boilerplate_head_lines": -2.0}, lines=lines))
    assert got["boilerplate_share"]["contribution"] == pytest.approx(-2.0)
    assert got["boilerplate_meta"]["contribution"] == 0.0
    assert got["boilerplate_caption"]["contribution"] == 0.0


def test_header_lines_beyond_the_free_ones_are_charged_for_their_part():
    """Four meta lines and a share line before the article: two meta lines are free, so the head-line
    count's cost goes 2 parts to meta, 1 to share."""
    lines = [("meta", "head", 10)] * 4 + [("share", "head", 15)]
    got = _all(*_inputs({"boilerplate_head_lines": -3.0}, lines=lines))
    assert got["boilerplate_meta"]["contribution"] == pytest.approx(-2.0)
    assert got["boilerplate_share"]["contribution"] == pytest.approx(-1.0)


def test_a_sections_name_above_the_headline_is_not_charged_for_head_lines():
    """A section's name (first line, labeled meta, marked ``section``), two timestamp lines and a share
    line before the article: the timestamps are the two free lines and the section's name is no head line,
    so the head-line count's cost goes to the share line alone."""
    contrib, values, evidence, extra = _inputs(
        {"boilerplate_head_lines": -3.0}, lines=[("meta", "head", 10)] * 3 + [("share", "head", 15)]
    )
    evidence["boilerplate_lines"][0]["section"] = True
    got = _all(contrib, values, evidence, extra)
    assert got["boilerplate_share"]["contribution"] == pytest.approx(-3.0)
    assert got["boilerplate_meta"]["contribution"] == 0.0
    # without the mark, one of the three meta lines is beyond the free two and takes its part
    del evidence["boilerplate_lines"][0]["section"]
    got = _all(contrib, values, evidence, extra)
    assert got["boilerplate_meta"]["contribution"] == pytest.approx(-1.5)


def test_a_head_line_count_without_counted_lines_is_not_charged_to_a_timestamp():
    """No line before the article counts (a model whose reference would make 0 cost something): the cost
    goes to the other categories found, not to the timestamp the count leaves free."""
    lines = [("meta", "head", 30), ("comments", "tail", 40)]
    got = _all(*_inputs({"boilerplate_head_lines": -1.0}, lines=lines))
    assert got["boilerplate_comments"]["contribution"] == pytest.approx(-1.0)
    assert got["boilerplate_meta"]["contribution"] == 0.0


def test_seed_004s_case_a_comment_form_after_the_article_does_not_raise_the_score():
    """Every shared value is below a typical reliable article's: the comment form's reason has no effect,
    and what raises the score is less_boilerplate (it was +0.47 under boilerplate_comments)."""
    contrib = {"boilerplate_tail_char_ratio": 0.105, "boilerplate_soft_char_ratio": 0.049,
               "boilerplate_nonterminal_line_ratio": 0.112, "boilerplate_body_lines": 0.091}
    reasons, no_effect = build_reasons(*_inputs(contrib, lines=[("comments", "tail", 11), ("comments", "tail", 11)]))
    assert [r["code"] for r in reasons] == ["less_boilerplate"]
    assert reasons[0]["contribution"] == pytest.approx(0.357)
    comments = next(r for r in no_effect if r["code"] == "boilerplate_comments")
    assert comments["contribution"] == 0.0
    assert comments["message"] == "2 line(s) look like a comment form (2% of the text, after the article)."
    assert [e["line"] for e in comments["evidence"]] == [1, 2]


def test_a_value_without_boilerplate_lines_where_it_counts_goes_to_all_categories():
    """Lines that do not end as sentences before the article's end are content lines here (the only
    boilerplate is after it): the categories found share it by their characters."""
    lines = [("related", "tail", 300), ("share", "tail", 100)]
    got = _all(*_inputs({"boilerplate_nonterminal_line_ratio": -0.4}, lines=lines))
    assert got["boilerplate_related"]["contribution"] == pytest.approx(-0.3)
    assert got["boilerplate_share"]["contribution"] == pytest.approx(-0.1)
    assert "less_boilerplate" not in got


@pytest.mark.parametrize("seed", range(40))
def test_no_category_ever_raises_the_score_and_the_sum_is_kept(seed):
    """Random signs, sizes and positions: every category's reason is <= 0, and the reasons plus the
    base add up, to 4 decimals exactly, to the logit the scorer shows."""
    import random

    rng = random.Random(seed)
    contrib = {name: rng.uniform(-1.0, 1.0) * rng.choice([1e-5, 1e-3, 1.0]) for name in FEATURE_NAMES}
    cats = rng.sample(sorted(CATEGORIES), rng.randint(0, 4))
    lines = [(c, rng.choice(["head", "body", "tail"]), rng.randint(1, 400)) for c in cats for _ in range(rng.randint(1, 3))]
    base = rng.uniform(-3.0, 3.0)
    reasons, no_effect = build_reasons(*_inputs(contrib, lines=lines), base=base)
    for r in reasons + no_effect:
        if r["code"] in FAULT_CATEGORIES:
            assert r["contribution"] <= 0, r
    assert all(r["contribution"] != 0 for r in reasons)
    assert all(r["contribution"] == 0 for r in no_effect)
    logit = base + sum(contrib.values())
    assert round(base, 4) + sum(r["contribution"] for r in reasons) == pytest.approx(round(logit, 4), abs=1e-9)
    assert all(abs(r["contribution"] - _unrounded(r["code"], contrib)) < 1e-4 for r in reasons + no_effect
               if r["code"] not in FAULT_CATEGORIES and r["code"] not in ("less_boilerplate", "boilerplate_none"))
    codes = [r["code"] for r in reasons + no_effect]
    assert len(codes) == len(set(codes))
    assert ("boilerplate_none" in codes) == (not cats)


def _unrounded(code, contrib):
    return sum(c for name, c in contrib.items() if feature_group(name) == code
               or (code == "language_not_english" and feature_group(name) == "language"))


def test_no_boilerplate_goes_to_boilerplate_none():
    reasons, _ = build_reasons(*_inputs({"boilerplate_char_ratio": 0.7}))
    by_code = {r["code"]: r for r in reasons}
    assert by_code["boilerplate_none"]["contribution"] == pytest.approx(0.7)
    assert by_code["boilerplate_none"]["message"] == "No line looks like boilerplate: the text reads as article content throughout."
    assert not (set(by_code) & (FAULT_CATEGORIES | {"less_boilerplate"}))


def test_boilerplate_none_that_lowers_the_score_says_why():
    contrib = {"boilerplate_nonterminal_line_ratio": -0.3, "boilerplate_soft_char_ratio": -0.1,
               "boilerplate_body_lines": 0.05}
    reasons, _ = build_reasons(*_inputs(contrib))
    (none,) = [r for r in reasons if r["code"] == "boilerplate_none"]
    assert none["contribution"] == pytest.approx(-0.35)
    assert none["message"] == ("No line looks like boilerplate, but compared with a typical reliable article the "
                               "text has more lines that do not end as sentences and more text that reads partly "
                               "like boilerplate.")


def test_contributions_are_rounded_so_that_they_keep_the_sum():
    """Seven reasons of 0.00004 each: rounded to the nearest they would show 0 and lose 0.0003 of the
    logit; rounded by largest remainders three of them show 0.0001, and the rest have no effect."""
    names = ["entity_oov_rate", "readability_flesch_reading_ease", "repetition_dup_line_frac", "repetition_caps_word_frac",
             "repetition_stopword_frac", "repetition_log_words", "language_english_prob"]
    contrib = dict.fromkeys(names, 0.00004)
    reasons, no_effect = build_reasons(*_inputs(contrib), base=1.0)
    assert round(1.0 + sum(contrib.values()), 4) == 1.0003
    assert sorted(r["contribution"] for r in reasons) == [0.0001] * 3
    assert len(no_effect) >= 4


def test_zero_contributions_are_kept_out_of_the_reasons_with_their_evidence():
    """contact_details has no weight in the shipped model: its e-mail address is in no_effect, not a reason."""
    contrib, values, evidence, extra = _inputs({"entity_oov_rate": -0.5})
    evidence["contacts"] = [{"line": 4, "text": "desk@example.com", "kind": "email"}]
    reasons, no_effect = build_reasons(contrib, values, evidence, extra)
    assert [r["code"] for r in reasons] == ["misspelled_entities"]
    contact = next(r for r in no_effect if r["code"] == "contact_details")
    assert contact == {"code": "contact_details", "message": "1 e-mail address(es) or phone number(s) in the text.",
                       "contribution": 0.0, "evidence": evidence["contacts"]}
    assert [r["code"] for r in no_effect] == sorted(r["code"] for r in no_effect)
    _, lean = build_reasons(contrib, values, evidence, extra, explain=False)
    assert all("evidence" not in r for r in lean)
def test_non_english_renames_the_language_reason():
    reasons, _ = build_reasons(*_inputs({"language_english_prob": -2.0}, english=False))
    codes = [r["code"] for r in reasons]
    assert codes[0] == "language_not_english" and "language" not in codes
    assert "'de'" in reasons[0]["message"]


def test_sorted_by_magnitude_then_code_and_explain_flag():
    contrib = {"repetition_log_words": 0.3, "entity_oov_rate": -0.9, "repetition_promo_per_1k": -0.3}
    reasons, _ = build_reasons(*_inputs(contrib), explain=False)
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
    msg = _all(contrib, values, evidence, extra)["misspelled_entities"]["message"]
    assert "nan" not in msg and "not applicable" in msg and "typical" not in msg
    values["entity_oov_rate"] = 0.03
    msg = _all(contrib, values, evidence, extra)["misspelled_entities"]["message"]
    assert msg.startswith("No misspelled names or garbled words found (3% of words unknown).")


def test_no_reason_message_prints_nan_for_a_non_english_text():
    contrib, values, evidence, extra = _inputs({"readability_flesch_reading_ease": 0.1}, english=False)
    for name in values:
        if name.startswith(("readability_", "entity_")) or name in ("repetition_stopword_frac", "repetition_caps_word_frac"):
            values[name] = float("nan")
    messages = {code: r["message"] for code, r in _all(contrib, values, evidence, extra).items()}
    assert not [m for m in messages.values() if "nan" in m.lower()]
    assert "not applicable" in messages["readability"]


def test_category_sentences_take_the_right_article():
    import re

    for code, meaning in REASON_CODES.items():
        assert not re.search(r"\ba [aeiou]", meaning), (code, meaning)
        assert not re.search(r"\ba \w+ or \w+ links\b", meaning), (code, meaning)
    assert REASON_CODES["boilerplate_author"] == "lines that are an author box"
    assert REASON_CODES["boilerplate_related"] == "lines that are related or recommended links"


def test_misspelling_message_says_how_many_it_leaves_out_and_the_evidence_keeps_them_all():
    contrib, values, evidence, extra = _inputs({"entity_misspelled_per_1k": -2.0})
    evidence["misspellings"] = [{"found": f"Nme{i}", "intended": f"Name{i}", "line": i + 1} for i in range(10)]
    got = _all(contrib, values, evidence, extra)["misspelled_entities"]
    assert got["message"] == ("10 word(s) look like misspellings of known names or words: "
                              + ", ".join(f"Nme{i} → Name{i}" for i in range(8)) + ", and 2 more. "
                              "A clean text of 180 words has about 0.1 such misspelling(s) by chance; this one has 10.")
    assert len(got["evidence"]) == 10
    evidence["misspellings"] = evidence["misspellings"][:8]
    assert "more" not in _all(contrib, values, evidence, extra)["misspelled_entities"]["message"]


@pytest.mark.parametrize(
    ("n_words", "respelled", "contribution", "ending"),
    [
        (1070, 3, -3.0, "A clean text of 1070 words has about 0.5 such misspelling(s) by chance; this one has 9. "
                        "3 of these words the text spells right elsewhere."),
        (4000, 0, -0.5, "A clean text of 4000 words has about 2.0 such misspelling(s) by chance; this one has 9."),
        (20, 1, -3.0, "A clean text of 20 words has fewer than 0.1 such misspelling(s) by chance; this one has 9. "
                      "1 of these words the text spells right elsewhere."),
        (9000, 1, 0.4, "A clean text of 9000 words has about 4.5 such misspelling(s) by chance; this one has 9. "
                       "That is less than a typical reliable article has, so it raises the score. "
                       "1 of these words the text spells right elsewhere."),
    ],
)
def test_misspelling_message_says_what_a_clean_text_that_long_has(n_words, respelled, contribution, ending):
    """The count alone does not say much: a long clean article has a few rare names near common words.
    Nine occurrences of one word count nine times, as in the values."""
    contrib, values, evidence, extra = _inputs({"entity_misspelled_evidence": contribution})
    extra["n_words"] = n_words
    values["entity_respelled_log_count"] = math.log1p(respelled)
    evidence["misspellings"] = [{"found": "Jemenskyy", "intended": "Zelenskyy", "line": 3, "count": 9}]
    message = _all(contrib, values, evidence, extra)["misspelled_entities"]["message"]
    assert message.endswith(ending)
    assert message.count("raises the score") == (contribution >= 0.05)


def test_name_slot_and_promotional_lists_say_how_many_they_leave_out():
    contrib, values, evidence, extra = _inputs({"entity_name_slot_per_1k": -1.0, "repetition_promo_per_1k": -1.0})
    evidence["name_slots"] = [{"found": f"Ann W{i}", "intended": f"Ann X{i}", "line": 2} for i in range(7)]
    evidence["promotional_phrases"] = [{"text": f"buy now {i}"} for i in range(6)]
    got = _all(contrib, values, evidence, extra)
    assert got["name_slot_swaps"]["message"].endswith("Ann W4 → Ann X4, and 2 more.")
    assert got["spam_signals"]["message"].endswith("buy now 4, and 1 more.")


@pytest.mark.parametrize(("positions", "where"), [
    (["head"], "before the article"),
    (["body"], "inside the article"),
    (["tail", "tail"], "after the article"),
    (["head", "tail"], "before and after the article"),
    (["tail", "body", "head"], "before, inside and after the article"),
])
def test_category_message_says_where_the_lines_are_in_plain_words(positions, where):
    lines = [("cookie", pos, 100) for pos in positions]
    got = _all(*_inputs({"boilerplate_char_ratio": -0.5}, lines=lines))["boilerplate_cookie"]
    pct = f"{10 * len(positions)}%"
    assert got["message"] == f"{len(positions)} line(s) look like a cookie or consent banner ({pct} of the text, {where})."


def test_a_tiny_share_reads_under_one_percent_not_zero():
    got = _all(*_inputs({"boilerplate_tail_char_ratio": -0.1}, lines=[("related", "tail", 3)]))["boilerplate_related"]
    assert "(under 1% of the text, after the article)" in got["message"]


def test_site_name_in_title_quotes_the_line():
    """The sentence names what was detected and shows the line."""
    contrib, values, evidence, extra = _inputs({"boilerplate_site_title": -1.9})
    values["boilerplate_site_title"] = 1.0
    evidence["site_title"] = [{"line": 1, "text": "News | The Daily Harbor"}]
    msg = _all(contrib, values, evidence, extra)["site_name_in_title"]["message"]
    assert msg.startswith("The first line (“News | The Daily Harbor”) reads as a site's name")
    long_title = "A long headline about the council's budget vote and what it means " * 2 + "| Section | example.com"
    evidence["site_title"] = [{"line": 1, "text": long_title}]
    msg = _all(contrib, values, evidence, extra)["site_name_in_title"]["message"]
    assert "… " in msg and "| Section | example.com”" in msg  # the end, where a site's name is, is kept


def test_a_fault_that_raises_the_score_says_it_is_less_than_usual():
    """A fault's reason can raise the score when the text has less of it than a typical reliable
    article: its sentence says so rather than reading as the fault making the text more reliable."""
    assert {"repetition", "misspelled_entities", "links", "title_repeated", "boilerplate_cookie"} <= FAULT_CODES
    assert not {"readability", "length", "text_statistics", "boilerplate_none", "less_boilerplate"} & FAULT_CODES
    contrib, values, evidence, extra = _inputs({"repetition_dup_line_frac": 0.2, "entity_oov_rate": -0.3})
    evidence["duplicate_lines"] = [{"text": "Share this"}, {"text": "Read more"}]
    got = _all(contrib, values, evidence, extra)
    suffix = " That is less than a typical reliable article has, so it raises the score."
    assert got["repetition"]["message"].endswith(suffix)
    assert not got["misspelled_entities"]["message"].endswith(suffix)
    assert not got["less_boilerplate" if "less_boilerplate" in got else "boilerplate_none"]["message"].endswith(suffix)


@pytest.mark.parametrize(("contribution", "says"), [(0.003, False), (0.049, False), (0.05, True), (0.4, True)])
def test_a_fault_says_it_raises_the_score_only_when_the_page_shows_it_does(contribution, says):
    """The page shows a contribution to one decimal: +0.003 is "0.0", neutral, and a sentence beside it
    saying "so it raises the score" would contradict it. From 0.05 on it is shown as +0.1."""
    contrib, values, evidence, extra = _inputs({"repetition_dup_line_frac": contribution})
    evidence["duplicate_lines"] = [{"text": "Share this"}]
    message = _all(contrib, values, evidence, extra)["repetition"]["message"]
    assert ("raises the score" in message) is says
