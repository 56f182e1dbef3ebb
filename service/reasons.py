"""Reasons: the classifier's exact per-feature contributions, grouped, worded and given their evidence.

Contributions are in log-odds of "reliable" (negative lowers the score). The reasons of a document
plus ``explanation.base`` add up to ``explanation.logit`` exactly, and ``score = 100·sigmoid(logit)``.
Boilerplate's share is split across the categories found in proportion to their characters: a
documented attribution that keeps the sum exact.

Reason codes are stable API (listed in the README); new codes may be added, existing ones never change.
"""

from __future__ import annotations

import math
from typing import Any

from training.lexicons import CATEGORIES, CATEGORY_LABELS

__all__ = ["REASON_CODES", "feature_group", "build_reasons"]

_PLURAL_LABELS = {"related", "meta"}  # "related or recommended links", "page metadata (...)": no "a"


def _category_phrase(cat: str) -> str:
    """A category's label with its article: "a cookie or consent banner", "an author box", "related ... links"."""
    label = CATEGORY_LABELS[cat]
    if cat in _PLURAL_LABELS:
        return label
    return ("an " if label[0] in "aeiou" else "a ") + label


# Reason code -> what it means (README documents the same table).
REASON_CODES: dict[str, str] = {
    **{f"boilerplate_{c}": f"lines that are {_category_phrase(c)}" for c in CATEGORIES},
    "boilerplate_none": "no boilerplate lines: the text is article content",
    "title_repeated": "the title is repeated in the text",
    "cut_off": "the article stops mid-sentence (a teaser or a paywall)",
    "site_name_in_title": "the title line carries a site name or domain",
    "contact_details": "e-mail addresses or phone numbers in the text",
    "links": "URLs in the text",
    "misspelled_entities": "words that are near misspellings of known names or words",
    "name_slot_swaps": "a common word where a known person's surname belongs",
    "readability": "readability of the article lines (textstat)",
    "language": "language detection confidence and lines in another language",
    "language_not_english": "English-only signals do not apply to this language",
    "repetition": "repeated lines, paragraphs and n-grams",
    "spam_signals": "promotional phrases, exclamation marks, words in capitals",
    "text_statistics": "stop words, word length, symbols, ellipses, bullets",
    "length": "the length of the text",
    # Crawl-level reasons: added by `thresher scan` after the whole crawl is read (service/scan/crawl.py).
    "story_spelling_inconsistent": "names spelled differently from the other copies of the same story (scan)",
    "crawl_repeated_lines": "lines that repeat across many documents of the site or crawl (scan)",
    "near_duplicate": "a near-verbatim copy of another document of the crawl; information only (scan)",
}

_BOILERPLATE_SHARED = {
    "boilerplate_line_ratio", "boilerplate_char_ratio", "boilerplate_tail_char_ratio", "boilerplate_soft_char_ratio", "boilerplate_head_lines",
    "boilerplate_body_lines", "boilerplate_tail_lines", "boilerplate_nonterminal_line_ratio",
    "boilerplate_categories",
}
_GROUPS = {
    "boilerplate_title_repeats": "title_repeated",
    "boilerplate_cut_off": "cut_off",
    "boilerplate_site_title": "site_name_in_title",
    "boilerplate_contacts": "contact_details",
    "boilerplate_urls_per_1k": "links",
    "entity_misspelled_per_1k": "misspelled_entities",
    "entity_misspelled_log_count": "misspelled_entities",
    "entity_oov_rate": "misspelled_entities",
    "entity_name_slot_per_1k": "name_slot_swaps",
    "repetition_dup_line_frac": "repetition",
    "repetition_dup_para_frac": "repetition",
    "repetition_dup_line_char_frac": "repetition",
    "repetition_top_2gram_frac": "repetition",
    "repetition_top_3gram_frac": "repetition",
    "repetition_top_4gram_frac": "repetition",
    "repetition_dup_5gram_frac": "repetition",
    "repetition_dup_8gram_frac": "repetition",
    "repetition_promo_per_1k": "spam_signals",
    "repetition_exclamation_per_1k": "spam_signals",
    "repetition_caps_word_frac": "spam_signals",
    "repetition_symbol_word_ratio": "text_statistics",
    "repetition_ellipsis_line_frac": "text_statistics",
    "repetition_bullet_line_frac": "text_statistics",
    "repetition_stopword_frac": "text_statistics",
    "repetition_mean_word_length": "text_statistics",
    "repetition_log_words": "length",
    "repetition_short_text": "length",
}


def feature_group(name: str) -> str:
    """The reason code a feature's contribution goes to (boilerplate shares are split later)."""
    if name in _BOILERPLATE_SHARED:
        return "boilerplate"
    if name in _GROUPS:
        return _GROUPS[name]
    return name.split("_", 1)[0]  # readability_*, language_*


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.0f}%"


