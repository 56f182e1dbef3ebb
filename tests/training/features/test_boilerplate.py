from __future__ import annotations

import math
import re

import numpy as np
import pytest
from resources import CLEAN, SCRAPED, SCRAPED_TITLE, SPAM, SPAM_LINE

from training.dataset import FIXTURES_DIR, read_jsonl
from training.document import parse
from training.features import Context, Resources, boilerplate, extract_features, language
from training.linemodel import CLASSES
from training.vocabulary import EntityLexicon


def _line_of(text: str, needle: str) -> int:
    """1-based number of the first line of ``text`` containing ``needle``."""
    return next(i for i, ln in enumerate(text.split("\n"), start=1) if needle in ln)


def _run(text, resources):
    doc = parse(text)
    ctx = Context(resources=resources)
    language.extract(doc, context=ctx)
    return boilerplate.extract(doc, context=ctx), ctx, doc


@pytest.fixture(scope="module")
def scraped(resources):
    return _run(SCRAPED, resources)


@pytest.fixture(scope="module")
def clean(resources):
    return _run(CLEAN, resources)


@pytest.mark.parametrize(
    ("needle", "category"),
    [
        ("We use cookies", "cookie"),
        ("Related posts", "related"),
        ("Five things to do in Eastbrook", "related"),
        ("| Local News |", "title_site"),
    ],
)
def test_scraped_lines_get_their_category_and_line_number(scraped, needle, category):
    out, _, _ = scraped
    expected_line = _line_of(SCRAPED, needle)
    hits = [e for e in out.evidence["boilerplate_lines"] if e["line"] == expected_line]
    assert hits, f"line {expected_line} ({needle!r}) not reported as boilerplate"
    assert hits[0]["category"] == category
    assert needle in hits[0]["text"]
    assert 0.0 < hits[0]["confidence"] <= 1.0


def test_scraped_cookie_banner_sits_in_the_tail(scraped):
    out, _, _ = scraped
    cookie = [e for e in out.evidence["boilerplate_lines"] if e["category"] == "cookie"]
    assert [e["position"] for e in cookie] == ["tail"]
    assert out.extra["boilerplate_chars_by_category"]["cookie"] == len(cookie[0]["text"])


def test_scraped_title_repeats_contacts_and_site_title(scraped):
    out, _, _ = scraped
    v, ev = out.values, out.evidence
    # The site title line contains the title, so both the bare copies count as repeats.
    assert [e["line"] for e in ev["title_repeats"]] == [7, 8]
    assert all(e["text"] == SCRAPED_TITLE for e in ev["title_repeats"])
    assert v["boilerplate_title_repeats"] == pytest.approx(math.log1p(2))
    assert v["boilerplate_site_title"] == 1.0
    assert ev["site_title"][0]["line"] == 1
    assert ev["contacts"] == [
        {"line": _line_of(SCRAPED, "newsdesk.tips42"), "text": "newsdesk.tips42@gmail.com", "kind": "email"}
    ]
    assert v["boilerplate_contacts"] == pytest.approx(math.log1p(1))


def test_scraped_has_more_boilerplate_than_clean(scraped, clean):
    s, c = scraped[0].values, clean[0].values
    assert s["boilerplate_char_ratio"] > c["boilerplate_char_ratio"]
    # all boilerplate characters, wherever they sit (newer code splits off the tail after the article)
    s_all = s["boilerplate_char_ratio"] + s.get("boilerplate_tail_char_ratio", 0.0)
    c_all = c["boilerplate_char_ratio"] + c.get("boilerplate_tail_char_ratio", 0.0)
    assert s_all > c_all + 0.2
    assert s["boilerplate_line_ratio"] > c["boilerplate_line_ratio"]
    assert s["boilerplate_soft_char_ratio"] > c["boilerplate_soft_char_ratio"]
    assert s["boilerplate_categories"] > c["boilerplate_categories"]
    assert s["boilerplate_head_lines"] > 0.0 and s["boilerplate_tail_lines"] > 0.0


