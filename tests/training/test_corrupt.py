from __future__ import annotations

import re

import pytest
from resources import CLEAN, CLEAN_TITLE, SPUN

from training import corrupt
from training.corrupt import (
    _SECTIONS,
    EXTRA_RELIABLE_KINDS,
    EXTRA_UNRELIABLE_KINDS,
    RELIABLE_KINDS,
    UNRELIABLE_KINDS,
    generate,
    load_pool,
    mangle,
    variants,
)
from training.dataset import FIXTURES_DIR, POOL_FILE
from training.document import parse
from training.linemodel import CLASSES

ALL_KINDS = RELIABLE_KINDS + UNRELIABLE_KINDS + EXTRA_UNRELIABLE_KINDS + EXTRA_RELIABLE_KINDS
# Kinds whose page has no usable line structure, so they carry no per-line labels (documented in corrupt.py).
NO_LINE_LABELS = {"flattened", "gibberish", "word_salad"}
COMMON = ("scent", "carrot", "harbour", "pellet", "trees", "voice", "tower")
ARTICLES = [("test-clean", CLEAN), ("test-spun", SPUN)]


@pytest.fixture(scope="module")
def pool():
    return load_pool(FIXTURES_DIR / POOL_FILE)


def _dump(examples):
    return [(e.id, e.text, e.label, e.tags, e.origin, e.source_id, e.line_labels) for e in examples]


def test_same_seed_same_output(pool):
    a = generate(ARTICLES, pool, seed=7, per_article=4, common_words=COMMON)
    b = generate(ARTICLES, pool, seed=7, per_article=4, common_words=COMMON)
    assert _dump(a) == _dump(b)


def test_different_seed_different_output(pool):
    a = generate(ARTICLES, pool, seed=1, per_article=4, common_words=COMMON)
    b = generate(ARTICLES, pool, seed=2, per_article=4, common_words=COMMON)
    assert _dump(a) != _dump(b)
    for kind in ("scraped", "dump", "spun"):
        ta = variants("x", CLEAN, pool, kinds=[kind], seed=1, common_words=COMMON)[0].text
        tb = variants("x", CLEAN, pool, kinds=[kind], seed=2, common_words=COMMON)[0].text
        assert ta != tb, kind


def test_generate_gives_both_benign_kinds_and_per_article_corrupted(pool):
    out = generate(ARTICLES, pool, seed=0, per_article=3, common_words=COMMON)
    for art_id, _ in ARTICLES:
        kinds = [e.tags[0] for e in out if e.source_id == art_id]
        n_benign = len(RELIABLE_KINDS)
        assert kinds[:n_benign] == list(RELIABLE_KINDS)
        drawn = kinds[n_benign:n_benign + 3]
        assert len(set(drawn)) == 3 and set(drawn) <= set(UNRELIABLE_KINDS)
        extra = kinds[n_benign + 3:]
        # each extra kind at most once, in this order
        order = list(EXTRA_UNRELIABLE_KINDS + EXTRA_RELIABLE_KINDS)
        assert extra == [k for k in order if k in extra]


def test_about_half_of_the_articles_also_give_a_short_unreliable_fragment(pool):
    from resources import CLEAN

    arts = [(f"a{i}", CLEAN) for i in range(60)]
    out = generate(arts, pool, seed=0, per_article=3, common_words=COMMON)
    frags = [e for e in out if e.tags == ["fragment"]]
    assert 18 <= len(frags) <= 42
    assert all(e.label == "unreliable" and len(e.text.split()) <= 40 for e in frags)
    # the fragment comes on top of the drawn kinds, never instead of one
    rest = [e for e in out if e.tags != ["fragment"]]
    for art_id, _ in arts[:5]:
        kinds = [e.tags[0] for e in rest if e.source_id == art_id
                 and e.tags[0] not in EXTRA_RELIABLE_KINDS + EXTRA_UNRELIABLE_KINDS]
        assert len(kinds) == len(RELIABLE_KINDS) + 3


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_kind_label_and_line_alignment(kind, seed, pool):
    (ex,) = variants("art-1", CLEAN, pool, kinds=[kind], seed=seed, common_words=COMMON)
    assert ex.label == ("reliable" if kind in RELIABLE_KINDS + EXTRA_RELIABLE_KINDS else "unreliable")
    assert ex.tags == [kind]
    assert ex.id == f"art-1~{kind}"
    assert ex.origin == f"generated:{kind}"
    assert ex.source_id == "art-1"
    doc = parse(ex.text)
    if kind in NO_LINE_LABELS:
        assert ex.line_labels is None
        return
    assert ex.line_labels is not None
    assert len(ex.line_labels) == len(doc.lines), "line_labels must align with the non-blank lines"
    assert set(ex.line_labels) <= set(CLASSES)


