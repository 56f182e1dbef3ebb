from __future__ import annotations

import pytest
from resources import CLEAN, CLEAN_TITLE, EMPTY_TEXTS, NUMBERED

from training.document import EmptyDocumentError, normalise, parse, split_sentences


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
    assert doc.lines[0].number == 1
    assert doc.lines[1].text == "The body starts here."
    assert doc.paragraphs[0] == "A Headline"


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
    # NFC: a decomposed e + combining acute becomes one code point
    assert normalise("e\u0301") == "\u00e9"


def test_split_sentences_needs_capital_after_stop():
    assert split_sentences("He said no. then left. Then came back.") == [
        "He said no. then left.",
        "Then came back.",
    ]
