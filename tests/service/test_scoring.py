from __future__ import annotations

import math
from pathlib import Path

import pytest
from resources import ALL_TEXTS, CLEAN, EMPTY_TEXTS, GERMAN, JAPANESE, SCRAPED, SPUN, SPUN_MANGLED

from service.reasons import REASON_CODES
from service.scoring import MAX_TEXT_CHARS, TextTooLargeError, score_text, shown_score, verdict_for
from training.document import EmptyDocumentError, parse
from training.features import FEATURE_NAMES, extract_features

SEEDS_DIR = Path(__file__).resolve().parents[3] / "shared" / "seeds"
FAULT_CATEGORIES = {c for c in REASON_CODES if c.startswith("boilerplate_") and c != "boilerplate_none"}

# Boilerplate around the clean article, as pages have it (written for this test, like resources.py's texts).
_CLEAN_LINES = CLEAN.split("\n")
COOKIE = "We use cookies to give you the best experience on our site. By continuing you accept our cookie policy. Accept all | Manage preferences"
COMMENT_FORM = "Leave a Reply\nYour email address will not be published. Required fields are marked *\nPost Comment"
WRITTEN = {
    "clean": CLEAN,
    "cookie_banner_above": f"{COOKIE}\n\n{CLEAN}",
    "cookie_banner_below": f"{CLEAN}\n{COOKIE}\n",
    "comment_form": f"{CLEAN}\n{COMMENT_FORM}\n",
    # one short line after the article: the shipped model showed it as boilerplate_comments +0.40
    "comment_line": f"{CLEAN}\nLeave a Reply\n",
    "mixed": "\n".join([
        COOKIE, "Home | News | Local | Sport", *_CLEAN_LINES[:6], "Share on Facebook | Share on Twitter | WhatsApp",
        *_CLEAN_LINES[6:], "Related stories", "Harbour festival returns in June", "Library opens on Sundays",
        COMMENT_FORM, "© 2024 Pellingham Gazette. All rights reserved.",
    ]),
}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@pytest.fixture(scope="module")
def scored(tiny_model):
    return {name: score_text(text, model=tiny_model, doc_id=name) for name, text in ALL_TEXTS.items()}


@pytest.mark.parametrize("name", sorted(ALL_TEXTS))
def test_score_is_consistent_with_its_explanation(name, scored, tiny_model):
    r = scored[name]
    assert r["id"] == name
    assert 0.0 <= r["score"] <= 100.0
    logit, base = r["explanation"]["logit"], r["explanation"]["base"]
    assert r["score"] == pytest.approx(100.0 * _sigmoid(logit), abs=0.1)
    contributions = [x["contribution"] for x in r["reasons"]]
    assert base + sum(contributions) == pytest.approx(logit, abs=1e-9)  # exact, to the 4 decimals shown
    # the verdict follows the thresholds (judged on the unrounded score the logit gives)
    assert r["verdict"] == verdict_for(100.0 * _sigmoid(logit), tiny_model.thresholds)
    assert r["model"] == {"name": "tiny", "version": tiny_model.version}


@pytest.mark.parametrize("name", sorted(ALL_TEXTS))
def test_reasons_sorted_and_known(name, scored):
    reasons = scored[name]["reasons"]
    no_effect = scored[name]["explanation"]["no_effect"]
    mags = [abs(x["contribution"]) for x in reasons]
    assert mags == sorted(mags, reverse=True)
    assert all(x["contribution"] != 0 for x in reasons)
    assert all(x["contribution"] == 0 for x in no_effect)
    assert [x["code"] for x in no_effect] == sorted(x["code"] for x in no_effect)
    assert len({x["code"] for x in reasons + no_effect}) == len(reasons) + len(no_effect)
    for x in reasons + no_effect:
        assert x["code"] in REASON_CODES, x["code"]
        assert isinstance(x["message"], str) and x["message"]
        assert isinstance(x["evidence"], list)


def _assert_faithful(r, model, text):
    """The reasons add up to the model's logit, and no boilerplate category's reason raises the score."""
    e = r["explanation"]
    assert e["base"] + sum(x["contribution"] for x in r["reasons"]) == pytest.approx(e["logit"], abs=1e-9)
    ext = extract_features(parse(text), resources=model.resources)
    logit = float(model.classifier.logit(ext.vector())[0])
    assert e["logit"] == round(logit, 4)
    assert r["score"] == pytest.approx(100.0 * _sigmoid(logit), rel=1e-9)  # the score is the model's
    for x in r["reasons"] + e["no_effect"]:
        if x["code"] in FAULT_CATEGORIES:
            assert x["contribution"] <= 0, x
    assert all(x["contribution"] == 0 for x in e["no_effect"])


