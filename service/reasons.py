"""Reasons: the classifier's exact per-feature contributions, grouped, worded and given their evidence.

Contributions are in log-odds of "reliable" (negative lowers the score). The reasons of a document
plus ``explanation.base`` add up to ``explanation.logit`` exactly: each contribution is rounded to 4
decimals up or down so that the rounded ones keep the sum (largest remainders), and ``score =
100·sigmoid(logit)``. A reason whose contribution is 0 changes nothing: it is not listed in ``reasons``
but in ``explanation.no_effect``, message and evidence kept.

Boilerplate is measured by values shared by all categories (lines before, inside and after the article,
their shares of lines and characters ...). A value that lowers the score goes to the categories of the
lines it counts, in proportion to their characters or lines there; a value that raises it (the text has
less of it than a typical reliable article) goes to ``less_boilerplate``; without any boilerplate line,
all of it is ``boilerplate_none``. So a category's reason never raises the score.

Reason codes are stable API (listed in the README); new codes may be added, existing ones never change.
"""

from __future__ import annotations

import math
from typing import Any

from training.features import FEATURE_DIRECTIONS, FEATURE_NAMES
from training.features.boilerplate import HEADER_CATEGORIES, HEADER_LINES_FREE
from training.features.entities import CLEAN_RATE_PER_1K
from training.lexicons import CATEGORIES, CATEGORY_LABELS

__all__ = ["REASON_CODES", "FAULT_CODES", "feature_group", "build_reasons"]

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
    "less_boilerplate": "beside the boilerplate lines found, less boilerplate than a typical reliable article",
    "title_repeated": "the title is repeated in the text",
    "cut_off": "the article stops mid-sentence (a teaser or a paywall)",
    "site_name_in_title": "the first line is a site's name, or a title carrying one or a domain",
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
    "unknown_words": "lower-case words that are no words of the text's language (random strings, lorem ipsum)",
    "word_order": "words in no grammatical order: articles followed by function words (shuffled text)",
    # Crawl-level reasons: added by `thresher scan` after the whole crawl is read (service/scan/crawl.py).
    "story_spelling_inconsistent": "names spelled differently from the other copies of the same story (scan)",
    "crawl_repeated_lines": "lines that repeat across many documents of the site or crawl (scan)",
    "near_duplicate": "a near-verbatim copy of another document of the crawl; information only (scan)",
}

# Boilerplate's values shared by all categories -> the lines each one counts (their positions: before,
# inside, after the article) and how a category's part of it is measured (its characters or its lines
# there; "categories" counts each category once). Positions as training/features/boilerplate.py sets them.
_BOILERPLATE_SHARED: dict[str, tuple[tuple[str, ...], str]] = {
    "boilerplate_line_ratio": (("head", "body"), "lines"),
    "boilerplate_char_ratio": (("head", "body"), "chars"),
    "boilerplate_tail_char_ratio": (("tail",), "chars"),
    "boilerplate_soft_char_ratio": (("head", "body", "tail"), "chars"),
    "boilerplate_head_lines": (("head",), "lines"),
    "boilerplate_body_lines": (("body",), "lines"),
    "boilerplate_tail_lines": (("tail",), "lines"),
    # lines that do not end as a sentence, up to the article's last paragraph: boilerplate lines there,
    # and content lines too (a headline, subheads); without boilerplate there, all categories found
    "boilerplate_nonterminal_line_ratio": (("head", "body"), "lines"),
    "boilerplate_categories": (("head", "body", "tail"), "categories"),
}
# Lines a shared value leaves out: the head-line count skips the first HEADER_LINES_FREE lines of what
# stands above a story (a timestamp, a photo credit, a byline), which the shares still count. Such
# lines beyond those are charged to their categories, in proportion to their lines there.
_BOILERPLATE_FREE: dict[str, tuple[frozenset[str], int]] = {
    "boilerplate_head_lines": (HEADER_CATEGORIES, HEADER_LINES_FREE),
}
# What each shared value measures, for the sentences of boilerplate_none and less_boilerplate:
# (what "more" of it is, what "less" of it is).
_BOILERPLATE_MEASURES: dict[str, tuple[str, str]] = {
    "boilerplate_line_ratio": ("a larger share of lines before or inside the article",
                               "a smaller share of lines before or inside the article"),
    "boilerplate_char_ratio": ("a larger share of characters before or inside the article",
                               "a smaller share of characters before or inside the article"),
    "boilerplate_tail_char_ratio": ("a larger share of characters after the article",
                                    "a smaller share of characters after the article"),
    "boilerplate_soft_char_ratio": ("more text that reads partly like boilerplate",
                                    "less text that reads partly like boilerplate"),
    "boilerplate_head_lines": ("more lines before the article (beyond two of timestamp, credit or byline)",
                               "fewer lines before the article (beyond two of timestamp, credit or byline)"),
    "boilerplate_body_lines": ("more lines inside the article", "fewer lines inside the article"),
    "boilerplate_tail_lines": ("more lines after the article", "fewer lines after the article"),
    "boilerplate_nonterminal_line_ratio": ("more lines that do not end as sentences",
                                           "fewer lines that do not end as sentences"),
    "boilerplate_categories": ("more kinds of boilerplate", "fewer kinds of boilerplate"),
}
_PLACES = {"head": "before", "body": "inside", "tail": "after"}