def test_clean_has_no_title_repeat_contact_or_site_title(clean):
    out, _, _ = clean
    assert out.values["boilerplate_title_repeats"] == 0.0
    assert out.values["boilerplate_contacts"] == 0.0
    assert out.values["boilerplate_site_title"] == 0.0
    assert out.values["boilerplate_urls_per_1k"] == 0.0
    assert out.evidence["title_repeats"] == [] and out.evidence["contacts"] == []


@pytest.mark.parametrize("which", ["scraped", "clean"])
def test_values_are_consistent_with_the_line_labels(which, scraped, clean):
    out, ctx, doc = {"scraped": scraped, "clean": clean}[which]
    labels = ctx.line_categories
    assert labels is not None and len(labels) == len(doc.lines)
    assert set(labels) <= set(CLASSES)
    assert [e["line"] for e in out.extra["line_labels"]] == [ln.number for ln in doc.lines]
    assert [e["category"] for e in out.extra["line_labels"]] == labels
    bp_lines = [e["line"] for e in out.evidence["boilerplate_lines"]]
    assert bp_lines == [ln.number for ln, lab in zip(doc.lines, labels, strict=True) if lab != "content"]
    # line and character ratios count boilerplate lines (the tail may be counted separately)
    assert 0.0 <= out.values["boilerplate_line_ratio"] <= len(bp_lines) / len(doc.lines) + 1e-12
    bp_chars = sum(len(ln.text) for ln, lab in zip(doc.lines, labels, strict=True) if lab != "content")
    all_ratio = out.values["boilerplate_char_ratio"] + out.values.get("boilerplate_tail_char_ratio", 0.0)
    assert all_ratio == pytest.approx(bp_chars / doc.n_chars)
    cats = {lab for lab in labels if lab != "content"}
    assert out.values["boilerplate_categories"] == len(cats)
    assert set(out.extra["boilerplate_chars_by_category"]) == cats
    content = [ln.text for ln, lab in zip(doc.lines, labels, strict=True) if lab == "content"]
    assert out.extra["cleaned_text"] == "\n".join(content)
    for name in boilerplate.FEATURES:
        assert math.isfinite(out.values[name]), name
    assert 0.0 <= out.values["boilerplate_char_ratio"] <= 1.0


def test_spam_repeated_first_line_counts_as_title_repeat(resources):
    out, _, _ = _run(SPAM, resources)
    assert len(out.evidence["title_repeats"]) == SPAM.count(SPAM_LINE) - 1


def test_url_counting(resources):
    text = CLEAN + "\nSee https://example.org/a and www.example.com/b for details.\n"
    out, _, doc = _run(text, resources)
    assert len(out.evidence["urls"]) == 2
    assert out.values["boilerplate_urls_per_1k"] == pytest.approx(2000.0 / max(doc.n_words, 50))


def test_fallback_without_line_model_marks_short_fragments():
    res = Resources(line_model=None, lexicon=EntityLexicon())
    text = "Home\nNews\nThis is a full sentence of article prose that ends properly.\nShare"
    doc = parse(text)
    ctx = Context(resources=res)
    out = boilerplate.extract(doc, context=ctx)
    assert ctx.line_categories == ["navigation", "navigation", "content", "navigation"]
    assert [e["position"] for e in out.evidence["boilerplate_lines"]] == ["head", "head", "tail"]
    assert out.values["boilerplate_head_lines"] == pytest.approx(math.log1p(2))
    assert out.values["boilerplate_tail_lines"] == pytest.approx(math.log1p(1))


def test_extract_features_keeps_boilerplate_evidence(resources):
    ext = extract_features(parse(SCRAPED), resources=resources)
    cats = {e["category"] for e in ext.evidence["boilerplate_lines"]}
    assert {"cookie", "related"} <= cats


_LEAD = (
    "The council met on Tuesday to discuss the new budget for the city's schools and the roads. Members said "
    "the plan would be published next month after a public consultation with residents.\n\n"
)