@pytest.mark.parametrize("name", sorted(WRITTEN))
@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_reasons_are_faithful_and_no_category_raises_the_score(name, which, request):
    model = request.getfixturevalue("tiny_model")
    if which == "shipped":
        from service.model import load_model

        model = load_model(request.getfixturevalue("shipped_model_dir"))
    r = score_text(WRITTEN[name], model=model)
    _assert_faithful(r, model, WRITTEN[name])
    categories = {x["code"] for x in r["reasons"] + r["explanation"]["no_effect"] if x["code"] in FAULT_CATEGORIES}
    if name != "clean":
        assert categories, "the test needs boilerplate lines"
    assert ("boilerplate_none" in {x["code"] for x in r["reasons"] + r["explanation"]["no_effect"]}) == (not categories)


@pytest.fixture(scope="module")
def shipped_model(shipped_model_dir):
    from service.model import load_model

    return load_model(shipped_model_dir)


@pytest.mark.parametrize("key", ["000", "001", "002", "003", "004"])
def test_seed_reasons_are_faithful_and_no_category_raises_the_score(key, shipped_model):
    """Seed 004 showed boilerplate_comments +0.471 (the whole boilerplate total split by characters):
    now what raises its score is less_boilerplate and the comment form has no effect."""
    found = sorted(SEEDS_DIR.glob(f"{key}*.txt")) if SEEDS_DIR.is_dir() else []
    if not found:
        pytest.skip(f"seed {key} not found in {SEEDS_DIR}")
    text = found[0].read_text(encoding="utf-8")
    r = score_text(text, model=shipped_model)
    _assert_faithful(r, shipped_model, text)
    if key == "004":
        by_code = {x["code"]: x for x in r["reasons"] + r["explanation"]["no_effect"]}
        assert by_code["boilerplate_comments"]["contribution"] <= 0
        assert by_code["less_boilerplate"]["contribution"] > 0


@pytest.mark.parametrize(
    ("score", "verdict"),
    [
        (0.0, "unreliable"),
        (39.9, "unreliable"),
        (40.0, "suspect"),
        (69.9, "suspect"),
        (70.0, "reliable"),
        (100.0, "reliable"),
    ],
)
def test_verdict_for_thresholds(score, verdict):
    assert verdict_for(score, {"reliable": 70.0, "suspect": 40.0}) == verdict


def test_signals_cover_every_feature(scored):
    for r in scored.values():
        assert set(r["signals"]) == set(FEATURE_NAMES)
        assert all(v is None or math.isfinite(v) for v in r["signals"].values())


def test_scraped_reasons_carry_boilerplate_evidence(scored):
    r = scored["scraped"]
    by_code = {x["code"]: x for x in r["reasons"] + r["explanation"]["no_effect"]}
    assert {"boilerplate_cookie", "boilerplate_related", "title_repeated", "contact_details"} <= set(by_code)
    cookie_line = next(i for i, ln in enumerate(SCRAPED.split("\n"), start=1) if "We use cookies" in ln)
    assert [e["line"] for e in by_code["boilerplate_cookie"]["evidence"]] == [cookie_line]
    assert all(e["category"] == "related" for e in by_code["boilerplate_related"]["evidence"])
    assert len(by_code["boilerplate_related"]["evidence"]) >= 3
    assert [e["line"] for e in by_code["title_repeated"]["evidence"]] == [7, 8]
    assert by_code["contact_details"]["evidence"][0]["text"] == "newsdesk.tips42@gmail.com"
    # the boilerplate reasons' lines are also labelled in the per-line output
    labels = {e["line"]: e["category"] for e in r["lines"]}
    assert labels[cookie_line] == "cookie"


def test_scraped_scores_below_clean(scored):
    assert scored["scraped"]["score"] < scored["clean"]["score"]
    assert scored["spam"]["score"] < scored["clean"]["score"]
    assert scored["spun"]["score"] < scored["clean"]["score"]


