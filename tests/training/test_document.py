from __future__ import annotations

import textwrap

import pytest
from resources import CLEAN, CLEAN_TITLE, EMPTY_TEXTS, GERMAN, JAPANESE, NUMBERED

from training.document import (
    WORD_RE,
    EmptyDocumentError,
    _looks_like_markdown,
    normalise,
    parse,
    split_sentences,
)


def test_line_numbers_are_one_based_and_skip_blank_lines():
    doc = parse(NUMBERED)
    assert [ln.number for ln in doc.lines] == [1, 3, 5]
    assert [ln.text for ln in doc.lines] == ["First line here.", "Third line here.", "Fifth line here."]


@pytest.mark.parametrize(
    ("text", "numbers", "texts"),
    [
        ("a line\r\nsecond\r\n\r\nfourth", [1, 2, 4], ["a line", "second", "fourth"]),
        ("old mac\rstyle\r\rend", [1, 2, 4], ["old mac", "style", "end"]),
        ("mixed\r\nends\nhere\r", [1, 2, 3], ["mixed", "ends", "here"]),
    ],
    ids=["crlf", "cr", "mixed"],
)
def test_line_endings_are_unified(text, numbers, texts):
    doc = parse(text)
    assert [ln.number for ln in doc.lines] == numbers
    assert [ln.text for ln in doc.lines] == texts
    assert "\r" not in doc.text


def test_whitespace_inside_a_line_is_collapsed():
    doc = parse("  spaced\t\tout \u00a0 words  ")
    assert doc.lines[0].text == "spaced out words"
    assert doc.lines[0].words == ("spaced", "out", "words")


def test_title_is_prepended_as_first_line():
    doc = parse("The body starts here.\nAnd goes on.", title="  A Headline  ")
    assert doc.title == "A Headline"
    assert doc.lines[0].text == "A Headline"
    # numbers index doc.text, title and blank line included; title_lines says how many were put above
    assert [ln.number for ln in doc.lines] == [1, 3, 4] and doc.title_lines == 2
    assert doc.text.split("\n")[doc.lines[1].number - 1] == "The body starts here."
    assert doc.paragraphs[0] == "A Headline"


@pytest.mark.parametrize("title", [
    "T",  # only a prefix of the first word
    "Hello",  # another headline: the text starts with a headline of its own, a second is not put above it
    "Harbour reopens | Coast Times",
    "harbour REOPENS",
])
def test_a_title_is_not_added_above_the_texts_own_headline(title):
    doc = parse("Harbour reopens\n\nThe harbour reopened on Monday after repairs.", title=title)
    assert [(ln.number, ln.text) for ln in doc.lines] == [
        (1, "Harbour reopens"), (3, "The harbour reopened on Monday after repairs.")]
    assert doc.title_lines == 0


def test_a_title_that_is_only_a_prefix_of_the_first_sentence_is_added():
    doc = parse("Trump met the press on Monday. He spoke for an hour.", title="T")
    assert [ln.text for ln in doc.lines][:1] == ["T"]
    assert doc.title_lines == 2


def test_title_already_at_the_start_is_not_repeated():
    doc = parse(CLEAN, title=CLEAN_TITLE)
    assert [ln.text for ln in doc.lines].count(CLEAN_TITLE) == 1
    assert doc.lines[0].text == CLEAN_TITLE


def test_blank_title_is_ignored():
    doc = parse("Body only.", title="   ")
    assert doc.title is None
    assert [ln.text for ln in doc.lines] == ["Body only."]


@pytest.mark.parametrize("text", EMPTY_TEXTS, ids=repr)
def test_empty_or_whitespace_raises(text):
    with pytest.raises(EmptyDocumentError):
        parse(text)


def test_control_characters_only_raise():
    with pytest.raises(EmptyDocumentError):
        parse("\x00\x01\x02\x7f\n\x0b")