@pytest.mark.parametrize(
    ("kind", "must_have"),
    [
        ("scraped", {"title_site", "related", "cookie", "content"}),
        ("dump", {"navigation", "related", "legal", "cookie", "content"}),
        ("stuffed", {"spam", "content"}),
        ("reformat", {"content"}),
        ("repeated", {"content"}),
    ],
)
def test_kind_line_labels(kind, must_have, pool):
    (ex,) = variants("art-1", CLEAN, pool, kinds=[kind], seed=0, common_words=COMMON)
    assert must_have <= set(ex.line_labels)
    if kind in ("reformat", "repeated"):
        assert set(ex.line_labels) == {"content"}


def test_scraped_labels_point_at_the_right_lines(pool):
    (ex,) = variants("art-1", CLEAN, pool, kinds=["scraped"], seed=3, common_words=COMMON)
    lines = [ln.text for ln in parse(ex.text).lines]
    assert ex.line_labels[0] == "title_site"
    assert CLEAN_TITLE in lines[0] and lines[0] != CLEAN_TITLE
    article = " ".join(CLEAN.split())
    pool_lines = {" ".join(t.split()) for texts in pool.values() for t in texts}
    for text, label in zip(lines, ex.line_labels, strict=True):
        if label == "cookie":
            assert text in {" ".join(t.split()) for t in pool["cookie"]}
        elif label == "content":
            assert text in article
        elif label != "title_site":
            contact = text.startswith(("newsdesk", "editor", "Call us", "WhatsApp", "reporter"))
            assert text in pool_lines or text in _SECTIONS or contact, (label, text)


def test_light_tail_keeps_article_first(pool):
    (ex,) = variants("art-1", CLEAN, pool, kinds=["light_tail"], seed=0, common_words=COMMON)
    n_article = len(parse(CLEAN).lines)
    assert ex.line_labels[:n_article] == ["content"] * n_article
    assert all(lab != "content" for lab in ex.line_labels[n_article:])
    assert len(ex.line_labels) > n_article


def test_spun_mangles_names(pool):
    (ex,) = variants("art-1", CLEAN, pool, kinds=["spun"], seed=0, common_words=COMMON)
    assert ex.text != CLEAN
    assert set(ex.line_labels) <= {"content", "related", "comments", "share", "navigation"}


def test_truncated_is_shorter(pool):
    (ex,) = variants("art-1", CLEAN, pool, kinds=["truncated"], seed=0, common_words=COMMON)
    content = [ln for ln, lab in zip(parse(ex.text).lines, ex.line_labels, strict=True) if lab == "content"]
    assert sum(len(ln.text) for ln in content) < 0.6 * parse(CLEAN).n_chars


@pytest.mark.parametrize("word", ["Okonkwo", "Pellingham", "Zelenskyy", "Trevaskis", "abc"])
def test_mangle_changes_the_word_keeping_first_letter_case(word):
    import random

    for s in range(20):
        out = mangle(word, random.Random(s))
        assert out.lower() != word.lower()
        assert out[0].isupper() == word[0].isupper()