_GROUPS = {
    "boilerplate_title_repeats": "title_repeated",
    "boilerplate_cut_off": "cut_off",
    "boilerplate_site_title": "site_name_in_title",
    "boilerplate_contacts": "contact_details",
    "boilerplate_urls_per_1k": "links",
    "entity_misspelled_per_1k": "misspelled_entities",
    "entity_misspelled_log_count": "misspelled_entities",
    "entity_misspelled_evidence": "misspelled_entities",
    "entity_respelled_log_count": "misspelled_entities",
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
    "words_unknown_excess": "unknown_words",
    "words_article_clash_excess": "word_order",
}


def feature_group(name: str) -> str:
    """The reason code a feature's contribution goes to ("boilerplate": split among the categories later)."""
    if name in _BOILERPLATE_SHARED:
        return "boilerplate"
    if name in _GROUPS:
        return _GROUPS[name]
    return name.split("_", 1)[0]  # readability_*, language_*


def _fault_codes() -> frozenset[str]:
    """Codes whose every feature can only count a fault (its weight held to lower the score, DIRECTIONS)."""
    directions: dict[str, set[int]] = {}
    for name, d in zip(FEATURE_NAMES, FEATURE_DIRECTIONS, strict=True):
        directions.setdefault(feature_group(name), set()).add(d)
    faults = {g for g, ds in directions.items() if ds == {-1}}
    if "boilerplate" in faults:
        faults.discard("boilerplate")
        faults |= {f"boilerplate_{c}" for c in CATEGORIES}
    return frozenset(faults)


# reason code -> its features (the boilerplate categories share theirs, under "boilerplate")
_FEATURES_OF: dict[str, list[str]] = {}
for _name in FEATURE_NAMES:
    _FEATURES_OF.setdefault(feature_group(_name), []).append(_name)

# Reasons that count a fault. Such a reason can still raise the score when the text has less of the fault
# than a typical reliable article (the reference of every contribution); its sentence then says so. A
# boilerplate category's reason never does: what raises the score is less_boilerplate.
FAULT_CODES = _fault_codes()

UNITS = 10_000  # contributions are shown to 4 decimals
# A fault's reason says it raises the score only from this contribution on: the page shows one decimal,
# and a sentence saying "raises the score" beside a contribution shown as 0.0 reads as a contradiction.
RAISES_FROM = 0.05


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.0f}%"


def _share(x: float) -> str:
    """A share of the text: "12%", or "under 1%" rather than a "0%" that reads as nothing."""
    return "under 1%" if 0 < x < 0.005 else _pct(x)