def test_non_string_is_a_type_error():
    with pytest.raises(TypeError):
        parse(b"bytes are not text")  # type: ignore[arg-type]


def test_words_keep_inner_apostrophes_and_hyphens_and_drop_digits():
    doc = parse("Don't stop the Russia-Ukraine talks in 2024, O’Neill said.")
    assert doc.words == ["Don't", "stop", "the", "Russia-Ukraine", "talks", "in", "O’Neill", "said"]
    assert doc.n_words == 8


def test_paragraphs_and_sentences():
    doc = parse("First para line one.\nline two.\n\nSecond para. It has two sentences!")
    assert doc.paragraphs == ["First para line one. line two.", "Second para. It has two sentences!"]
    assert doc.sentences == ["First para line one.", "line two.", "Second para.", "It has two sentences!"]


def test_n_chars_counts_line_text_only():
    doc = parse("ab\n\n  cd  ")
    assert doc.n_chars == 4


def test_normalise_removes_controls_and_unifies():
    assert normalise("a\u00a0b\x00c\r\nd\u2028e") == "a bc\nd\ne"
    # a vertical tab breaks a line and a form feed a page: neither glues the words around it together
    assert normalise("Headline here\x0bstill\x0cnext page") == "Headline here\nstill\n\nnext page"
    # NFC: a decomposed e + combining acute becomes one code point
    assert normalise("e\u0301") == "\u00e9"


def test_split_sentences_needs_capital_after_stop():
    assert split_sentences("He said no. then left. Then came back.") == [
        "He said no. then left.",
        "Then came back.",
    ]


# --- hard-wrapped text ----------------------------------------------------------------------------
# Text converters (html2text, lynx, e-mail) break paragraphs at a fixed width; a wrap is not a line.


def _wrapped(text: str, width: int) -> str:
    import textwrap

    return "\n\n".join(textwrap.fill(p, width) for p in text.split("\n") if p.strip())


@pytest.mark.parametrize("width", [60, 72, 80, 100])
def test_a_hard_wrapped_article_is_parsed_like_the_article(width):
    plain, wrapped = parse(_wrapped(CLEAN, 10_000)), parse(_wrapped(CLEAN, width))
    assert [ln.span for ln in plain.lines] == [1] * len(plain.lines)
    assert any(ln.span > 1 for ln in wrapped.lines)
    assert wrapped.words == plain.words
    assert " ".join(ln.text for ln in wrapped.lines) == " ".join(ln.text for ln in plain.lines)
    # every line break left is one the text had, or a wrap after a full stop (a new paragraph
    # cannot be told from it, and splitting there splits nothing)
    plain_lines = {ln.text for ln in plain.lines}
    assert all(ln.text in plain_lines or ln.text.rstrip("\"”’)").endswith((".", "!", "?")) for ln in wrapped.lines)
    assert len(wrapped.lines) < 2 * len(plain.lines)
    assert wrapped.sentences == plain.sentences, "a wrap is no sentence boundary"
    # a joined line is numbered by the first line of the text it covers, and covers them all
    physical = [i + 1 for i, raw in enumerate(wrapped.text.split("\n")) if raw.strip()]
    covered = [ln.number + k for ln in wrapped.lines for k in range(ln.span)]
    assert covered == physical


def test_a_wrapped_markdown_list_item_is_joined_with_its_indented_rest():
    item = (
        "* The council approved the budget for the new library on Tuesday after a long\n"
        "  debate about the cost of the building and the hours it would open to the public\n"
        "* A second item that is short\n"
    )
    text = _wrapped(CLEAN, 72) + "\n\n" + item
    lines = [ln.text for ln in parse(text).lines]
    assert lines[-2].startswith("* The council approved") and lines[-2].endswith("open to the public")
    assert lines[-1] == "* A second item that is short"


