from __future__ import annotations

import math

import pytest
from resources import CLEAN, GERMAN, SCRAPED, SPUN, SPUN_MANGLED

from training.document import parse
from training.features import Context, Resources, entities, language


def _run(text, resources, *, detect_language=True):
    doc = parse(text)
    ctx = Context(resources=resources)
    if detect_language:
        language.extract(doc, context=ctx)
    return entities.extract(doc, context=ctx), doc


def _resources_with(tiny_resources, names):
    """The tiny model's line model with a lexicon of exactly ``names``."""
    from training.vocabulary import EntityLexicon

    lex = EntityLexicon()
    lex.extend(names)
    return Resources(line_model=tiny_resources.line_model, lexicon=lex)


def test_spun_mangled_names_are_found_with_intended_spelling(resources):
    out, doc = _run(SPUN, resources)
    found = {f["found"]: f for f in out.evidence["misspellings"]}
    assert {k: f["intended"] for k, f in found.items()} == SPUN_MANGLED
    for word, f in found.items():
        assert f["source"] == "document"
        assert f["count"] == 1
        assert 1 <= f["distance"] <= 2
        line_text = next(ln.text for ln in doc.lines if ln.number == f["line"])
        assert word in line_text, (word, line_text)
    assert out.values["entity_misspelled_log_count"] == pytest.approx(math.log1p(len(SPUN_MANGLED)))
    assert out.values["entity_misspelled_per_1k"] == pytest.approx(
        1000.0 * len(SPUN_MANGLED) / max(doc.n_words, 50)
    )


def test_evidence_is_sorted_by_line(resources):
    out, _ = _run(SPUN, resources)
    keys = [(f["line"], f["found"]) for f in out.evidence["misspellings"]]
    assert keys == sorted(keys)


@pytest.mark.parametrize(("name", "text"), [("clean", CLEAN), ("scraped", SCRAPED)])
def test_clean_texts_flag_nothing(name, text, resources):
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []
    assert out.evidence["name_slots"] == []
    assert out.values["entity_misspelled_per_1k"] == 0.0
    assert out.values["entity_misspelled_log_count"] == 0.0
    assert out.values["entity_name_slot_per_1k"] == 0.0
    assert 0.0 <= out.values["entity_oov_rate"] < 0.1


def test_rare_names_spelled_consistently_are_not_flagged(resources):
    text = (
        "Councillor Quillfeather opened the new school in Drumtarvie on Monday.\n"
        "Quillfeather said Drumtarvie had waited years for the building.\n"
        "Parents in Drumtarvie thanked Quillfeather and the builders.\n"
    )
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []
    assert out.values["entity_oov_rate"] > 0.0  # they are unknown words, just not suspicious ones


def test_rare_name_near_a_known_name_in_the_same_text_is_flagged(resources):
    text = (
        "The mayor of Drumtarvie, Morag Quillfeather, spoke on Monday about the harbour.\n"
        "Quillfeather said the town would repair the pier before the winter.\n"
        "Residents asked Quilfeather whether the money would last.\n"
    )
    out, _ = _run(text, resources)
    assert [(f["found"], f["intended"]) for f in out.evidence["misspellings"]] == [
        ("Quilfeather", "Quillfeather")
    ]


def test_a_misspelling_in_a_hard_wrapped_paragraph_gives_its_own_line(resources):
    """A hard-wrapped paragraph is one parsed line over several of the text's lines: the evidence names
    the text's line where the word is written, not the paragraph's first."""
    import textwrap

    para = (
        "The mayor of Drumtarvie, Morag Quillfeather, spoke on Monday about the harbour and the money "
        "the council had set aside for it. Quillfeather said the town would repair the pier before the "
        "winter storms, and that the work would start in the spring. Residents at the meeting asked "
        "Quilfeather whether the money would last until the harbour wall was finished as well."
    )
    text = "Harbour repairs\n\n" + "\n".join(textwrap.wrap(para, 60)) + "\n\nThe meeting ended at nine.\n"
    out, doc = _run(text, resources)
    assert [ln.span for ln in doc.lines] == [1, 7, 1]
    [hit] = out.evidence["misspellings"]
    assert (hit["found"], hit["line"]) == ("Quilfeather", 7)
    assert "Quilfeather" in text.split("\n")[hit["line"] - 1]