ITEM_CHARS = 60  # an item quoted in a sentence, at most (a 400-letter "word" is in the evidence, whole)


def _clip(item: str) -> str:
    return item if len(item) <= ITEM_CHARS else item[: ITEM_CHARS - 1] + "…"


def _and_more(items: list[str], shown: int, *, last_and: bool = False, clip: bool = True) -> str:
    """The first ``shown`` items, and how many more there are ("a, b, and 3 more"); with ``last_and``, a
    list that is all shown ends in "and" ("a, b and c"). ``clip``: items quoted from the text are cut at
    ITEM_CHARS; this module's own phrases (``clip=False``) are kept whole."""
    items = [_clip(x) for x in items] if clip else list(items)
    if len(items) > shown:
        return ", ".join(items[:shown]) + f", and {len(items) - shown} more"
    if last_and and len(items) > 1:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return ", ".join(items)


def _places(positions: set[str]) -> str:
    """"before the article", "before and after the article", "before, inside and after the article"."""
    names = [_PLACES[p] for p in ("head", "body", "tail") if p in positions]
    if not names:
        return "in the text"
    words = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{words} the article"


def _measures(parts: dict[str, float], *, more: bool, shown: int = 3) -> str:
    """The shared boilerplate values in ``parts`` as words, the largest effect first."""
    ranked = sorted(parts, key=lambda name: (-abs(parts[name]), name))
    return _and_more([_BOILERPLATE_MEASURES[name][0 if more else 1] for name in ranked], shown, last_and=True,
                     clip=False)


def _message(code: str, contribution: float, values: dict[str, float], ev: dict[str, list[dict[str, Any]]],
             extra: dict[str, Any], boilerplate_parts: dict[str, float]) -> str:
    text = _sentence(code, contribution, values, ev, extra, boilerplate_parts)
    applicable = not any(values.get(name, 0.0) != values.get(name, 0.0) for name in _FEATURES_OF.get(code, ()))
    said = code == "misspelled_entities" and bool(ev.get("misspellings"))  # its sentence says it in its place
    if code in FAULT_CODES and contribution >= RAISES_FROM and applicable and not said:  # NaN: not measured, says "not applicable"
        text += " That is less than a typical reliable article has, so it raises the score."
    return text


