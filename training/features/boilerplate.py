"""Boilerplate lines: which lines are not the article (cookie banners, related links, comment forms ...).

Every line is classified by the learned line model (:mod:`training.linemodel`). Values are ratios and
log counts, so long and short documents compare; where the boilerplate sits matters too: a few lines
after the article's last paragraph (an author box, "Leave a Reply") are what almost every real article
page ends with, while lines before or inside the article mean a page was stitched together.
"""

from __future__ import annotations

import math
import re

import numpy as np

from training.document import Document, Line
from training.features import Context, FamilyOutput
from training.lexicons import CATEGORIES, EMAIL_RE, PHONE_RE, STOP_WORDS, URL_RE, stop_words
from training.linemodel import CLASSES, CLOSERS, DENSE_FEATURE_NAMES

NAME = "boilerplate"
FEATURES = (
    "boilerplate_line_ratio",
    "boilerplate_char_ratio",
    "boilerplate_tail_char_ratio",
    "boilerplate_soft_char_ratio",
    "boilerplate_head_lines",
    "boilerplate_body_lines",
    "boilerplate_tail_lines",
    "boilerplate_title_repeats",
    "boilerplate_site_title",
    "boilerplate_contacts",
    "boilerplate_urls_per_1k",
    "boilerplate_nonterminal_line_ratio",
    "boilerplate_categories",
    "boilerplate_cut_off",
)
# Every boilerplate value counts what a clean article does not have: more of it can only lower the score.
DIRECTIONS = dict.fromkeys(FEATURES, -1)

# What stands above a story on most news pages: a timestamp or reading time, a photo credit, a byline.
# The first HEADER_LINES_FREE such lines before the article still count in the shares of boilerplate, but
# not as head lines: that count is for what a stitched or scraped page puts there (site titles, menus,
# teasers, share bars). More of them than a story's header has (a strip of "Print", "Save", "A A A",
# view counts) count as head lines again.
HEADER_CATEGORIES = frozenset({"meta", "caption", "author"})
HEADER_LINES_FREE = 2


def head_line_count(categories: list[str]) -> int:
    """The head lines that count: all but the first HEADER_LINES_FREE of HEADER_CATEGORIES."""
    header = sum(1 for c in categories if c in HEADER_CATEGORIES)
    return len(categories) - header + max(0, header - HEADER_LINES_FREE)

PARAGRAPH_WORDS = 8  # a content sentence this long is article prose: prose lines bound the head and the tail
_DIGITS_RE = re.compile(r"\d{3}")
_CUT_RE = re.compile(r"[\w,;–—、，；-]$")  # ends on a word, a comma or a dash: the sentence did not end
_EXCERPT_END_RE = re.compile(r"[\w,;–—-]\s*\[(?:…|\.\.\.)\]$")  # "... an address he […]": cut by a feed
_CLOSING_MARKS = CLOSERS  # what may follow a sentence's mark (a quote's or a bracket's end, 」 or 』)
# Chinese and Japanese sentences end in full-width marks (。！？). A teaser cut off with "…" is not prose.
_PROSE_END_MARKS = frozenset(".!?。！？")
_TERMINAL_MARKS = frozenset(".!?…:。！？")


def _ends_with_mark(text: str, marks: frozenset[str]) -> bool:
    """``re.search(f"[{marks}][{_CLOSING_MARKS}]*$", text)`` without a regular expression: the last
    character before the closing marks at the end (``$`` also matches before a final newline) is a mark
    (the marks and the closing marks have no character in common). A regex search tries every position."""
    if text.endswith("\n"):
        text = text[:-1]
    return text.rstrip(_CLOSING_MARKS)[-1:] in marks
_SITE_SUFFIX_RE = re.compile(r"\s[|–—-]\s[^|–—-]{2,40}$|\s\|\s")  # "Headline | Site", "Headline - Site"
TITLE_MAX_WORDS = 30  # a headline is shorter: a longer line ending in " - so and so" is a sentence