def test_lexicon_supplies_the_intended_spelling(resources):
    res = _resources_with(resources, ["Tomasz Wierzbicki"])
    text = (
        "The finance minister, Wierzbicky, told parliament on Tuesday that the budget would be "
        "balanced by the end of the decade.\n"
    )
    out, _ = _run(text, res)
    hits = [(f["found"], f["intended"], f["source"]) for f in out.evidence["misspellings"]]
    assert hits == [("Wierzbicky", "Wierzbicki", "lexicon")]


def test_a_name_that_reads_as_two_words_is_still_a_misspelled_name(resources):
    """"Starmar" reads as "star" + "mar", two frequent words run together, the shape of a brand
    ("Workfront"); but it is one letter from a name the lexicon knows. A compound near no such name
    ("Notebank") is still left alone, and the compound is never taken for a misspelled common word."""
    res = _resources_with(resources, ["Keir Starmer", "Mark Rutte"])
    text = (
        "Prime Minister Keir Starmar said on Tuesday that the Notebank app and the Workfront tools would "
        "be reviewed by the cabinet before the end of the year.\n"
    )
    out, _ = _run(text, res)
    hits = [(f["found"], f["intended"], f["source"]) for f in out.evidence["misspellings"]]
    assert hits == [("Starmar", "Starmer", "lexicon")]


def test_garbled_common_word_is_found_from_the_vocabulary(resources):
    text = "The goverrnment announced the new measures on Thursday after a long meeting of ministers.\n"
    out, _ = _run(text, resources)
    hits = [(f["found"], f["intended"], f["source"]) for f in out.evidence["misspellings"]]
    assert hits == [("goverrnment", "government", "vocabulary")]


@pytest.mark.parametrize(
    "token",
    ["iSpring", "PartnerRe", "DOCN", "PKIs", "Notebank", "Workfront", "Kristrún"],
)
def test_acronyms_products_compounds_and_other_scripts_are_not_misspellings(token, resources):
    """Near a known word ("SwiftUI" ~ Swift, "DOCN" ~ Doch, "Notebank" ~ Notebook), but a spinner or a
    typo does not write a capital after the first letter, two frequent words run together, or a word of
    another script: products, acronyms and coinages in real articles are no evidence of a spun copy."""
    text = (
        f"The company said on Tuesday that {token} would be part of the new plan for the schools in the "
        "county, and the council agreed to pay for it over the next three years.\n"
    )
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []


def test_a_plural_of_a_known_word_is_not_a_misspelling(resources):
    # "Kazakhstans" (an apostrophe left out), "Tuesdays", "dicts": a known word with its "s", not a misspelling.
    text = (
        "Kazakhstans new budget was approved on Monday. The museum lent two paintings of Kazakhstan, and the "
        "programmers said their dicts of settings would be checked before the release next spring.\n"
    )
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []


@pytest.mark.parametrize(
    ("word", "derived"),
    [
        ("retiling", True),  # re + tiling
        ("unmodelled", True),  # un + modelled
        ("hammockers", True),  # hammock + ers
        ("canoers", True),  # canoe + (e)rs
        ("backspacing", True),  # backspace without its e + ing
        ("zipping", True),  # zip, its consonant doubled
        ("burliest", True),  # burly, its y turned i
        ("tokenizer", True),  # token + izer
        ("reportting", False),  # a doubled letter in a long stem is a typo, not English's doubling
        ("riking", False),  # "rik" is too short a stem to be sure of
        ("Worly", False),
        ("atterition", False),  # a spinner's edits leave no known word beside an affix
        ("resefire", False),
        ("tomowawks", False),
        ("jemenskyy", False),
    ],
)
def test_derived_words_are_told_from_garbled_ones(word, derived, resources):
    assert entities._derived(word.lower(), resources.vocabulary.zipf.get) is derived