@pytest.mark.parametrize("marker", ["## ", "> ", "> > "])
def test_a_wrapped_heading_or_quote_that_repeats_its_marker_is_one_line(marker):
    """Converters wrap a long markdown heading or quote by repeating its marker on every line
    ("## ... at the tech" / "## giant."): one heading, not a line "giant." the line model reads alone."""
    head = textwrap.fill(
        "The harbour authority said on Tuesday that the new ferry terminal would open in the spring, "
        "two years later than planned and well over the budget the council had set for the whole port.",
        72, initial_indent=marker, subsequent_indent=marker,
    )
    assert head.count("\n") >= 2
    text = _wrapped(CLEAN, 72) + "\n\n" + head + "\n\n" + _wrapped(CLEAN, 72)
    lines = [ln.text for ln in parse(text).lines]
    joined = [ln for ln in lines if ln.startswith("The harbour authority")]
    assert joined == ["The harbour authority said on Tuesday that the new ferry terminal would open in the spring, "
                      "two years later than planned and well over the budget the council had set for the whole port."]
    assert not any(ln.startswith(("#", ">")) or "## " in ln or " > " in ln for ln in lines)


def test_two_headings_in_a_row_stay_two_lines():
    text = _wrapped(CLEAN, 72) + "\n\n## The harbour\n## budget and the port\n\n" + _wrapped(CLEAN, 72)
    lines = [ln.text for ln in parse(text).lines]
    assert "The harbour" in lines and "budget and the port" in lines


@pytest.mark.parametrize(
    "text",
    [
        # one sentence per line, lines of similar length
        "The council met on Tuesday to discuss the new budget for the library.\n"
        "Members agreed to spend more on books and less on the new building works.\n"
        "The mayor said the decision would be reviewed again in the spring session.\n"
        "Residents will be able to comment on the plans at a meeting next month.\n",
        # a navigation list
        "Home News Sport Business Culture Weather Travel Opinion Podcasts Video\n"
        "Politics Economy Technology Science Health Education Environment World UK\n"
        "Sign in Register Subscribe Newsletters Contact us Advertise with us Jobs\n"
        "About us Privacy policy Cookie settings Terms of use Accessibility Help\n",
        # code
        "def load(path):\n    with open(path) as handle:\n        return handle.read()\n"
        "# read the settings file and return its text to the caller for parsing\n"
        "settings = load('settings.toml') if exists('settings.toml') else default\n",
        # URLs
        "https://www.example.com/news/2024/council-approves-library-budget-after-debate\n"
        "https://www.example.com/news/2024/mayor-says-decision-will-be-reviewed-in-spring\n"
        "https://www.example.com/news/2024/residents-invited-to-comment-on-the-new-plans\n"
        "https://www.example.com/news/2024/library-opening-hours-to-be-extended-next-year\n",
    ],
    ids=["sentence-per-line", "navigation", "code", "urls"],
)
def test_lines_that_are_not_wrapped_prose_stay_apart(text):
    doc = parse(text)
    assert [ln.span for ln in doc.lines] == [1] * len(doc.lines)
    assert [ln.text for ln in doc.lines] == [" ".join(raw.split()) for raw in text.split("\n") if raw.strip()]


# --- markdown ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("# Pellingham opens its flood barrier", "Pellingham opens its flood barrier"),
        ("### Subhead ###", "Subhead ###"),
        ("The [county council](https://example.com/council \"Council\") paid.", "The county council paid."),
        ("![The new gates at high tide](https://example.com/gates.jpg)", "The new gates at high tide"),
        ("**Update:** the gates closed in __eleven__ minutes.", "Update: the gates closed in eleven minutes."),
        ("> \"We have waited a long time,\" she said.", "\"We have waited a long time,\" she said."),
        ("* [Council approves budget][3]", "* Council approves budget"),
        ("snake_case and 2*3*4 stay", "snake_case and 2*3*4 stay"),
    ],
)
def test_markdown_syntax_is_taken_out_and_the_words_stay(line, text):
    doc = parse(f"# A title\n\n{line}\n\n---\n\n```\n")
    assert [ln.text for ln in doc.lines] == ["A title", text]
    assert [ln.number for ln in doc.lines] == [1, 3]