def test_spun_reasons_list_misspelled_entities(scored):
    by_code = {x["code"]: x for x in scored["spun"]["reasons"]}
    ev = by_code["misspelled_entities"]["evidence"]
    assert {e["found"]: e["intended"] for e in ev} == SPUN_MANGLED
    assert by_code["misspelled_entities"]["contribution"] < 0
    assert "Okonkow → Okonkwo" in by_code["misspelled_entities"]["message"]


def test_clean_has_no_misspelling_evidence(scored):
    by_code = {x["code"]: x for x in scored["clean"]["reasons"] + scored["clean"]["explanation"]["no_effect"]}
    assert by_code["misspelled_entities"]["evidence"] == []


def test_german_reason_is_language_not_english(scored):
    r = scored["german"]
    codes = [x["code"] for x in r["reasons"]]
    assert "language_not_english" in codes
    assert "language" not in codes
    assert r["language"]["code"] == "de"
    assert r["signals"]["readability_flesch_reading_ease"] is None


def test_deterministic(tiny_model):
    for text in (CLEAN, SPUN, GERMAN):
        a = score_text(text, model=tiny_model)
        b = score_text(text, model=tiny_model)
        assert a == b


def test_explain_false_drops_evidence_and_lines(tiny_model):
    full = score_text(SCRAPED, model=tiny_model)
    short = score_text(SCRAPED, model=tiny_model, explain=False)
    assert short["score"] == full["score"]
    assert "lines" not in short and "cleaned_text" not in short
    assert all("evidence" not in x for x in short["reasons"] + short["explanation"]["no_effect"])
    assert [x["code"] for x in short["reasons"]] == [x["code"] for x in full["reasons"]]
    assert [x["code"] for x in short["explanation"]["no_effect"]] == [x["code"] for x in full["explanation"]["no_effect"]]


def test_title_is_used(tiny_model):
    body = CLEAN.split("\n", 2)[2]
    r = score_text(
        body, model=tiny_model, title="Pellingham opens its new flood barrier after three years of work"
    )
    # the title is line 0; the body's lines keep their own numbers
    assert [x["line"] for x in r["lines"][:2]] == [0, 1]
    assert r["stats"]["lines"] == score_text(CLEAN, model=tiny_model)["stats"]["lines"]


@pytest.mark.parametrize("text", EMPTY_TEXTS, ids=repr)
def test_empty_text_raises(text, tiny_model):
    with pytest.raises(EmptyDocumentError):
        score_text(text, model=tiny_model)


def test_too_large_raises(tiny_model):
    with pytest.raises(TextTooLargeError):
        score_text("a" * (MAX_TEXT_CHARS + 1), model=tiny_model)


class _FixedLogit:
    """Stands in for the classifier: every text gets the same logit (all of it in the base)."""

    def __init__(self, logit: float) -> None:
        self.value = logit

    def contributions(self, X):
        import numpy as np

        return self.value, np.zeros((1, len(FEATURE_NAMES)))


@pytest.mark.parametrize("shown", [69.96, 39.97])
def test_shown_score_and_verdict_agree_at_a_threshold(tiny_model, shown):
    """A client reading the documented thresholds off the shown score must get the shown verdict."""
    from dataclasses import replace

    p = shown / 100.0
    model = replace(tiny_model, classifier=_FixedLogit(math.log(p / (1 - p))))
    r = score_text(CLEAN, model=model)
    assert r["verdict"] == verdict_for(r["score"], tiny_model.thresholds), (r["score"], r["verdict"])


@pytest.mark.parametrize(
    ("score", "text"), [(69.96, "69.9"), (70.0, "70.0"), (39.999, "39.9"), (40.0, "40.0"), (0.04, "0.0"), (100.0, "100.0")]
)
def test_shown_score_never_reaches_a_threshold_its_verdict_did_not(score, text, tiny_model):
    """The page, the demo table and the scan report show one decimal: 69.96 rounded would read 70.0 beside
    "suspect". Cut instead, a shown score and its verdict agree on the documented thresholds."""
    assert shown_score(score) == text
    assert verdict_for(float(text), tiny_model.thresholds) == verdict_for(score, tiny_model.thresholds)