def test_a_word_derived_from_a_known_one_is_not_a_misspelling(resources):
    """Writers coin words with English's affixes ("retiling", "hammockers", "tokenizer"): each is a
    letter or two from a common word, but no spinner's trace. A typo in the same text still is."""
    text = (
        "The crew finished retiling the bathroom on Friday, and the hammockers camped by the lake while the "
        "tokenizer was rewritten by the team. The goverrnment said the plan would be checked next spring.\n"
    )
    out, _ = _run(text, resources)
    assert [m["found"] for m in out.evidence["misspellings"]] == ["goverrnment"]


def test_a_rare_word_in_the_singular_beside_its_plural_is_not_a_misspelling(resources):
    text = (
        "Xenobots are tiny living machines built from frog cells, the researchers said on Tuesday. "
        "Each xenobot can move on its own, and Xenobots in groups can gather loose cells into piles. "
        "The team said Xenobots could one day help to clean up the oceans.\n"
    )
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []
    assert entities._plural_pair("xenobot", "Xenobots") and entities._plural_pair("Agrivoltaics", "agrivoltaic")
    assert not entities._plural_pair("Jemenskyy", "Zelenskyy")


def test_words_that_are_no_misspellings_do_not_use_up_the_candidate_budget(resources):
    """Only the first MAX_CANDIDATES unknown tokens that pass the shape tests are examined: product names
    and acronyms (never a misspelling) must not take those places before a real garbled word later on."""
    products = " ".join(f"Xq{chr(97 + i // 26)}{chr(97 + i % 26)}Zed" for i in range(entities.MAX_CANDIDATES + 5))
    text = "".join(
        f"The shop now sells the {p} model at a lower price than it did last year.\n" for p in products.split()
    ) + (
        "The goverrnment announced the new measures on Thursday after a long meeting of ministers.\n"
    )
    out, _ = _run(text, resources)
    hits = [(f["found"], f["intended"]) for f in out.evidence["misspellings"]]
    assert hits == [("goverrnment", "government")]


def test_a_very_long_run_of_letters_is_not_searched(resources, monkeypatch):
    """A run of thousands of letters (a pasted blob, a 2 MB "word" posted to the service) is no misspelled
    word or name: nothing is that long. Its deletions would cost its length squared in time and memory
    (a 100,000-letter token took 25 s), so no edit search may start on it."""
    from training import vocabulary

    real = vocabulary._deletes

    def guarded(word):
        assert len(word) <= entities.MAX_TOKEN_LEN + 2, f"deletions of a {len(word)}-letter token"
        return real(word)

    monkeypatch.setattr(vocabulary, "_deletes", guarded)
    blob = "x" + "qz" * 5000
    text = f"The council met on Tuesday to discuss the budget for the schools {blob} and the roads.\n" * 2
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []
    assert vocabulary.general_vocabulary("en").nearest_common(blob, max_distance=2) is None


def test_a_word_of_another_script_is_not_a_misspelling(resources):
    # "Москвы" is one letter from "Москва", written twice in the text, but it is Russian, not a spun name.
    text = (
        "The sign read Москва in large letters. Visitors to Москва often ask about the road signs, and one "
        "of them, for the centre of Москвы, was painted again last year by the city council.\n"
    )
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []


def test_a_mangled_name_between_two_short_words_is_still_found(resources):
    # "Sessent" reads as "ses" + "sent": the first part is not frequent enough to make it a compound.
    text = (
        "Treasury Secretary Scott Bessent met the envoy on Monday. Later Sessent told reporters that the "
        "talks had gone well and would continue in the spring.\n"
    )
    out, _ = _run(text, resources)
    assert [(f["found"], f["intended"]) for f in out.evidence["misspellings"]] == [("Sessent", "Bessent")]