def _site_suffix(line: Line) -> bool:
    """A headline that ends with the site's name: "Headline | Site", "Headline - Site"."""
    return len(line.words) <= TITLE_MAX_WORDS and _SITE_SUFFIX_RE.search(line.text) is not None


_DOMAIN_RE = re.compile(r"\b[\w-]{1,63}\.(?:com|net|org|co\.uk|news|info|io)\b", re.I)  # a label is at most 63


# A site title names its site: "Headline | Site", "Site - Headline", a domain. A line of a few words with
# neither ("World News", "Breaking News") is a section's name or a menu's item, however newsy its words.
SECTION_MAX_WORDS = 3
_TITLE_SEPARATOR_RE = re.compile(r"[|›»:•·]|\s[-–—]\s")


def _section_name(line: Line, layout: np.ndarray) -> bool:
    """A section's name: a line that names no site (:func:`_names_no_site`), every word capitalised, ending
    no sentence, without a word of the keyword lexicons but the site title's ("World News", "Politics",
    "Health & Science"; not "Skip to content", "Home", "Subscribe")."""
    return (
        bool(line.words)
        and _names_no_site(line)
        and all(w[:1].isupper() for w in line.words)
        and not _ends_with_mark(line.text, _TERMINAL_MARKS)
        and not layout[_KEYWORD_COLUMNS].any()
    )


def _names_no_site(line: Line) -> bool:
    """A short line without a title's separator or a domain: no title with the site's name."""
    return (
        len(line.words) <= SECTION_MAX_WORDS
        and not _TITLE_SEPARATOR_RE.search(line.text)
        and not _DOMAIN_RE.search(line.text)
    )


_INNER_SENTENCE_RE = re.compile(r"[.!?][\"'”’)]*\s+[\"'“‘(]?[A-Z]|[。！？][」』）]*\S")
CUT_OFF_MIN_WORDS = 15  # a line this long, written as prose, that stops on a word was cut off
_TITLE_SITE = CLASSES.index("title_site")
_SHARE = CLASSES.index("share")
SHARE_PROSE_MAX_WORDS = 150  # a longer line is a page dump run together, judged by its words alone
# Columns of the line model's layout features: the line holds an e-mail address, a phone number, a URL.
_HAS_EMAIL = DENSE_FEATURE_NAMES.index("has_email")
_HAS_PHONE = DENSE_FEATURE_NAMES.index("has_phone")
_HAS_URL = DENSE_FEATURE_NAMES.index("has_url")
# The keyword lexicons a section's name has no word of: all but the site title's, whose words ("news",
# "daily", "times") name sections too; a site title is told by its separator or domain instead.
_KEYWORD_COLUMNS = [DENSE_FEATURE_NAMES.index(f"kw_{c}") for c in CATEGORIES if c != "title_site"]
_NAVIGATION = CLASSES.index("navigation")
_META = CLASSES.index("meta")


def _running_text(words: tuple[str, ...], stop: frozenset[str]) -> bool:
    """Sentence-length running text: 8+ words, a quarter of them stop words (not a title or a list of names)."""
    return len(words) >= PARAGRAPH_WORDS and sum(w.lower() in stop for w in words) >= 0.25 * len(words)


def _not_a_title(line: Line, stop: frozenset[str]) -> bool:
    """A line that cannot be a title with the site's name: prose, or longer than any headline (a whole
    article flattened onto one line whose list of names dilutes its stop words), unless it ends in
    "| Site" or "- Site"."""
    return (len(line.words) > TITLE_MAX_WORDS or _is_prose(line.text, line.words, stop)) and not _site_suffix(line)


def _is_prose(text: str, words: tuple[str, ...], stop: frozenset[str] = STOP_WORDS) -> bool:
    """Sentences, not a title: enough stop words, and either long or holding a sentence boundary."""
    if not _running_text(words, stop):
        return False
    return len(words) >= CUT_OFF_MIN_WORDS or bool(_INNER_SENTENCE_RE.search(text))