def _sentence(code: str, contribution: float, values: dict[str, float], ev: dict[str, list[dict[str, Any]]],
              extra: dict[str, Any], boilerplate_parts: dict[str, float]) -> str:
    if code == "boilerplate_none":
        lower = {n: c for n, c in boilerplate_parts.items() if c < 0}
        if contribution < 0 and lower:
            return ("No line looks like boilerplate, but compared with a typical reliable article the text has "
                    + _measures(lower, more=True) + ".")
        return "No line looks like boilerplate: the text reads as article content throughout."
    if code == "less_boilerplate":
        higher = {n: c for n, c in boilerplate_parts.items() if c > 0}
        return ("Apart from the boilerplate lines found, the text has less boilerplate than a typical reliable "
                "article: " + _measures(higher, more=False) + ".")
    if code.startswith("boilerplate_"):
        cat = code.removeprefix("boilerplate_")
        lines = [e for e in ev.get("boilerplate_lines", []) if e["category"] == cat]
        share = extra.get("boilerplate_chars_by_category", {}).get(cat, 0.0) / max(extra.get("n_chars", 1), 1)
        where = _places({e["position"] for e in lines})
        return f"{len(lines)} line(s) look like {_category_phrase(cat)} ({_share(share)} of the text, {where})."
    if code == "title_repeated":
        n = len(ev.get("title_repeats", []))
        return f"The title line appears {n} more time(s) in the text." if n else "The title is not repeated."
    if code == "cut_off":
        return ("The article's last paragraph stops without a full stop, as teasers and paywalled copies do."
                if values["boilerplate_cut_off"] else "The article ends with a complete sentence.")
    if code == "site_name_in_title":
        # training/features/boilerplate.py: the line model labels the first line title_site (a site's
        # name; a line of a few words without a separator or a domain, such as a section's "World News",
        # is not one), or it ends in "| Site" / "- Site", or names a domain
        if not values["boilerplate_site_title"]:
            return "The first line is no site's name and carries none."
        first = next((e.get("text", "") for e in ev.get("site_title", [])), "")
        if len(first) > 120:  # a site's name ends a long title: keep both ends
            first = f"{first[:50].rstrip()} … {first[-60:].lstrip()}"
        quoted = f" (“{first}”)" if first else ""
        return (f"The first line{quoted} reads as a site's name, or a title carrying one or a domain, "
                "as the page header of a scraped copy does.")
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
        shown = _and_more([f"{f['found']} → {f['intended']}" for f in found], 8)
        # What the values weigh: the misspellings (each time a word occurs) against what a clean text of
        # this length has by chance, and the words the text itself spells right elsewhere.
        n_words = int(extra.get("n_words", 0))
        by_chance = CLEAN_RATE_PER_1K * max(n_words, 50) / 1000.0
        chance = f"about {by_chance:.1f}" if by_chance >= 0.05 else "fewer than 0.1"
        occurrences = sum(int(f.get("count", 1)) for f in found)
        text = (f"{len(found)} word(s) look like misspellings of known names or words: {shown}. "
                f"A clean text of {n_words} words has {chance} such misspelling(s) by chance; this one has "
                f"{occurrences}.")
        if contribution >= RAISES_FROM:  # fewer than the reference reliable article: said here, not after the next sentence
            text += " That is less than a typical reliable article has, so it raises the score."
        respelled_log = values.get("entity_respelled_log_count", 0.0)
        respelled = round(math.expm1(respelled_log)) if respelled_log == respelled_log else 0
        return text + (f" {respelled} of these words the text spells right elsewhere." if respelled else "")
    if code == "name_slot_swaps":
        slots = ev.get("name_slots", [])
        if not slots:
            return "No common word stands where a known surname belongs."
        return ("A common word stands where a known surname belongs: "
                + _and_more([f"{s['found']} → {s['intended']}" for s in slots], 5) + ".")
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
        rep = extra.get("repetition", {})
        n, distinct = rep.get("repeated_lines", 0), rep.get("distinct_repeated_lines", 0)
        kinds = f"{distinct} different line" + ("s" if distinct != 1 else "")
        said = f"{n} line(s) repeat earlier ones" + (f" ({kinds})" if distinct < n else "")
        return f"{said}; {_pct(values['repetition_dup_5gram_frac'])} of the words sit in repeated 5-word sequences."
    if code == "spam_signals":
        promo = [p["text"] for p in ev.get("promotional_phrases", [])]
        return (f"{values['repetition_exclamation_per_1k']:.1f} exclamation marks per 1,000 words, "
                f"{_pct(values['repetition_caps_word_frac'])} words in capitals"
                + (f", promotional phrases: {_and_more(promo, 5)}." if promo else "."))
    if code == "text_statistics":
        sw = values.get("repetition_stopword_frac", math.nan)
        sw_txt = f"{_pct(sw)} stop words, " if not math.isnan(sw) else ""
        mwl = values.get("repetition_mean_word_length", math.nan)
        if math.isnan(mwl):  # Chinese or Japanese: no spaces, no word length
            return f"{sw_txt}no mean word length (a text written without spaces between words)."
        return f"{sw_txt}mean word length {mwl:.1f}."
    if code == "length":
        n = extra.get("n_words", 0)
        if values.get("repetition_short_text", 0.0) > 0:
            return f"{n} words: a fragment (a headline, a teaser, an error page) rather than an article."
        return f"{n} words."
    if code == "unknown_words":
        rate = extra.get("words", {}).get("unknown_rate", math.nan)
        if math.isnan(rate):
            return "Whether the words are words of the language is checked where wordfreq has a word list: not here."
        unknown = [str(e["text"]) for e in ev.get("unknown_words", [])]
        return (f"{_share(rate)} of the lower-case words are no words of '{extra.get('language', {}).get('code')}'"
                + (f": {_and_more(unknown, 6)}." if unknown else "."))
    if code == "word_order":
        rate = extra.get("words", {}).get("article_clash_rate", math.nan)
        if math.isnan(rate):
            return "Word order is checked in English text with a few articles (the, a, an) only: not applicable here."
        clashes = [str(e["text"]) for e in ev.get("article_clashes", [])]
        if not clashes:
            return "Every article (the, a, an) is followed by what it determines, as in written English."
        return (f"{_share(rate)} of the articles (the, a, an) are followed by a function word ({_and_more(clashes, 5)}), "
                "as in text whose words were shuffled; written English has almost none.")
    return REASON_CODES.get(code, code)