def test_a_plain_text_is_not_read_as_markdown():
    text = "Prices rose 3*4 per cent [sic] (see above).\n\n--\nThe end * of it."
    assert [ln.text for ln in parse(text).lines] == ["Prices rose 3*4 per cent [sic] (see above).", "--", "The end * of it."]


def test_a_text_of_markdown_syntax_alone_is_read_as_written():
    assert [ln.text for ln in parse("```\n---").lines] == ["```", "---"]


def test_markdown_sentences_hold_no_syntax():
    doc = parse("# A title\n\nThe **council** met on [Tuesday](https://example.com/t). It agreed.")
    assert doc.sentences == ["A title", "The council met on Tuesday.", "It agreed."]


def test_a_wrap_before_a_guillemet_is_a_wrap():
    text = _wrapped(
        "Депутаты Верхнеозёрска не смогли договориться о продаже бывшей фабрики «Заря» на окраине города\n"
        + "Городская дума во вторник так и не приняла решение о продаже здания, которое пустует уже восемь лет. "
        * 3,
        60,
    )
    lines = [ln.text for ln in parse(text).lines]
    assert lines[0].endswith("«Заря» на окраине города"), lines


def test_reference_style_links_alone_mark_a_text_as_markdown():
    """Converters like dom_smoothie write links by reference only: the link text stays, its brackets go;
    the definition lines stay (they are in the text a user keeps, and they are not article)."""
    text = (
        "The company [shelved its plans][1] for a public offering.\n\nNeumann had [resigned as CEO][2] a week before."
        "\n\n[1]: https://example.com/a\n[2]: https://example.com/b"
    )
    assert [ln.text for ln in parse(text).lines] == [
        "The company shelved its plans for a public offering.",
        "Neumann had resigned as CEO a week before.",
        "[1]: https://example.com/a",
        "[2]: https://example.com/b",
    ]
    # Citation markers are not links: without a definition line the text is not markdown.
    cited = "The bridge was approved in 2019.[1][2] Critics said the cost of matrix[0][1] rose."
    assert not _looks_like_markdown(cited)
    assert [ln.text for ln in parse(cited).lines] == [cited]


def test_invisible_format_characters_are_removed_and_joiners_kept():
    # word joiner, BOM and soft hyphen are dropped, a zero-width space is a space; ZWJ/ZWNJ carry meaning
    assert normalise("\ufeffinfor\u00admation is\u2060 here") == "information is here"
    assert normalise("Jose\u00ad\u0301") == "Jos\u00e9"  # removed before NFC composes the accent
    assert parse("\u0e20\u0e32\u0e29\u0e32\u200b\u0e44\u0e17\u0e22").n_words == 2  # Thai words stay apart
    assert normalise("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 👩\u200d💻") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 👩\u200d💻"
    )


def test_lines_holding_only_zero_width_spaces_are_blank():
    doc = parse("The first paragraph ends here.\n\u200b\n\u200b \u200b\nThe second one starts here.")
    assert [ln.text for ln in doc.lines] == ["The first paragraph ends here.", "The second one starts here."]
    assert [ln.number for ln in doc.lines] == [1, 4]
    with pytest.raises(EmptyDocumentError):
        parse("\u200b\n\ufeff\u2060\n")


def test_a_wrap_before_a_markdown_link_or_emphasis_is_a_wrap_and_a_definition_line_is_not():
    text = (
        "The column is written by a team of three and was founded by the paper in 1956. Write to\n"
        "[the advice desk][1] or to the postal address printed below, and the team will answer\n"
        "*some of the letters* in print and others by post when the writers give an address.\n\n"
        "The second paragraph is here and it is also wrapped at a fixed width so that the\n"
        "lines break in the middle of its sentences, as converters write plain text for a\n"
        "reader who uses a terminal and not a browser to read the news of the day.\n"
        "[1]: https://example.com/advice\n"
    )
    lines = [ln.text for ln in parse(text).lines]
    assert lines[0].startswith("The column is written") and lines[0].endswith("when the writers give an address.")
    assert "Write to the advice desk or" in lines[0]
    assert lines[-1] == "[1]: https://example.com/advice"