@pytest.mark.parametrize(
    ("ending", "cut"),
    [
        # stops mid-sentence: a teaser or a truncation
        ("The committee will meet again next week when the mayor is expected to present the figures to", True),
        ("The committee will meet again next week. The mayor is expected to present the revised figures to the", True),
        # a finished sentence followed by a wire credit, a hashtag or a photo link is not cut off
        ("More than 300 people were moved to new homes after the floods, officials said on Monday. PTI", False),
        ("The senate moved that all activities be suspended until the next legislative day. #TodayInSenate", False),
        ("The senate moved that all activities be suspended until the next legislative day.#TodayInSenate", False),
        ("The air quality index in the city right now is 218, which is poor. First Published: Tuesday, November 19", False),
        ("The captures run at thirty frames a second while the browser output aims for sixty. pic.twitter.com/4p7S", False),
        # a quote's last sentence, then who said it (and their role)
        ("\"The park belongs to everyone who walks in it, and we mean to keep it that way.\" — Ruth Calloway, the town's mayor", False),
        ("She said it best: the best time to plant a tree was twenty years ago, the second best is now. – Alun Pryce", False),
        # a line that ends on a title after a colon: a linked guide, a source
        ("Residents who want to start composting can read the council's guide: How to Compost in a Small Garden", False),
        ("You may copy this leaflet for any non-commercial use if you name the source: The Town Council of Westbury", False),
        # ... but a dash or a colon before running text is no attribution and no title
        ("The committee will meet again next week. – The mayor is expected to present the revised figures to the", True),
        ("The committee listed what it will discuss next week: the budget for the schools, the roads and the", True),
        ("Asked whether the council would change its plans for the schools, the leader of the council added: The Government", True),
        ("The next meeting will be held in the town hall in March. — Calloway, who has led the council since", True),
        ("It was the coldest night of the year in most of the county, the forecasters said. -5, which was the lowest since the", True),
        # the last item of a list written without full stops
        (
            "What the plan includes:\n\nNew classrooms for the two primary schools that were damaged in the storm\n"
            "Additional buses for the villages so that every pupil can reach school within half an hour",
            False,
        ),
        ("The committee will meet again next week.", False),
        # a code or figure line inside the article, then a short closing sentence: the article ended
        (
            "If the speed still feels too fast, change the figure to something smaller, for example 80 or 70\n"
            "The speed resets after each loading screen, so set it again every time.",
            False,
        ),
        # ... but a credit, a caption-like line without stop words or a line that ends no sentence leaves it cut
        (
            "The committee will meet again next week when the mayor is expected to present the revised figures to\n"
            "Reporting by Jane Doe; editing by John Smith and the rest of the desk.",
            True,
        ),
        (
            "The committee will meet again next week when the mayor is expected to present the revised figures to\n"
            "Mayor Ruth Calloway, Councillor Deane Hart, Treasurer Alun Pryce, Clerk Moss.",
            True,
        ),
        (
            "The committee will meet again next week when the mayor is expected to present the revised figures to\n"
            "The council said the consultation on the figures would open in the spring",
            True,
        ),
        # an excerpt cut by a feed or a blog engine, marked "[…]" or "[...]", is cut; a plain "…" is a teaser's
        ("The committee will meet again next week when the mayor is expected to present the revised figures […]", True),
        ("The committee will meet again next week when the mayor is expected to present the figures to [...]", True),
        ("The committee will meet again next week. [Read the full minutes]", False),
        ("The committee will meet again next week, the mayor said. […]", False),
        # a subheading above a truncated paragraph does not make the paragraph a list item
        (
            "How the council plans to pay for the new schools and the roads\n\nThe committee will meet again "
            "next week when the mayor is expected to present the revised figures for the schools to",
            True,
        ),
    ],
)
def test_cut_off_is_a_sentence_that_stops_not_a_credit_or_a_list(ending, cut):
    # Without a line model every long or punctuated line is content: the rule is tested, not a model's labels.
    out, _, _ = _run(_LEAD + ending, Resources(line_model=None, lexicon=EntityLexicon()))
    assert out.values["boilerplate_cut_off"] == float(cut)
    assert bool(out.evidence["cut_off"]) == cut