@pytest.mark.parametrize("name", ["clean", "scraped", "spun"])
def test_hard_wrapping_does_not_change_the_verdict(name, tiny_model):
    """A converter that breaks lines at 72 columns leaves the article as it was: about the same score,
    the same misspellings, and every line of the wrapped text labeled (the page shades them all)."""
    import textwrap

    text = ALL_TEXTS[name]
    wrapped = "\n\n".join(textwrap.fill(p, 72) for p in text.split("\n") if p.strip())
    a, b = score_text(text, model=tiny_model), score_text(wrapped, model=tiny_model)
    assert abs(a["score"] - b["score"]) < 10, (a["score"], b["score"])
    if b["verdict"] != a["verdict"]:  # only when the two scores sit just either side of a threshold
        lo, hi = sorted((a["score"], b["score"]))
        assert hi - lo < 2 and any(lo < t <= hi for t in tiny_model.thresholds.values()), (a["score"], b["score"])
    found = {e["found"] for r in b["reasons"] if r["code"] == "misspelled_entities" for e in r["evidence"]}
    assert found == {e["found"] for r in a["reasons"] if r["code"] == "misspelled_entities" for e in r["evidence"]}
    physical = [i + 1 for i, raw in enumerate(wrapped.split("\n")) if raw.strip()]
    assert [e["line"] for e in b["lines"]] == physical
    # each misspelling points at the line of the wrapped text that holds it
    lines = wrapped.split("\n")
    for r in b["reasons"]:
        for e in r["evidence"] if r["code"] == "misspelled_entities" else []:
            assert e["found"] in lines[e["line"] - 1], e


def test_markdown_does_not_change_the_verdict(tiny_model):
    """The same article as a crawler writing markdown gives it (heading, links, bold): about the same
    score, and no link target counted as a URL in the text."""
    import re

    lines = [ln for ln in CLEAN.split("\n") if ln.strip()]
    linked = [re.sub(r"\b(Pellingham|Trevaskis)\b", r"[\1](https://example.com/tag/\1)", ln, count=1) for ln in lines[1:]]
    md = "\n\n".join([f"# {lines[0]}", *linked[:2], f"**{linked[2][:20]}**{linked[2][20:]}", *linked[3:]])
    a, b = score_text(CLEAN, model=tiny_model), score_text(md, model=tiny_model)
    assert abs(a["score"] - b["score"]) < 10, (a["score"], b["score"])
    if b["verdict"] != a["verdict"]:  # only when the two scores sit just either side of a threshold
        lo, hi = sorted((a["score"], b["score"]))
        assert hi - lo < 2 and any(lo < t <= hi for t in tiny_model.thresholds.values()), (a["score"], b["score"])
    assert b["signals"]["boilerplate_urls_per_1k"] == a["signals"]["boilerplate_urls_per_1k"] == 0.0


def test_evidence_names_the_callers_lines_with_or_without_a_separate_title(tiny_model):
    body = ("The council met in Brusels on Tuesday to agree the budget for the coming year.\n\n"
            "Members said the plan would be published in Brusels next month after a consultation.\n\n"
            "Questions to budget.office@example.org before Friday.\n\n"
            "Share this article\nFacebook\nTwitter")
    plain = score_text(body, model=tiny_model)
    titled = score_text(body, model=tiny_model, title="Council agrees its budget")

    def lines_of(r):
        every = r["reasons"] + r["explanation"]["no_effect"]
        ev = [(x["code"], e["line"]) for x in every for e in x.get("evidence", []) if "line" in e]
        return sorted(ev), [x["line"] for x in r["lines"]]

    contacts = [(code, line) for code, line in lines_of(plain)[0] if code == "contact_details"]
    assert contacts == [(code, line) for code, line in lines_of(titled)[0] if code == "contact_details"]
    assert contacts == [("contact_details", 5)], "the test needs an e-mail address to look at"
    ev_plain, labels_plain = lines_of(plain)
    ev_titled, labels_titled = lines_of(titled)
    assert labels_titled == [0, *labels_plain]  # the title is line 0, the body's lines keep their numbers
    assert {line for code, line in ev_titled if code.startswith("misspell")} == \
        {line for code, line in ev_plain if code.startswith("misspell")}
    assert any(code.startswith("misspell") for code, _ in ev_plain), "the test needs a misspelling to look at"