def test_fragments_are_headlines_alone_about_three_times_in_ten(pool):
    from resources import CLEAN

    headline = CLEAN.split("\n", 1)[0].strip()
    out = generate([(f"a{i}", CLEAN) for i in range(300)], pool, seed=0, per_article=3, common_words=COMMON)
    frags = [e for e in out if e.tags == ["fragment"]]
    content = [[ln for ln, lab in zip(parse(e.text).lines, e.line_labels or [], strict=True) if lab == "content"]
               for e in frags]
    share = sum([ln.text for ln in c] == [headline] for c in content) / len(frags)
    # The draw that decides whether an article gets a fragment must not be the fragment's own first draw
    # (it was: every fragment's first draw was then below 0.5, and 60 % of them were headlines alone).
    assert 0.2 <= share <= 0.4, share


@pytest.mark.parametrize("seed", range(6))
def test_typo_misspells_exactly_one_word_once(pool, seed):
    """A writer's slip: one word differs from the article, by one or two edits with its first letter's
    case kept; every other word is the same, in order."""
    import re

    from rapidfuzz.distance import DamerauLevenshtein

    (ex,) = variants("art-1", CLEAN, pool, kinds=["typo"], seed=seed, common_words=COMMON)
    assert ex.label == "reliable"
    before, after = re.findall(r"\w+", CLEAN), re.findall(r"\w+", ex.text)
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1
    ((original, slip),) = changed
    assert original[:1].isupper() == slip[:1].isupper()
    assert 1 <= DamerauLevenshtein.distance(original, slip) <= 2


@pytest.mark.parametrize("text", ["Harbour wall\nThe covid_lockdowns ended in 2024Parliament.", "ok", "Hi there."])
def test_typo_leaves_words_glued_to_digits_or_underscores_and_tiny_articles_whole(pool, text):
    (ex,) = variants("art-1", text, pool, kinds=["typo"], seed=0, common_words=COMMON)
    assert len(ex.text.split()) == len(text.split())


ONE_NAME_OFTEN = "\n".join([
    "Marwick council approves the new ferry timetable",
    "Councillor Tamsin Pellowe said on Monday that Marwick would keep its evening ferry.",
    "Residents of Marwick had asked for the later crossing since the spring.",
    "The operator, Brenscombe Shipping, agreed to run it until October.",
    "Harbourmaster Idris Quennell welcomed the decision at the meeting.",
    "Marwick traders expect more visitors from Polventon and Trewithick.",
    "A survey by Gorrand Research found most passengers travel after work.",
    "The timetable for Marwick starts next month, the council said.",
    "Visitors from Lanrosse will also be able to use the later crossing.",
])


def test_spun_garbles_occurrences_not_words(pool):
    """The spinner hits occurrences, not words: a name the article uses five times ("Marwick") is
    garbled in more copies than a name used once, and is usually still spelled right elsewhere
    (Jemenskyy beside Zelenskyy). Drawing words, as it did before, hit both alike."""
    import collections
    import re

    uses = collections.Counter(re.findall(r"\b[A-Z][a-z]{4,}\b", ONE_NAME_OFTEN))
    once = [w for w, c in uses.items() if c == 1]
    assert uses["Marwick"] == 5 and len(once) >= 8
    garbled: collections.Counter[str] = collections.Counter()
    kept_too = 0
    for seed in range(40):
        (ex,) = variants("art-1", ONE_NAME_OFTEN, pool, kinds=["spun"], seed=seed, common_words=COMMON)
        left = collections.Counter(re.findall(r"\b[A-Z][a-z]{4,}\b", ex.text))
        for w, c in uses.items():
            garbled[w] += left[w] < c
        kept_too += 0 < left["Marwick"] < 5
    assert garbled["Marwick"] >= 1.5 * sum(garbled[w] for w in once) / len(once)
    assert kept_too >= 20


def _forced(stream: str, value: float):
    """``corrupt._rng`` with the named stream's first draw forced to ``value`` (every other stream as it is)."""
    real = corrupt._rng

    def rng(seed, *parts):
        r = real(seed, *parts)
        if parts[-1] == stream:
            r.random = lambda: value
        return r

    return rng


ARTS = [(f"a{i}", CLEAN) for i in range(80)]
OTHER = {f"a{i}" for i in range(20)}