def test_a_prose_line_is_never_a_site_title(resources):
    """A whole article on one line (a flattened crawl record) or a dateline lead is not a title with the
    site's name, whatever the line model makes of its position; a real one still is."""
    one_line = " ".join(_LEAD.split()) + " Readers can find the full plan on Eastbrook-Gazette.com from Friday."
    out, ctx, _ = _run(one_line, resources)
    assert ctx.line_categories[0] != "title_site"
    assert out.values["boilerplate_site_title"] == 0.0
    # A flattened fixture article the line model calls a site title (from its position): its P(content) is
    # the one given that it is no site title, so the soft boilerplate share stays small.
    flattened = " ".join(next(ex.text for ex in read_jsonl(FIXTURES_DIR / "reliable_a.jsonl") if ex.id == "rel-a-007").split())
    out, ctx, _ = _run(flattened, resources)
    assert ctx.line_categories == ["content"]
    assert out.values["boilerplate_soft_char_ratio"] < 0.2
    # Flattened with a list of places and names: too few stop words to read as prose, far longer than a headline.
    venues = " ".join(f"June {d} -- Harbour Hall Arena, Port Calder, NB" for d in range(1, 25))
    listed = " ".join(_LEAD.split()) + f" Tickets go on sale at Eastbrook-Tickets.com. Tour dates: {venues}"
    out, ctx, _ = _run(listed, resources)
    assert ctx.line_categories[0] != "title_site"
    assert out.values["boilerplate_site_title"] == 0.0
    out, _, _ = _run("Council approves school budget | Eastbrook Gazette\n\n" + _LEAD, resources)
    assert out.values["boilerplate_site_title"] == 1.0
    long_title = "Council approves the new budget for the schools and the roads of the town on Tuesday"
    out, _, _ = _run(f"{long_title} | Eastbrook Gazette\n\n" + _LEAD, resources)
    assert out.values["boilerplate_site_title"] == 1.0


@pytest.mark.parametrize(
    ("token", "tag"),
    [("PTI", True), ("2019", True), ("#Plenary", True), ("pic.twitter.com/4p7S", True), ("said", False),
     ("אמר", False)],  # a word of a script without capitals is running text, not a credit
)
def test_what_may_follow_a_last_full_stop(token, tag):
    assert boilerplate._is_tag(token) is tag


# The regular expressions the string test replaces (the module used them beside it, for two checks).
_PROSE_END_RE = re.compile(r"[.!?。！？][\"'”’)\]」』）]*$")
_TERMINAL_RE = re.compile(r"[.!?…:。！？][\"'”’)\]」』）]*$")


def test_mark_at_the_end_is_the_regular_expressions_answer():
    """The string test for a line's last mark says what the regular expressions it replaces say."""
    import itertools

    chars = ".!?…:\"')]”’\na 。！」"
    texts = ["".join(p) for n in range(5) for p in itertools.product(chars, repeat=n)]
    for text in texts:
        assert boilerplate._ends_with_mark(text, boilerplate._PROSE_END_MARKS) == bool(_PROSE_END_RE.search(text))
        assert boilerplate._ends_with_mark(text, boilerplate._TERMINAL_MARKS) == bool(_TERMINAL_RE.search(text))


@pytest.mark.parametrize(
    ("line", "category", "head_lines"),
    [
        ("Published 10:42 AM EDT, Tue March 4, 2025", "meta", 0.0),
        ("Photo: Harbour Images / Pellingham Council", "caption", 0.0),
        ("Share on Facebook", "share", math.log1p(1)),
    ],
)
def test_head_lines_count_widgets_above_the_story_not_its_timestamp_or_credit(resources, line, category, head_lines):
    """A timestamp or a photo credit under the headline is reported before the article and counts in the
    shares of boilerplate, but not as a head line: that count is for what scraped pages put there."""
    title, rest = CLEAN.split("\n", 1)
    text = f"{title}\n{line}\n{rest}"
    out, _, _ = _run(text, resources)
    (hit,) = [e for e in out.evidence["boilerplate_lines"] if e["line"] == 2]
    assert (hit["category"], hit["position"]) == (category, "head")
    assert out.values["boilerplate_head_lines"] == pytest.approx(head_lines)
    assert out.values["boilerplate_char_ratio"] > 0.0