def test_possessive_counts_as_the_name(resources):
    text = (
        "Quillfeather's plan was approved. Quillfeather spoke first.\n"
        "Later Quillfeather's deputy explained the costs to the council.\n"
    )
    out, _ = _run(text, resources)
    assert out.evidence["misspellings"] == []


def test_name_slot_swap_is_flagged(resources):
    res = _resources_with(resources, ["Helen Carver"])
    text = "The inquiry heard from Helen Carter, who chaired the committee, on Thursday morning.\n"
    out, _ = _run(text, res)
    assert out.evidence["name_slots"] == [
        {"found": "Helen Carter", "intended": "Helen Carver", "line": 1, "source": "lexicon"}
    ]
    assert out.values["entity_name_slot_per_1k"] > 0.0


def test_german_is_not_applicable(resources):
    out, _ = _run(GERMAN, resources)
    assert set(out.values) == set(entities.FEATURES)
    assert all(math.isnan(v) for v in out.values.values())
    assert out.evidence["misspellings"] == []


@pytest.mark.parametrize(
    ("word", "max_d"),
    [("jemenskyy", 2), ("zelenskyy", 2), ("netanyahu", 2), ("bessent", 2), ("scott", 1), ("trunp", 1),
     ("obmaa", 1), ("xxxx", 1), ("a", 1), ("macron", 1), ("putni", 1), ("merkell", 2), ("ab", 2)],
)
def test_lexicon_pool_keeps_the_nearest_name(word, max_d):
    """The pool of candidate names gives extractOne the same answer as the whole sorted list, and holds
    every name within ``max_d`` edits."""
    from rapidfuzz import process
    from rapidfuzz.distance import DamerauLevenshtein

    from training.features.entities import _lexicon_pool
    from training.vocabulary import EntityLexicon

    names = ["scott", "scot", "bessent", "zelenskyy", "zelensky", "netanyahu", "trump", "obama", "macron",
             "putin", "merkel", "abc", "ba", "b"]
    lexicon = EntityLexicon(names=set(names))
    pool = _lexicon_pool(lexicon, word, max_d)
    full = lexicon.sorted_names()
    near = [n for n in full if DamerauLevenshtein.distance(word, n) <= max_d]
    assert [n for n in pool if n in near] == near
    assert pool == [n for n in full if n in pool]  # in the list's order
    scorer = DamerauLevenshtein.distance
    expected = process.extractOne(word, full, scorer=scorer, score_cutoff=max_d)
    got = process.extractOne(word, pool, scorer=scorer, score_cutoff=max_d)
    assert (got[:2] if got else None) == (expected[:2] if expected else None)


def test_deletion_index_finds_every_name_within_two_edits():
    import random

    from rapidfuzz.distance import DamerauLevenshtein

    from training.features.entities import _DeletionIndex

    rng = random.Random(0)
    names = sorted({"".join(rng.choice("abcde") for _ in range(rng.randint(1, 7))) for _ in range(300)})
    index = _DeletionIndex(names)
    for _ in range(300):
        word = "".join(rng.choice("abcdef") for _ in range(rng.randint(1, 8)))
        for max_d in (1, 2):
            pool = set(index.within(word, max_d))
            assert {n for n in names if DamerauLevenshtein.distance(word, n) <= max_d} <= pool


def test_a_word_longer_than_any_name_within_reach_is_not_searched(resources):
    """A word longer than the longest name plus the edits allowed has no name within reach: the index
    answers at once (its deletions of a thousands-letter word would be millions of strings)."""
    from training.features.entities import _DeletionIndex

    index = _DeletionIndex(["bessent", "zelenskyy"])
    assert index.within("zelenskyyab", 2) == ["zelenskyy"]  # the longest name plus two letters: in reach
    assert index.within("zelenskyyabc", 2) == []
    assert index.within("x" * 5000, 2) == []
    text = "The minister spoke on Monday about the budget. " * 6 + "q" * 3000 + " was written on the wall."
    out = entities.extract(parse(text), context=Context(resources=resources, language="en", english=True))
    assert out.values["entity_misspelled_per_1k"] == 0.0