@pytest.mark.parametrize(
    ("line", "joined"),
    [
        ("[the advice desk][1] or to the address below", True),
        ("[the advice desk](https://example.com/desk) or to the address below", True),
        ("*some of the letters* in print and others by post", True),
        ("**bold words** and more of the sentence", True),
        ("[Photo: the new bridge on Monday morning]", False),  # a caption in brackets
        ("[1] Smith, J. (2019) A study of bridges", False),  # a reference list
        ("[1]: https://example.com/advice", False),  # a reference's definition
        ("***", False),  # a rule
        ("* a list item of the text", False),
    ],
)
def test_what_may_continue_a_wrapped_line_after_markdown(line, joined):
    from training.document import _continues

    prev = "the lines break in the middle of its sentences, as converters write plain text for a"
    assert _continues(prev, line, False) is joined


@pytest.mark.parametrize("text", [
    "By Jane Smith\n\nThe harbour reopened on Monday after repairs.",
    "March 3, 2024\n\nThe harbour reopened on Monday after repairs.",
    "Photo: Getty Images\n\nThe harbour reopened on Monday after repairs.",
    'The harbour reopened on Monday, the mayor said: "at last."\n\nMore followed.',
    "The harbour reopened on Monday after three weeks of\nrepairs that cost the town more than it had planned.",
    "港は月曜日に再開した。修理には三週間かかった。",
])
def test_a_title_is_added_above_a_byline_a_date_a_sentence_or_a_wrapped_paragraph(text):
    doc = parse(text, title="Harbour reopens")
    assert doc.lines[0].text == "Harbour reopens" and doc.title_lines == 2


def test_markdown_spans_are_bounded():
    """A link's text holds no "[" and a bold span is at most 300 characters, so that no run is tried from
    every "[" or "**" of a long line to its end (100,000 "[" took minutes); ordinary markdown is unchanged."""
    from training.document import _plain

    assert _plain("Read **the report** and [the summary](https://x.org/s) or ![a chart](c.png).") == (
        "Read the report and the summary or a chart."
    )
    assert _plain("[a [b](https://x.org)") == "[a b"
    long_bold = "**" + "word " * 70 + "end**"  # 355 characters between the marks
    assert _plain(long_bold) == " ".join(long_bold.split())


def test_chinese_and_japanese_characters_are_a_word_each_and_other_words_stay_whole():
    doc = parse("東京の天気は晴れ。Windows 11 and don't 北京")
    assert doc.lines[0].words == ("東", "京", "の", "天", "気", "は", "晴", "れ", "Windows", "and", "don't", "北", "京")
    # a sentence of theirs is as many words long as its characters, not one "word" between two marks
    assert parse(JAPANESE).n_words >= 250


@pytest.mark.parametrize("text", [CLEAN, GERMAN, "Ελληνικά και русский текст, 한국어 문장도 있다."])
def test_texts_without_chinese_or_japanese_keep_the_word_patterns_words(text):
    doc = parse(text)
    assert [w for ln in doc.lines for w in ln.words] == [w for ln in doc.lines for w in WORD_RE.findall(ln.text)]


def test_kana_marks_that_are_no_letters_do_not_make_a_text_japanese():
    # the middle dot is a separator (ドナルド・トランプ is 8 words, not 9), and kaomoji use it too
    assert parse("ドナルド・トランプ").n_words == 8
    assert parse("Great news (´・ω・`) today, Pellingham・residents").lines[0].words == \
        ("Great", "news", "ω", "today", "Pellingham", "residents")