@pytest.mark.parametrize(
    ("categories", "counted"),
    [
        ([], 0),
        (["meta"], 0),
        (["meta", "caption"], 0),
        (["meta", "caption", "meta"], 1),
        (["meta"] * 7, 5),
        (["share", "meta", "author"], 1),
        (["navigation", "navigation", "title_site"], 3),
    ],
)
def test_head_line_count_frees_only_a_storys_header(categories, counted):
    """Two lines of timestamp, credit or byline are a story's header; a strip of seven "meta" widgets
    ("Print", "Save", "A A A", ...) counted 0 and let a text score 98 before this bound."""
    assert boilerplate.head_line_count(categories) == counted


@pytest.fixture(scope="module")
def shipped_resources(shipped_model_dir):
    from service.model import load_model

    return load_model(shipped_model_dir).resources


@pytest.mark.parametrize("line", ["World News", "Breaking News", "Local News"])
def test_a_line_that_names_no_site_is_no_site_title(shipped_resources, line):
    """The shipped line model takes a section's name above the headline ("World News") for a title with
    the site's name (the tiny test model does not), and the site-title signal fired on a page that has none."""
    out, _, _ = _run(f"{line}\n{CLEAN}", shipped_resources)
    (hit,) = [e for e in out.evidence["boilerplate_lines"] if e["line"] == 1]
    assert hit["category"] != "title_site"
    assert out.values["boilerplate_site_title"] == 0.0
    assert out.evidence["site_title"] == []


@pytest.mark.parametrize("line", ["World News", "Politics", "Opinion"])
@pytest.mark.parametrize("header", ["", "5 min read\nPublished 27 November 2026\n"])
def test_a_sections_name_above_the_headline_is_the_storys_metadata(shipped_resources, line, header):
    """A section's name as the first line, right above the headline, is metadata as a timestamp is: it is
    labeled so and costs no head line, not even with a header's two free lines (a read time, a date) under
    the headline. The line model's P(content) for it stays what the model said."""
    title, body = CLEAN.split("\n", 1)
    plain, _, _ = _run(f"{title}\n{header}{body}", shipped_resources)
    text = f"{line}\n{title}\n{header}{body}"
    out, _, _ = _run(text, shipped_resources)
    (hit,) = [e for e in out.evidence["boilerplate_lines"] if e["line"] == 1]
    assert hit["category"] == "meta" and hit["section"] is True
    assert out.values["boilerplate_head_lines"] == plain.values["boilerplate_head_lines"]
    doc = parse(text)
    proba, _ = shipped_resources.line_model.predict_proba_layout(
        [ln.text for ln in doc.lines], words=[ln.words for ln in doc.lines], language="en"
    )
    _, p_content, _ = boilerplate.classify_lines(doc, context=Context(resources=shipped_resources))
    # what the rule overrides: navigation, or a site title that names no site (then its probabilities
    # are those given that it is none)
    site = CLASSES.index("title_site")
    assert proba[0].argmax() in (CLASSES.index("navigation"), site)
    expected = proba[0, 0] / (1.0 - proba[0, site]) if proba[0].argmax() == site else proba[0, 0]
    assert p_content[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("line", "section"),
    [
        ("World News", True),
        ("Politics", True),
        ("Health & Science", True),
        ("World news today", False),  # a word not capitalised: a phrase, not a name
        ("Politics.", False),  # ends a sentence
        ("Politics: Latest", False),  # a title's separator
        ("World | News", False),
        ("worldnews.com", False),  # a domain
        ("News From Around The World", False),  # more than three words
    ],
)
def test_section_name(line, section):
    (ln,) = parse(line).lines
    no_keywords = np.zeros(len(boilerplate.DENSE_FEATURE_NAMES))
    assert boilerplate._section_name(ln, no_keywords) is section