@pytest.mark.parametrize(
    ("n_flagged", "n_words", "expected"),
    [
        (0, 1000, 0.0),
        (1, 1000, 0.0),  # one slip in an article: a clean text's rate explains it better
        (4, 3000, 0.0),  # four rare names a letter from common words in a long article: the same
        (9, 1000, 9 * math.log(6.0) - 2.5),  # a spun copy's nine in a thousand words
        (6, 400, 6 * math.log(6.0) - 1.0),
    ],
)
def test_misspelling_evidence_weighs_the_count_against_the_length(n_flagged, n_words, expected):
    assert entities.misspelling_evidence(n_flagged, n_words) == pytest.approx(expected)


def test_misspelling_evidence_grows_with_the_count_and_falls_with_the_length():
    values = [entities.misspelling_evidence(k, 1000) for k in range(0, 20)]
    assert values == sorted(values) and values[-1] > values[5] > 0.0
    longer = [entities.misspelling_evidence(8, n) for n in (300, 600, 1200, 2400, 4800, 9600)]
    assert longer == sorted(longer, reverse=True) and longer[-1] == 0.0


def test_names_the_text_spells_right_elsewhere_are_counted_apart(resources):
    out, _ = _run(SPUN, resources)
    assert out.values["entity_respelled_log_count"] == pytest.approx(math.log1p(len(SPUN_MANGLED)))
    clean, _ = _run(CLEAN, resources)
    assert clean.values["entity_respelled_log_count"] == 0.0


def test_a_name_slot_swap_is_found_from_the_texts_own_full_name(resources):
    """The text writes "Helen Pellow" and then "Helen Pillow": the lexicon knows Helen as a first name
    (of another surname), the text itself gives her surname."""
    res = _resources_with(resources, ["Helen Carver"])
    text = (
        "Helen Pellow, who chaired the committee, opened the inquiry on Thursday morning.\n"
        "The inquiry then heard from Helen Pillow about the budget and the delays.\n"
    )
    out, _ = _run(text, res)
    assert out.evidence["name_slots"] == [
        {"found": "Helen Pillow", "intended": "Helen Pellow", "line": 2, "source": "document"}
    ]
    assert out.values["entity_name_slot_per_1k"] > 0.0
    # without the full name elsewhere, nothing is known about Helen's surname
    alone, _ = _run(text.split("\n", 1)[1], res)
    assert alone.evidence["name_slots"] == []


@pytest.mark.parametrize(
    "text",
    [
        "New Zealand's New Zealander of the year lives in Auckland, the paper said on Monday.\n",
        "Hong Kong traders and Hong Kongers abroad watched the vote closely on Sunday evening.\n",
        "El Salvador and the El Salvadoran embassy issued a joint statement about the loans.\n",
    ],
)
def test_a_place_beside_its_derived_form_is_no_name_slot_swap(resources, text):
    """"New", "Hong" and "El" are no first names, and "Zealander" is Zealand's derived form."""
    out, _ = _run(text, _resources_with(resources, []))
    assert out.evidence["name_slots"] == []


def test_own_full_names_leave_out_common_words_and_titles_before_many_names(resources):
    words = [
        ("Morwenna", "Trevaskis", "spoke"), ("Mr", "Pellow", "and"), ("Mr", "Quennell"), ("Mr", "Brenscombe"),
        ("New", "Zealander"), ("The", "Trevaskis", "family"),
    ]
    own = entities._own_full_names(words, resources.vocabulary.zipf, set(), {})
    assert own == {"morwenna": {"trevaskis"}}