def _evidence(code: str, ev: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    if code in ("boilerplate_none", "less_boilerplate"):
        return []
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
        "unknown_words": ev.get("unknown_words", []),
        "word_order": ev.get("article_clashes", []),
    }.get(code, [])


def _category_weights(bp_lines: list[dict[str, Any]], by_cat: dict[str, float]) -> dict[str, dict[str, float]]:
    """For each shared boilerplate value, each category's part of what it counts (characters, lines, or 1).

    A category's characters in a place are its characters (``by_cat``) times the share of its evidence
    text that lies there (evidence keeps 300 characters of a line: exact unless a line is longer and the
    category sits in two places)."""
    lines: dict[tuple[str, str], float] = {}
    section: dict[tuple[str, str], float] = {}  # a section's name above the headline: no head line
    text: dict[tuple[str, str], float] = {}
    text_total: dict[str, float] = {}
    for e in bp_lines:
        key = (e["category"], e["position"])
        lines[key] = lines.get(key, 0.0) + 1.0
        if e.get("section"):
            section[key] = section.get(key, 0.0) + 1.0
        n = float(max(len(e.get("text", "")), 1))
        text[key] = text.get(key, 0.0) + n
        text_total[e["category"]] = text_total.get(e["category"], 0.0) + n
    out: dict[str, dict[str, float]] = {}
    for name, (places, unit) in _BOILERPLATE_SHARED.items():
        w: dict[str, float] = {}
        free_cats, free = _BOILERPLATE_FREE.get(name, (frozenset(), 0))
        # the head-line count leaves out a section's name above the headline, wholly
        counts = {k: x - section.get(k, 0.0) for k, x in lines.items()} if name in _BOILERPLATE_FREE else lines
        # the share of the free categories' lines there that counts (1 without free lines)
        header = sum(counts.get((cat, p), 0.0) for cat in free_cats for p in places)
        counted = max(0.0, header - free) / header if header else 1.0
        for cat, chars in by_cat.items():
            if cat in free_cats and bp_lines:
                x = counted * sum(counts.get((cat, p), 0.0) for p in places)
            elif unit == "categories":
                x = 1.0
            elif not bp_lines:  # no positions known: the categories' characters
                x = chars
            elif unit == "lines":
                x = sum(counts.get((cat, p), 0.0) for p in places)
            else:
                x = chars * sum(text.get((cat, p), 0.0) for p in places) / text_total.get(cat, 1.0)
            if x > 0:
                w[cat] = x
        out[name] = w
    return out


def _without_free(name: str, by_cat: dict[str, float]) -> dict[str, float]:
    """The categories a value without lines where it counts is charged to: those found, but not the ones
    it leaves free (a head-line count is not a timestamp's), unless they are all there is."""
    free_cats = _BOILERPLATE_FREE.get(name, (frozenset(), 0))[0]
    return {c: x for c, x in by_cat.items() if c not in free_cats} or by_cat