def test_a_timestamp_under_the_headline_keeps_a_clean_article_reliable_a_teaser_there_does_not(shipped_model_dir):
    """Most news pages put a timestamp or a photo credit between the headline and the story: the shipped
    model scored a clean article 96 without one and 32 with one, as low as with a "Must read" teaser."""
    from service.model import load_model

    model = load_model(shipped_model_dir)
    title, rest = CLEAN.split("\n", 1)

    def with_line(line: str) -> dict:
        return score_text(f"{title}\n{line}\n{rest}", model=model)

    clean = score_text(CLEAN, model=model)["score"]
    assert clean >= 90
    for line in ("Published 10:42 AM EDT, Tue March 4, 2025", "Photo: Harbour Images / Pellingham Council"):
        assert with_line(line)["score"] >= clean - 5, line
    teaser = with_line("Must read: Five things to do in Eastbrook this weekend")
    assert teaser["score"] < clean - 20
    assert teaser["reasons"][0]["code"] == "boilerplate_related"


def test_a_pull_quote_keeps_a_clean_article_reliable_paragraphs_printed_twice_do_not(shipped_model_dir):
    """Two in five real clean articles repeat some run of 8 words (a pull quote, a summary above the
    sections): the shipped model took one sentence of CLEAN repeated as a line of its own from 99 to 8."""
    import re

    from service.model import load_model

    model = load_model(shipped_model_dir)
    paras = [p for p in CLEAN.split("\n") if p.strip()]
    clean = score_text(CLEAN, model=model)["score"]
    assert clean >= 90
    quoted = 0
    for i in range(1, len(paras) - 1):
        sentence = next((s for s in re.split(r"(?<=[.!?])\s+", paras[i]) if 8 <= len(s.split()) <= 40), None)
        if sentence is None or sentence == paras[i]:
            continue
        page = paras[: i + 2] + [f"“{sentence.strip(chr(8220) + chr(8221) + chr(34))}”"] + paras[i + 2:]
        assert score_text("\n\n".join(page), model=model)["score"] >= max(clean - 15, 80), sentence
        quoted += 1
    assert quoted >= 3, "the test needs sentences to quote"
    twice = paras[:3] + paras[1:3] + paras[3:] + [paras[4]]
    r = score_text("\n\n".join(twice), model=model)
    assert r["score"] < 40
    assert "repetition" in [x["code"] for x in r["reasons"][:3]]


def test_a_japanese_article_is_read_as_prose_and_a_line_after_it_as_its_tail(shipped_model_dir):
    """Chinese and Japanese write no spaces and end sentences in 。: a clean Japanese article was "24 words"
    long, had no prose line, and so every boilerplate line counted as one before the article (51.6; 7.0
    with a copyright line after it)."""
    from service.model import load_model

    model = load_model(shipped_model_dir)
    plain = score_text(JAPANESE, model=model)
    assert plain["score"] >= 90
    assert plain["stats"]["words"] >= 250
    every = plain["reasons"] + plain["explanation"]["no_effect"]
    assert all("nan" not in x["message"] for x in every)
    r = score_text(JAPANESE + "\n© 2025 Tokyo Daily News. All rights reserved.\n", model=model)
    lines = [(e["category"], e["position"]) for x in r["reasons"] + r["explanation"]["no_effect"]
             for e in x.get("evidence", []) if "category" in e]
    assert lines == [("legal", "tail")]
    assert r["signals"]["boilerplate_head_lines"] == 0
    assert r["score"] >= 70


def test_a_japanese_article_cut_at_a_comma_is_cut_off(shipped_model_dir):
    from service.model import load_model

    model = load_model(shipped_model_dir)
    # the third paragraph stops at a comma, and nothing follows
    title, first, second, third, _ = JAPANESE.strip().split("\n\n")
    cut = "\n\n".join([title, first, second, third.rsplit("、", 1)[0] + "、"])
    r = score_text(cut, model=model)
    assert r["signals"]["boilerplate_cut_off"] == 1.0
    assert r["score"] < 70
    assert score_text(JAPANESE, model=model)["signals"]["boilerplate_cut_off"] == 0.0


def test_a_chinese_name_in_a_hard_wrapped_article_leaves_the_evidence_on_its_lines(shipped_model_dir):
    """Words counted out line by line in a wrapped paragraph with the pattern parse() used: with another
    one, a Han name made every word of its paragraph land on the paragraph's first line."""
    import textwrap

    from service.model import load_model

    model = load_model(shipped_model_dir)
    wrapped = "\n\n".join(textwrap.fill(p, 60) for p in SPUN.split("\n\n"))
    named = wrapped.replace("Ravensworth", "Ravensworth (马丁)", 1)
    assert named != wrapped

    def lines(text: str) -> list[int]:
        r = score_text(text, model=model)
        return sorted(e["line"] for x in r["reasons"] + r["explanation"]["no_effect"]
                      if x["code"] == "misspelled_entities" for e in x.get("evidence", []) if "line" in e)

    assert len(lines(wrapped)) >= 3
    assert lines(named) == lines(wrapped)


_LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
          "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
          "consequat duis aute irure reprehenderit voluptate velit esse cillum fugiat nulla pariatur").split()


def _sentences(words, rng, n=14):
    out = []
    for i in range(0, len(words), n):
        s = " ".join(words[i : i + n])
        out.append(s[:1].upper() + s[1:] + ".")
    return "\n\n".join(" ".join(out[i : i + 4]) for i in range(0, len(out), 4))


def test_made_up_words_and_shuffled_words_are_unreliable_whatever_the_language_detected(shipped_model):
    """Random letters (detected as Dutch or Croatian), lorem ipsum (Catalan, Italian), an article's words
    shuffled: every other signal passes them; the words family does not."""
    import random

    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    random_words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(400)]
    mixed_case = [w.capitalize() if rng.random() < 0.3 else w for w in random_words]
    lorem = [rng.choice(_LOREM) for _ in range(300)]
    body = CLEAN.split("\n", 1)[1].split()
    shuffled = [w.strip(".,;:\"“”") for w in body]
    rng.shuffle(shuffled)
    cases = {
        "random": (_sentences(random_words, rng), "unknown_words"),
        "mixed case": (_sentences(mixed_case, rng), "unknown_words"),
        "lorem ipsum": (_sentences(lorem, rng), "unknown_words"),
        "shuffled": (CLEAN.split("\n", 1)[0] + "\n\n" + _sentences([w for w in shuffled if w], rng), "word_order"),
    }
    for name, (text, code) in cases.items():
        r = score_text(text, model=shipped_model)
        assert r["score"] < 40, (name, r["score"], [(x["code"], x["contribution"]) for x in r["reasons"][:4]])
        reason = next(x for x in r["reasons"] if x["code"] == code)
        assert reason["contribution"] < -2 and reason["evidence"], (name, reason)
    for text in (CLEAN, GERMAN, JAPANESE):
        r = score_text(text, model=shipped_model)
        assert all(x["contribution"] > -0.5 for x in r["reasons"] if x["code"] in ("unknown_words", "word_order"))


def test_a_declared_language_matches_langdetects_chinese_codes():
    from service.scoring import _language

    assert _language({"code": "zh-cn"}, "zh-Hans-CN")["matches_declared"] is True
    assert _language({"code": "zh-tw"}, "ZH")["matches_declared"] is True
    assert _language({"code": "en"}, "en-US")["matches_declared"] is True
    assert _language({"code": "de"}, "en")["matches_declared"] is False


def test_the_repetition_reason_counts_every_repeated_line_with_or_without_evidence(shipped_model):
    """The evidence lists 20 distinct lines at most; the sentence once said "20 line(s)" for a text pasted
    fifty times, and "0 line(s)" with explain=False (no evidence to count)."""
    lines = [f"Line {i} of a notice that a page has printed over and over again for its readers." for i in range(25)]
    text = "\n".join(lines * 4)  # 100 lines: 75 repeat earlier ones, 25 different lines among them
    for explain in (True, False):
        r = score_text(text, model=shipped_model, explain=explain)
        found = [x["message"] for x in r["reasons"] + r["explanation"]["no_effect"] if x["code"] == "repetition"]
        assert found and found[0].startswith("75 line(s) repeat earlier ones (25 different lines);"), found


def test_warm_up_leaves_no_index_for_the_first_document_to_build():
    """A server's worker or a scan's forked workers share what the parent warmed up: the common words'
    piece index (about 0.3 s and tens of MiB) included, not built again by each worker on its first
    long unknown word. A fresh process, so that no other test has built it already."""
    import subprocess
    import sys

    code = (
        "from service.model import load_model, DEFAULT_MODEL_DIR\n"
        "from service.scoring import warm_up\n"
        "from training.vocabulary import general_vocabulary\n"
        "model = load_model(DEFAULT_MODEL_DIR)\n"
        "assert general_vocabulary('en')._pieces is None\n"
        "warm_up(model)\n"
        "print(general_vocabulary('en')._pieces is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