def test_a_section_name_has_no_word_of_a_boilerplate_lexicon_but_the_site_titles():
    (ln,) = parse("World News").lines
    row = np.zeros(len(boilerplate.DENSE_FEATURE_NAMES))
    row[boilerplate.DENSE_FEATURE_NAMES.index("kw_title_site")] = 1.0  # "news" names sites and sections alike
    assert boilerplate._section_name(ln, row)
    row[boilerplate.DENSE_FEATURE_NAMES.index("kw_navigation")] = 1.0
    assert not boilerplate._section_name(ln, row)


@pytest.mark.parametrize(
    "page",
    [
        "Skip to content\n{clean}",  # a menu's words, not a section's name
        "Home\n{clean}",
        "Sign in\n{clean}",
        "World News\nPolitics\nBusiness\nSport\n{clean}",  # a menu: the first line is not above a headline
        "{clean}\n\nWorld News\nMore from this section",  # not the first line
    ],
)
def test_a_menu_stays_navigation_however_short_its_first_line(shipped_resources, page):
    plain, _, _ = _run(CLEAN, shipped_resources)
    out, _, _ = _run(page.format(clean=CLEAN), shipped_resources)
    assert "meta" not in {e["category"] for e in out.evidence["boilerplate_lines"]}
    if page.startswith(("Skip", "Home", "Sign", "World")):
        assert out.values["boilerplate_head_lines"] > plain.values["boilerplate_head_lines"]


@pytest.mark.parametrize(
    "title",
    [
        "Harbour wall to be rebuilt | Eastbrook Gazette",
        "Harbour wall to be rebuilt - Eastbrook Gazette",
        "eastbrook-gazette.example.com",
    ],
)
def test_a_title_with_the_sites_name_is_still_one(shipped_resources, title):
    out, _, _ = _run(f"{title}\n{CLEAN}", shipped_resources)
    assert out.values["boilerplate_site_title"] == 1.0


@pytest.mark.parametrize(
    ("line", "site_title"),
    [("World News", False), ("Politics", False), ("News | The Daily Harbor", True), ("Home - The Riverside Times", True)],
)
def test_names_no_site(line, site_title):
    (ln,) = parse(line).lines
    assert boilerplate._names_no_site(ln) is not site_title


@pytest.mark.parametrize(
    "line",
    [
        "Brands can set up shops on Instagram, Facebook, Pinterest and TikTok, letting customers browse and buy "
        "without leaving the app.",
        "Social media is no longer optional for small businesses: most customers now find local shops through "
        "Instagram or Facebook.",
        "The council shared the video on Facebook and Twitter, where it was watched more than 40,000 times by Sunday.",
    ],
)
def test_a_sentence_that_names_a_platform_is_no_share_bar(shipped_resources, line):
    """The shipped line model took prose about Instagram or Facebook for a share bar (the platform's
    name is a share bar's keyword): a share bar is a few words, not a sentence."""
    title, rest = CLEAN.split("\n", 1)
    out, _, _ = _run(f"{title}\n{rest}\n{line}\n", shipped_resources)
    n = len(parse(f"{title}\n{rest}").lines) + 1
    assert all(e["category"] != "share" for e in out.evidence["boilerplate_lines"] if e["line"] >= n)


@pytest.mark.parametrize(
    "line",
    [
        "Share on Facebook",
        "Follow us on Instagram",
        "Share this article on WhatsApp",
        "Like this story? Share it with a friend.",
        "Did you like it? Follow us on Instagram and Facebook.",
    ],
)
def test_a_share_bar_is_still_one(shipped_resources, line):
    title, rest = CLEAN.split("\n", 1)
    out, _, _ = _run(f"{title}\n{rest}\n{line}\n", shipped_resources)
    assert [e["category"] for e in out.evidence["boilerplate_lines"] if e["text"] == line] == ["share"]