def _split_boilerplate(parts: dict[str, float], ev: dict[str, list[dict[str, Any]]],
                       extra: dict[str, Any]) -> dict[str, float]:
    """Boilerplate's shared values' contributions as reasons: what lowers the score to the categories of
    the lines each value counts, what raises it to less_boilerplate; all of it to boilerplate_none when
    no line is boilerplate. The reasons add up to the sum of ``parts``."""
    by_cat = {c: x for c, x in extra.get("boilerplate_chars_by_category", {}).items() if x > 0}
    if not by_cat:
        return {"boilerplate_none": sum(parts.values())}
    out = dict.fromkeys((f"boilerplate_{c}" for c in by_cat), 0.0)
    weights = _category_weights(ev.get("boilerplate_lines", []), by_cat)
    less = 0.0
    for name, c in parts.items():
        if c >= 0:
            less += c
            continue
        # a value without boilerplate lines where it counts (lines that do not end as sentences are also
        # content lines): the categories found, by their characters
        w = weights.get(name) or _without_free(name, by_cat)
        total = sum(w.values())
        for cat, x in w.items():
            out[f"boilerplate_{cat}"] += c * x / total
    if less > 0:
        out["less_boilerplate"] = less
    return out


def _round_keeping_sum(contributions: dict[str, float], base: float, logit: float) -> dict[str, int]:
    """Each contribution in units of 1e-4, rounded down or up so that the rounded ones add up exactly to
    ``round(logit, 4) - round(base, 4)`` (largest remainders: the ones closest to their next unit go up).

    Each value is rounded towards one of its two neighbouring units, so a negative one stays ≤ 0, a
    positive one ≥ 0, and 0 stays 0. With exact arithmetic the units to hand out are between 0 and the
    number of values with a fraction; the clamp only guards against float rounding."""
    scaled = {code: c * UNITS for code, c in contributions.items()}
    units = {code: math.floor(x) for code, x in scaled.items()}
    target = round(round(logit, 4) * UNITS) - round(round(base, 4) * UNITS)
    fractional = sorted((code for code in scaled if scaled[code] - units[code] > 1e-9),
                        key=lambda code: (-(scaled[code] - units[code]), code))
    up = min(max(target - sum(units.values()), 0), len(fractional))
    for code in fractional[:up]:
        units[code] += 1
    return units


def build_reasons(
    contributions: dict[str, float],
    values: dict[str, float],
    evidence: dict[str, list[dict[str, Any]]],
    extra: dict[str, Any],
    *,
    explain: bool = True,
    base: float = 0.0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Group per-feature contributions into reasons: ``(reasons, no_effect)``.

    ``reasons``: those that change the score, largest effect first; their contributions plus
    ``round(base, 4)`` add up to ``round(base + sum(contributions), 4)``, the logit the scorer shows.
    ``no_effect``: the reasons whose contribution is 0 (to 4 decimals), by code, shaped the same."""
    groups: dict[str, float] = {}
    boilerplate_parts: dict[str, float] = {}
    for name, c in contributions.items():
        g = feature_group(name)
        if g == "boilerplate":
            boilerplate_parts[name] = boilerplate_parts.get(name, 0.0) + c
        else:
            groups[g] = groups.get(g, 0.0) + c
    english = extra.get("language", {}).get("english_signals", True)
    if not english and "language" in groups:
        groups["language_not_english"] = groups.pop("language")
    groups.update(_split_boilerplate(boilerplate_parts, evidence, extra))
    logit = base + sum(contributions.values())  # as the scorer computes it
    units = _round_keeping_sum(groups, base, logit)
    reasons: list[dict[str, Any]] = []
    no_effect: list[dict[str, Any]] = []
    for code in groups:
        c = round(units[code] / UNITS, 4)
        item: dict[str, Any] = {
            "code": code,
            "message": _message(code, c, values, evidence, extra, boilerplate_parts),
            "contribution": c,
        }
        if explain:
            item["evidence"] = _evidence(code, evidence)
        (reasons if units[code] else no_effect).append(item)
    reasons.sort(key=lambda r: (-abs(r["contribution"]), r["code"]))
    no_effect.sort(key=lambda r: r["code"])
    return reasons, no_effect