def _drawn_apart(pool, monkeypatch, kind: str, stream: str, articles: set[str]) -> list:
    """The ``kind`` examples of ARTS (OTHER in another language), after checking that ``stream`` alone
    decides them: forced one way then the other, exactly ``articles`` get one, or none does, and every
    other variant is the same bytes either way (and as drawn)."""
    def run() -> list:
        return generate(ARTS, pool, seed=0, per_article=3, common_words=COMMON, other_language=OTHER)

    out = run()
    mine = [e for e in out if e.tags == [kind]]
    monkeypatch.setattr(corrupt, "_rng", _forced(stream, 0.0))
    every = run()
    monkeypatch.setattr(corrupt, "_rng", _forced(stream, 1.0))
    never = run()
    assert {e.source_id for e in every if e.tags == [kind]} == articles
    assert not [e for e in never if e.tags == [kind]]
    assert _dump([e for e in every if e.tags != [kind]]) == _dump(never)
    assert _dump([e for e in out if e.tags != [kind]]) == _dump(never)
    drawn = {e.source_id for e in mine}
    assert _dump([e for e in every if e.source_id in drawn and e.tags == [kind]]) == _dump(mine)
    return mine


def test_about_a_quarter_of_english_articles_also_end_on_a_list_and_none_in_other_languages(pool, monkeypatch):
    listed = _drawn_apart(pool, monkeypatch, "list_end", "list-end-share", {a for a, _ in ARTS} - OTHER)
    assert 6 <= len(listed) <= 28
    assert all(e.label == "reliable" for e in listed)
    assert not {e.source_id for e in listed} & OTHER