# A sentence's end: its mark (and closing quotes) before a space, or glued to a hashtag or handle.
_SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*(?:\s+|(?=[#@]))|[。！？][」』）]*")
CREDIT_TOKENS = 10  # at most this many words after a line's last full stop can be a credit, a date or tags


def _is_tag(token: str) -> bool:
    """A token that is not running text: capitalised or a number (a wire credit like "PTI", a name, a
    date line like "First Published: Tuesday, November 19, 2019 08:38 AM"), a hashtag, a handle or a link.
    A word of a script without capitals (Hebrew, Arabic) is running text."""
    first = token[:1]
    return first.isupper() or first.isdigit() or token.startswith(("#", "@")) or "/" in token or "." in token


LIST_ITEM_WORDS = 40  # an unpunctuated list's item is at most this long; a cut-off paragraph is longer


# A credit, not the article's words: "Reporting by ...; Editing by ...", "Photo: ...", "Source: ...".
_CREDIT_START_RE = re.compile(
    r"(?:additional |associated )?(?:reporting|editing|writing|photos?|images?|video|sources?|credits?)\b", re.I
)


def _closing_sentence(line: Line, stop: frozenset[str]) -> bool:
    """A sentence that may end an article: 8+ words, running text (a quarter of them stop words), a
    sentence's end, and no credit."""
    return (
        _running_text(line.words, stop)
        and _ends_with_mark(line.text, _PROSE_END_MARKS)
        and not _CREDIT_START_RE.match(line.text)
    )


_DASHES = "–—―-"
# A linked title or a source named after a colon: at least this many words ("How to Compost in a Small
# Garden"), at most that many. Shorter, it is as likely a quote or a list cut off ("he added: The Government").
TITLE_PHRASE_MIN_WORDS = 4
TITLE_PHRASE_MAX_WORDS = 12
# Words that start a clause: a role after a name has none ("CEO, Kythera Labs", "the town's mayor"); a
# sentence cut off after a name does ("Calloway, who has led the council since").
_CLAUSE_WORDS = frozenset(
    "who whom whose which that when where while since because after before until unless although if as".split()
)


def _attribution(after: list[str], stop: frozenset[str]) -> bool:
    """The words after a quote's last sentence are its attribution: a dash, a name, perhaps the person's
    role after a comma ("— Susan B. Anthony, US women's rights activist", "– Jeff McDonald, CEO"). A name
    starts with a capital (not "-5, the coldest night"), and a role holds no word that starts a clause and
    does not stop on a function word ("— Calloway, who has led the council since" is a sentence cut off)."""
    if not after or after[0][:1] not in _DASHES:
        return False
    rest = [after[0].lstrip(_DASHES), *after[1:]] if after[0].lstrip(_DASHES) else after[1:]
    if not rest or len(rest) > CREDIT_TOKENS or not rest[0][:1].isupper():
        return False
    name = []
    for token in rest:
        name.append(token)
        if token.endswith(","):
            break
    role = [t.strip(",;").lower() for t in rest[len(name) :]]
    return all(map(_is_tag, name)) and not _CLAUSE_WORDS.intersection(role) and rest[-1].strip(",;").lower() not in stop


def _title_phrase(words: list[str]) -> bool:
    """A title or a name, not running text: a few words, first and last capitalised (or a number), at least
    half of them capitalised ("How to Compost in a Chicago Apartment", "Do your Federal Taxes for Free")."""
    if not TITLE_PHRASE_MIN_WORDS <= len(words) <= TITLE_PHRASE_MAX_WORDS:
        return False
    capital = [w[:1].isupper() or w[:1].isdigit() for w in words]
    return capital[0] and capital[-1] and 2 * sum(capital) >= len(words)


def _stops_mid_sentence(lines: list[Line], labels: list[str], k: int, stop: frozenset[str] = STOP_WORDS) -> bool:
    """The article's last prose line (``lines[k]``) stops on a word: cut off (a teaser, a paywall, a truncation).

    Not a cut: a line whose last sentence ended and is followed only by a credit or a tag ("... into the
    US. PTI", "... next day. #Plenary") or by a quote's attribution ("... in the world." — Susan B.
    Anthony, activist); a line that ends on a title after a colon ("Check out this guide: How to Compost
    in a Chicago Apartment"); and the last item of a list written without full stops: an
    item-sized line right below (no blank line between) a content line of 8+ words that stops on a word
    too. A subheading above a cut paragraph is not that: a blank line or the paragraph's length tells.
    Nor is it a cut when the only content line after it is a closing sentence (8+ words of running text
    ending a sentence, no credit): the article ends there, on a line too short to count as prose."""
    last = lines[k]
    text = last.text
    if not _CUT_RE.search(text):
        return False
    later = [i for i in range(k + 1, len(lines)) if labels[i] == "content"]
    if len(later) == 1 and _closing_sentence(lines[later[0]], stop):
        return False  # the one content line after it, shorter, is the article's last sentence
    ends = list(_SENTENCE_END_RE.finditer(text))
    if ends:
        after = text[ends[-1].end() :].split()
        if (len(after) <= CREDIT_TOKENS and all(map(_is_tag, after))) or _attribution(after, stop):
            return False
    colon = text.rfind(": ")
    if colon >= 0 and _title_phrase(text[colon + 2 :].split()):
        return False  # "... to get started: How to Compost in a Chicago Apartment": a title, linked or named
    before = lines[k - 1] if k > 0 and labels[k - 1] == "content" else None
    in_list = (
        before is not None
        and before.number + before.span == last.number  # the next line of the text: no blank line between
        and len(before.words) >= PARAGRAPH_WORDS
        and len(last.words) <= LIST_ITEM_WORDS
        and bool(_CUT_RE.search(before.text))
    )
    return not in_list


def _fallback_labels(doc: Document) -> tuple[list[str], np.ndarray]:
    """Without a line model: a line is content when it is prose-like. Only for bootstrapping."""
    labels = []
    for ln in doc.lines:
        prose = len(ln.words) >= PARAGRAPH_WORDS or _ends_with_mark(ln.text, _TERMINAL_MARKS)
        labels.append("content" if prose else "navigation")
    p = np.array([1.0 if lab == "content" else 0.0 for lab in labels])
    return labels, p


def classify_lines(doc: Document, *, context: Context) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Label per line, P(content) per line, and the winning probability per line."""
    labels, p_content, confidence, _, _ = _classify_lines(doc, context=context)
    return labels, p_content, confidence


def _classify_lines(
    doc: Document, *, context: Context
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """:func:`classify_lines`, the line model's layout features of the lines (None without a model), and
    whether the first line is a section's name above the headline."""
    model = context.resources.line_model
    if model is None:
        labels, p = _fallback_labels(doc)
        return labels, p, np.ones(len(labels)), None, False
    proba, layout = model.predict_proba_layout(
        [ln.text for ln in doc.lines], words=[ln.words for ln in doc.lines], language=context.language
    )
    best = proba.argmax(axis=1)
    # A title with the site's name is a short line: a line written as prose (a dateline lead, a whole
    # article on one line) is not one, whatever its position says; nor is a line of a few words that
    # names no site ("World News": a section). It gets its next most likely class.
    # A long headline that ends in "| Site" or "- Site" is still a site title. Its probabilities are
    # then those given that it is no site title (renormalised without that class), so P(content) of a
    # whole article on one line is not left near zero.
    # Likewise a share or follow bar is a few words ("Share on Facebook", "Like this story? Share it with a
    # friend."): a sentence of 15+ words of running text that names a platform ("Brands can set up shops on
    # Instagram, Facebook, ...") is no share bar, unless it is longer than any paragraph (a page dump run
    # onto one line). It gets its next most likely class.
    stop = stop_words(context.language)

    def demote(i: int, k: int) -> None:
        row = proba[i].copy()
        row[k] = 0.0
        rest = row.sum()
        proba[i] = row / rest if rest > 0 else np.eye(len(CLASSES))[0]
        best[i] = int(proba[i].argmax())

    for i in np.flatnonzero(best == _SHARE).tolist():  # first: a line it demotes may land on title_site
        ln = doc.lines[i]
        if CUT_OFF_MIN_WORDS <= len(ln.words) <= SHARE_PROSE_MAX_WORDS and _running_text(ln.words, stop):
            demote(i, _SHARE)
    for i in np.flatnonzero(best == _TITLE_SITE).tolist():
        if _not_a_title(doc.lines[i], stop) or _names_no_site(doc.lines[i]):
            demote(i, _TITLE_SITE)
    # A section's name above the headline ("World News", "Politics") is the story's metadata, not a menu:
    # the first line, taken for navigation (a short line naming no site was moved off title_site above),
    # followed by a content line (the headline; a menu goes on with more items). What the model gave to
    # navigation goes to metadata; P(content) stays. It costs no head line, on top of the timestamp,
    # credit or byline lines a story's header may have.
    section = len(best) >= 2 and best[0] == _NAVIGATION and best[1] == 0 and _section_name(doc.lines[0], layout[0])
    if section:
        proba[0, _META] += proba[0, _NAVIGATION]
        proba[0, _NAVIGATION] = 0.0
        best[0] = _META
    labels = [CLASSES[k] for k in best]
    return labels, proba[:, 0], proba[np.arange(len(best)), best], layout, section


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    lines = doc.lines
    labels, p_content, confidence, layout, section = _classify_lines(doc, context=context)
    context.line_categories = labels
    n = len(lines)
    chars = np.array([len(ln.text) for ln in lines], dtype=np.float64)
    is_bp = np.array([lab != "content" for lab in labels])
    total_chars = chars.sum() or 1.0

    prose = [
        i for i, ln in enumerate(lines)
        if labels[i] == "content" and len(ln.words) >= PARAGRAPH_WORDS and _ends_with_mark(ln.text, _PROSE_END_MARKS)
    ]
    first, last = (prose[0], prose[-1]) if prose else (n, n)
    head = [i for i in range(min(first, n)) if is_bp[i]]
    body = [i for i in range(first, last + 1) if i < n and is_bp[i]]
    tail = [i for i in range(last + 1, n) if is_bp[i]]

    title = lines[0].text.lower()
    repeats = [
        i for i in range(1, n)
        if len(title) >= 12 and (lines[i].text.lower() == title or (len(lines[i].text) >= 20 and lines[i].text.lower() in title))
    ]
    stop = stop_words(context.language)
    first_line = lines[0]
    site_title = (
        labels[0] == "title_site"
        or _site_suffix(first_line)
        # a domain names the site in a title, not in a first line of prose that mentions a website
        or (bool(_DOMAIN_RE.search(first_line.text)) and not _not_a_title(first_line, stop))
    )
    if layout is not None:
        # The line model has searched every line for an e-mail address, a phone number and a URL (a
        # line with a dot): only the lines where it found one are searched again, for all their matches.
        email_lines = [lines[i] for i in np.flatnonzero(layout[:, _HAS_EMAIL]).tolist()]
        phone_lines = [lines[i] for i in np.flatnonzero(layout[:, _HAS_PHONE]).tolist()]
        url_lines = [lines[i] for i in np.flatnonzero(layout[:, _HAS_URL]).tolist()]
    else:  # cheap gates first: most lines have no "@", no digit run and no dot
        email_lines = [ln for ln in lines if "@" in ln.text]
        phone_lines = [ln for ln in lines if _DIGITS_RE.search(ln.text)]
        url_lines = [ln for ln in lines if "." in ln.text]
    emails = [(ln.number, m) for ln in email_lines for m in EMAIL_RE.findall(ln.text)]
    phones = [(ln.number, m) for ln in phone_lines for m in PHONE_RE.findall(ln.text)]
    urls = [(ln.number, m) for ln in url_lines for m in URL_RE.findall(ln.text) if "@" not in m]
    cats = {lab for lab in labels if lab != "content"}

    # Ratios of boilerplate before or inside the article, and separately after it: a short tail is
    # what real article pages end with, boilerplate inside the article is what stitched pages have.
    inside = head + body
    span_lines = lines[: last + 1] if prose else lines
    nonterminal = sum(1 for ln in span_lines if not _ends_with_mark(ln.text, _TERMINAL_MARKS))
    # Cut off: the last prose content line stops on a word (a teaser or a paywall); an excerpt ending
    # in "…" is a teaser of another story, not this article stopping mid-sentence.
    k_last = next(
        (i for i in range(n - 1, -1, -1) if labels[i] == "content" and _is_prose(lines[i].text, lines[i].words, stop)),
        None,
    )
    last_prose = lines[k_last] if k_last is not None else None
    cut_off = k_last is not None and _stops_mid_sentence(lines, labels, k_last, stop)
    # An excerpt: the text's last content line stops on a word followed by "[…]" or "[...]", the mark feeds
    # and blog engines put where they cut an article short ("... sent to an address he […]"). A plain "…" is
    # left alone: a teaser of another story ends with one.
    if not cut_off:
        k_end = next((i for i in range(n - 1, -1, -1) if labels[i] == "content"), None)
        if k_end is not None and _EXCERPT_END_RE.search(lines[k_end].text):
            cut_off, last_prose = True, lines[k_end]
    values = {
        "boilerplate_cut_off": float(cut_off),
        "boilerplate_line_ratio": len(inside) / n if n else 0.0,
        "boilerplate_char_ratio": float(sum(chars[i] for i in inside) / total_chars),
        "boilerplate_tail_char_ratio": float(sum(chars[i] for i in tail) / total_chars),
        "boilerplate_soft_char_ratio": float((chars * (1.0 - p_content)).sum() / total_chars),
        "boilerplate_head_lines": math.log1p(head_line_count([labels[i] for i in head if not (section and i == 0)])),
        "boilerplate_body_lines": math.log1p(len(body)),
        "boilerplate_tail_lines": math.log1p(len(tail)),
        "boilerplate_title_repeats": math.log1p(len(repeats)),
        "boilerplate_site_title": float(site_title),
        "boilerplate_contacts": math.log1p(len(emails) + len(phones)),
        "boilerplate_urls_per_1k": 1000.0 * len(urls) / max(doc.n_words, 50),
        "boilerplate_nonterminal_line_ratio": nonterminal / len(span_lines) if span_lines else 0.0,
        "boilerplate_categories": float(len(cats)),
    }

    def where(i: int) -> str:
        return "head" if i < first else ("tail" if i > last else "body")

    bp_lines = [
        {
            "line": lines[i].number,
            "category": labels[i],
            "position": where(i),
            "text": lines[i].text[:300],
            "confidence": round(float(confidence[i]), 3),
            **({"section": True} if section and i == 0 else {}),  # a section's name: no head line
        }
        for i in range(n)
        if is_bp[i]
    ]
    evidence = {
        "boilerplate_lines": bp_lines,
        "title_repeats": [{"line": lines[i].number, "text": lines[i].text[:300]} for i in repeats],
        "cut_off": [{"line": last_prose.number, "text": last_prose.text[-200:]}] if last_prose and cut_off else [],
        "site_title": [{"line": lines[0].number, "text": lines[0].text[:300]}] if site_title else [],
        "contacts": [{"line": num, "text": m, "kind": "email"} for num, m in emails]
        + [{"line": num, "text": m, "kind": "phone"} for num, m in phones],
        "urls": [{"line": num, "text": m} for num, m in urls[:50]],
    }
    by_label: dict[str, list[int]] = {}  # the lines of each label, in order
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    content_text = "\n".join(ln.text for ln, lab in zip(lines, labels, strict=True) if lab == "content")
    return FamilyOutput(
        values=values,
        evidence=evidence,
        extra={
            "cleaned_text": content_text,
            "line_categories": labels,  # one per parsed line
            "line_labels": [  # one per line of the text: a joined hard-wrapped paragraph is each of its lines
                {"line": ln.number + k, "category": lab}
                for ln, lab in zip(lines, labels, strict=True)
                for k in range(ln.span)
            ],
            "boilerplate_chars_by_category": {
                c: float(chars[by_label[c]].sum()) for c in CATEGORIES if c in cats
            },
        },
    )