def _message(code: str, values: dict[str, float], ev: dict[str, list[dict[str, Any]]], extra: dict[str, Any]) -> str:
    if code.startswith("boilerplate_") and code != "boilerplate_none":
        cat = code.removeprefix("boilerplate_")
        lines = [e for e in ev.get("boilerplate_lines", []) if e["category"] == cat]
        share = extra.get("boilerplate_chars_by_category", {}).get(cat, 0.0) / max(extra.get("n_chars", 1), 1)
        where = sorted({e["position"] for e in lines})
        return f"{len(lines)} line(s) look like {_category_phrase(cat)} ({_pct(share)} of the text, at the {'/'.join(where)})."
    if code == "boilerplate_none":
        return "No line looks like boilerplate: the text reads as article content throughout."
    if code == "title_repeated":
        n = len(ev.get("title_repeats", []))
        return f"The title line appears {n} more time(s) in the text." if n else "The title is not repeated."
    if code == "cut_off":
        return ("The article's last paragraph stops without a full stop, as teasers and paywalled copies do."
                if values["boilerplate_cut_off"] else "The article ends with a complete sentence.")
    if code == "site_name_in_title":
        return ("The title line carries a site name or domain, as page titles of scraped copies do."
                if values["boilerplate_site_title"] else "The title line carries no site name or domain.")
    if code == "contact_details":
        n = len(ev.get("contacts", []))
        return f"{n} e-mail address(es) or phone number(s) in the text." if n else "No e-mail addresses or phone numbers."
    if code == "links":
        return f"{values['boilerplate_urls_per_1k']:.1f} URLs per 1,000 words."
    if code == "misspelled_entities":
        found = ev.get("misspellings", [])
        if not found:
            oov = values["entity_oov_rate"]
            if oov != oov:  # NaN: the vocabulary checks are English-only
                return "Misspelled names and garbled words are checked in English text only: not applicable here."
            return f"No misspelled names or garbled words found ({_pct(oov)} of words unknown)."
        shown = ", ".join(f"{f['found']} → {f['intended']}" for f in found[:8])
        return f"{len(found)} word(s) look like misspellings of known names or words: {shown}."
    if code == "name_slot_swaps":
        slots = ev.get("name_slots", [])
        if not slots:
            return "No common word stands where a known surname belongs."
        return "A common word stands where a known surname belongs: " + ", ".join(
            f"{s['found']} → {s['intended']}" for s in slots[:5]) + "."
    if code == "readability":
        if values["readability_flesch_reading_ease"] != values["readability_flesch_reading_ease"]:  # NaN
            return "Readability formulas are computed for English text only: not applicable here."
        return (f"Flesch reading ease {values['readability_flesch_reading_ease']:.0f}, "
                f"{values['readability_words_per_sentence']:.0f} words per sentence.")
    if code in ("language", "language_not_english"):
        lang = extra.get("language", {})
        if code == "language_not_english":
            return (f"The text is in '{lang.get('code')}' (p={lang.get('probability')}): misspelling, readability and "
                    "stop-word signals are English-only and were not applied.")
        return f"Language '{lang.get('code')}' with probability {lang.get('probability')}."
    if code == "repetition":
        n = len(ev.get("duplicate_lines", []))
        return (f"{n} line(s) repeat earlier ones; {_pct(values['repetition_dup_5gram_frac'])} of the words sit in "
                "repeated 5-word sequences.")
    if code == "spam_signals":
        promo = [p["text"] for p in ev.get("promotional_phrases", [])]
        return (f"{values['repetition_exclamation_per_1k']:.1f} exclamation marks per 1,000 words, "
                f"{_pct(values['repetition_caps_word_frac'])} words in capitals"
                + (f", promotional phrases: {', '.join(promo[:5])}." if promo else "."))
    if code == "text_statistics":
        sw = values.get("repetition_stopword_frac", math.nan)
        sw_txt = f"{_pct(sw)} stop words, " if not math.isnan(sw) else ""
        return f"{sw_txt}mean word length {values['repetition_mean_word_length']:.1f}."
    if code == "length":
        n = extra.get("n_words", 0)
        if values.get("repetition_short_text", 0.0) > 0:
            return f"{n} words: a fragment (a headline, a teaser, an error page) rather than an article."
        return f"{n} words."
    return REASON_CODES.get(code, code)


def _evidence(code: str, ev: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    if code.startswith("boilerplate_"):
        cat = code.removeprefix("boilerplate_")
        return [e for e in ev.get("boilerplate_lines", []) if e["category"] == cat]
    return {
        "title_repeated": ev.get("title_repeats", []),
        "site_name_in_title": ev.get("site_title", []),
        "cut_off": ev.get("cut_off", []),
        "contact_details": ev.get("contacts", []),
        "links": ev.get("urls", [])[:20],
        "misspelled_entities": ev.get("misspellings", []),
        "name_slot_swaps": ev.get("name_slots", []),
        "repetition": ev.get("duplicate_lines", []),
        "spam_signals": ev.get("promotional_phrases", []),
        "language": ev.get("language", []),
        "language_not_english": ev.get("language", []),
    }.get(code, [])


def build_reasons(
    contributions: dict[str, float],
    values: dict[str, float],
    evidence: dict[str, list[dict[str, Any]]],
    extra: dict[str, Any],
    *,
    explain: bool = True,
) -> list[dict[str, Any]]:
    """Group per-feature contributions into reasons, largest effect first."""
    groups: dict[str, float] = {}
    for name, c in contributions.items():
        g = feature_group(name)
        groups[g] = groups.get(g, 0.0) + c
    english = extra.get("language", {}).get("english_signals", True)
    if not english and "language" in groups:
        groups["language_not_english"] = groups.pop("language")
    bp_total = groups.pop("boilerplate", 0.0)
    by_cat = extra.get("boilerplate_chars_by_category", {})
    total = sum(by_cat.values())
    if total > 0:
        for cat, chars in by_cat.items():
            groups[f"boilerplate_{cat}"] = bp_total * chars / total
    else:
        groups["boilerplate_none"] = bp_total
    reasons = []
    for code, c in groups.items():
        item: dict[str, Any] = {
            "code": code,
            "message": _message(code, values, evidence, extra),
            "contribution": round(c, 4),
        }
        if explain:
            item["evidence"] = _evidence(code, evidence)
        reasons.append(item)
    reasons.sort(key=lambda r: (-abs(r["contribution"]), r["code"]))
    return reasons