def test_list_end_keeps_abbreviations_inside_their_items_and_the_headline_out_of_the_list(pool):
    text = (
        "Clinic hours change from Monday\n\n"
        "The St. Anne's clinic on Mill Lane will open longer hours from next week, the health board said.\n\n"
        "Dr. Ruth Okafor will see patients until 7 p.m. on Tuesdays. Walk-in slots start at 8 a.m. on Saturdays. "
        "Bookings open on Friday."
    )
    for seed in range(6):
        (ex,) = variants("art-2", text, pool, kinds=["list_end"], seed=seed, common_words=COMMON)
        lines = [ln for ln in ex.text.split("\n") if ln.strip()]
        assert lines[0] == "Clinic hours change from Monday"
        items = [ln.lstrip("-•* ") for ln in lines[2:]]
        assert items == ["Dr. Ruth Okafor will see patients until 7 p.m. on Tuesdays",
                         "Walk-in slots start at 8 a.m. on Saturdays", "Bookings open on Friday"]
    # a headline and a one-sentence paragraph: only the paragraph is an item; a line already an item keeps its mark
    (ex,) = variants("art-3", "Headline of the story\n\n- Bring a packed lunch.", pool, kinds=["list_end"], seed=0)
    assert [ln for ln in ex.text.split("\n") if ln.strip()] == ["Headline of the story", "- Bring a packed lunch"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_list_end_turns_the_last_paragraph_into_items_and_keeps_every_word(pool, seed):
    (ex,) = variants("art-1", CLEAN, pool, kinds=["list_end"], seed=seed, common_words=COMMON)
    lines = [ln for ln in ex.text.split("\n") if ln.strip()]
    original = [ln for ln in CLEAN.split("\n") if ln.strip()]
    assert len(lines) > len(original)  # a paragraph became several items
    assert not lines[-1].endswith(".")  # the last item stops on a word, as such lists do
    words = lambda t: [w.strip(".•*-") for w in t.split() if w.strip(".•*-")]  # noqa: E731
    assert words(ex.text) == words(CLEAN)
    assert ex.line_labels == ["content"] * len(lines)


def test_about_half_of_the_articles_also_give_a_pull_quote_in_any_language(pool, monkeypatch):
    quoted = _drawn_apart(pool, monkeypatch, "pull_quote", "pull-quote-share", {a for a, _ in ARTS})
    assert 28 <= len(quoted) <= 52
    assert all(e.label == "reliable" for e in quoted)
    assert {e.source_id for e in quoted} & OTHER  # a pull quote is no English-only thing


def _added(text: str, ex) -> list[str]:
    before = [" ".join(ln.split()) for ln in text.split("\n") if ln.strip()]
    return [ln for ln in ex.text.split("\n") if ln.strip() and ln not in before]


@pytest.mark.parametrize("seed", range(8))
def test_pull_quote_repeats_one_sentence_as_a_line_of_its_own_after_its_paragraph(pool, seed):
    (ex,) = variants("art-1", CLEAN, pool, kinds=["pull_quote"], seed=seed, common_words=COMMON)
    lines = [ln for ln in ex.text.split("\n") if ln.strip()]
    original = [" ".join(ln.split()) for ln in CLEAN.split("\n") if ln.strip()]
    assert ex.line_labels == ["content"] * len(lines)
    assert len(lines) == len(original) + 1
    (at,) = [i for i in range(len(lines)) if lines[:i] + lines[i + 1:] == original]  # one line added, all else kept
    quote = lines[at].strip('"“”')
    assert 8 <= len(quote.split()) <= 40
    sources = [i for i, para in enumerate(original) if quote in para]
    assert sources and sources[0] != 0, "a sentence of the body, never the headline"
    # a few paragraphs after its paragraph, or just before it when that paragraph is the last
    assert 1 <= at - sources[0] <= 3 or (sources[0] == len(original) - 1 and at == sources[0])


def test_pull_quote_lands_one_to_three_paragraphs_on_or_before_the_last(pool):
    filler = "A short line of the story. It says little."
    paras = [f"Paragraph {k} begins here. This is the sentence of paragraph number {k} worth quoting." for k in range(10)]
    offsets = set()
    for seed in range(40):
        body = [filler] * 3 + [paras[0]] + [filler] * 6  # one quotable sentence, in the fourth paragraph
        text = "Headline of the story\n\n" + "\n\n".join(body)
        (ex,) = variants("art-4", text, pool, kinds=["pull_quote"], seed=seed)
        lines = [ln for ln in ex.text.split("\n") if ln.strip()]
        (at,) = [i for i, ln in enumerate(lines) if "worth quoting" in ln and ln.strip('"“”') != paras[0]]
        offsets.add(at - 4)  # the headline is line 0, the quoted paragraph line 4
    assert offsets == {1, 2, 3}
    last = "Headline of the story\n\n" + "\n\n".join([filler] * 3 + [paras[1]])
    for seed in range(6):
        (ex,) = variants("art-5", last, pool, kinds=["pull_quote"], seed=seed)
        lines = [ln for ln in ex.text.split("\n") if ln.strip()]
        assert lines[-1] == paras[1] and "worth quoting" in lines[-2]  # just before the last paragraph


@pytest.mark.parametrize(
    "paragraph, wanted",
    [
        # a quotation inside the sentence: set as it is, never in a second pair of marks
        ("The mayor spoke. The mayor called the plan “a waste of time and of the city's money to the end.”",
         "The mayor called the plan “a waste of time and of the city's money to the end.”"),
        ("« Nous voulons juste pouvoir continuer à vivre de notre métier », a dit le maire. Il est parti.",
         "« Nous voulons juste pouvoir continuer à vivre de notre métier », a dit le maire."),
        ("The mayor spoke. ‘We will rebuild the bridge within two years of the flood,’ the mayor said.",
         "‘We will rebuild the bridge within two years of the flood,’ the mayor said."),
        # no split inside a sentence at a quotation's end, nor after an abbreviation behind an opening mark
        ("We left. “Are we there yet?” asked the child from the back of the car on the long way home.",
         "“Are we there yet?” asked the child from the back of the car on the long way home."),
        ("They met today. “Mr. Lee was not told about the plan before the vote,” a spokesman said.",
         "“Mr. Lee was not told about the plan before the vote,” a spokesman said."),
        # a sentence without marks is set bare, in “” or in ""
        ("They met today. The council will vote on the new flood barrier plan next week.",
         "The council will vote on the new flood barrier plan next week."),
    ],
)
def test_pull_quote_takes_whole_sentences_and_never_doubles_or_splits_their_marks(pool, paragraph, wanted):
    text = f"Flood barrier opens\n\n{paragraph}\n\nThird.\n\nFourth."
    seen = set()
    for seed in range(12):
        (ex,) = variants("art-2", text, pool, kinds=["pull_quote"], seed=seed)
        (added,) = _added(text, ex)
        seen.add(added)
    marks = "“”‘\"«»"
    if any(c in wanted for c in marks):
        assert seen == {wanted}
    else:
        assert seen == {wanted, f"“{wanted}”", f'"{wanted}"'}


@pytest.mark.parametrize(
    "paragraph",
    [
        # one sentence of a quotation that runs on into the next: either half alone has one mark
        "“We will rebuild the bridge within two years of the flood. Nobody will be left behind by this council,” she said.",
        # table rows and list items end on no sentence mark
        "Pos Team P W D L GF GA GD Pts Scarthwaite Athletic 14 10 3 1 33",
        # sentences too short
        "Tickets stay valid. No change on Sundays.",
    ],
)
def test_pull_quote_leaves_an_article_without_a_whole_quotable_sentence_alone(pool, paragraph):
    text = f"Ferry timetable changes\n\n{paragraph}\n\nThe bar stays open late."
    for seed in range(6):
        (ex,) = variants("art-3", text, pool, kinds=["pull_quote"], seed=seed)
        assert _added(text, ex) == []
        assert [ln for ln in ex.text.split("\n") if ln.strip()] == [ln for ln in text.split("\n") if ln.strip()]


def test_every_fixture_pull_quote_is_a_whole_sentence_with_balanced_marks():
    from training.dataset import builtin_examples

    examples = builtin_examples(seed=0)
    originals = {e.id: e.text for e in examples if not e.origin.startswith("generated")}
    quoted = [e for e in examples if e.tags == ["pull_quote"]]
    assert len(quoted) >= 60
    for e in quoted:
        for line in _added(originals[e.source_id], e):
            assert line.rstrip("\"”’»)").endswith((".", "!", "?", "…")), line
            assert line.count("“") == line.count("”") and line.count('"') % 2 == 0, line
            assert not line.startswith(("““", '“"', '"“', '""', "“‘", '"‘', "“«", '"«')), line


def test_about_a_fifth_of_articles_also_give_gibberish_in_any_language(pool, monkeypatch):
    made_up = _drawn_apart(pool, monkeypatch, "gibberish", "gibberish-share", {a for a, _ in ARTS})
    assert 2 <= len(made_up) <= len(ARTS) // 2
    for e in made_up:
        assert e.label == "unreliable" and e.line_labels is None  # no lesson for the line model
        original = dict(ARTS)[e.source_id]
        assert len(e.text.split("\n")) >= 1 and e.text != original
        assert len(re.findall(r"\d", e.text)) == len(re.findall(r"\d", original))  # numbers and layout stay


def test_about_a_fifth_of_english_articles_also_give_word_salad_and_none_in_other_languages(pool, monkeypatch):
    salads = _drawn_apart(pool, monkeypatch, "word_salad", "word-salad-share", {a for a, _ in ARTS} - OTHER)
    assert 2 <= len(salads) <= len(ARTS) // 2
    for e in salads:
        assert e.label == "unreliable" and e.line_labels is None
        original = dict(ARTS)[e.source_id]

        def bag(text, skip_head):
            lines = [ln for ln in text.split("\n") if ln.strip()]
            words = [w.strip(".,;:!?\"'“”‘’()").lower() for ln in lines[skip_head:] for w in ln.split()]
            return sorted(w for w in words if w)

        # the same words as the article's body, in another order, in sentences that end with a full stop
        head = 1 if corrupt._split(corrupt._lines(original))[0] else 0
        assert bag(e.text, head) == bag(original, head)
        assert e.text.split("\n")[0] == corrupt._lines(original)[0] or not head
        assert all(ln.endswith(".") for ln in e.text.split("\n")[head:] if ln.strip())
