"""The line model's scoring path gives the fitted sklearn pipeline's probabilities, line for line."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from resources import CLEAN, JAPANESE, SCRAPED

from training.document import parse
from training.linemodel import CLASSES, DENSE_FEATURE_NAMES, LineModel, line_layout_features

ODD = "\n".join([
    "Ünïcödé headline 🎉 with an emoji",
    "- a bullet line",
    "1) a numbered line",
    "See www.example.com or https://example.org/path now...",
    "Call +1 555-123-4567 or write to desk@example.com",
    "“A quoted line,” she said. Then another sentence! And a third?",
    "© 2026 Example Media | Privacy | Terms",
    "a lone surrogate \udcff from a JSON escape, and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 letters",
    "x",
])


def _pipeline_proba(model, lines, words):
    """What sklearn's pipeline says: scaler + HashingVectorizer + LogisticRegression.predict_proba."""
    raw = model.classifier_.predict_proba(model._matrix([lines], fit=False, words=[words]))
    out = np.zeros((len(lines), len(CLASSES)))
    for j, k in enumerate(model.class_index_):
        if k >= 0:
            out[:, j] = raw[:, k]
    return out


@pytest.mark.parametrize("text", [CLEAN, SCRAPED, ODD, "one line only"])
def test_fast_probabilities_equal_the_pipeline(tiny_model, text):
    model = tiny_model.resources.line_model
    doc = parse(text)
    lines, words = [ln.text for ln in doc.lines], [ln.words for ln in doc.lines]
    fast = model.predict_proba(lines, words=words)
    np.testing.assert_allclose(fast, _pipeline_proba(model, lines, words), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.sum(axis=1), 1.0)


def test_fast_path_survives_pickling(tiny_model):
    model = tiny_model.resources.line_model
    model.predict_proba(["warm the fast path"])
    clone = pickle.loads(pickle.dumps(model))
    assert "_fast_" not in clone.__dict__
    np.testing.assert_allclose(clone.predict_proba(["Related posts"]), model.predict_proba(["Related posts"]))


def test_layout_features_count_characters_per_line():
    rows = line_layout_features(["ABC def 123.", "no caps here", "a › b › c"])
    col = {name: i for i, name in enumerate(DENSE_FEATURE_NAMES)}
    assert rows[0, col["upper_ratio"]] == pytest.approx(3 / 6)
    assert rows[0, col["digit_ratio"]] == pytest.approx(3 / 12)
    assert rows[0, col["terminal"]] == 1.0
    assert rows[1, col["upper_ratio"]] == 0.0
    assert rows[2, col["separators"]] == 2.0
    assert rows[:, col["short_run"]].tolist() == pytest.approx([2 / 6, 1 / 6, 1 / 6])


def test_layout_features_find_urls_phones_and_emails_only_on_their_lines():
    lines = ["Visit www.example.com today.", "Call 555 123 4567 now.", "Mail desk@example.org please.", "Plain."]
    rows = line_layout_features(lines)
    col = {name: i for i, name in enumerate(DENSE_FEATURE_NAMES)}
    assert rows[:, col["has_url"]].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert rows[:, col["has_phone"]].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert rows[:, col["has_email"]].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_fallback_hashing_gives_sklearns_columns(tiny_model, monkeypatch):
    """Without scikit-learn's private C loop the columns come from the public murmurhash3_32: the same."""
    from itertools import repeat

    from sklearn.utils import murmurhash3_32

    from training import linemodel
    from training.linemodel import _columns, _hash_features

    feats = ["related", "related posts", "©", "ünïcödé", "a b", "𝔘𝔫𝔦"]
    cols, _, _ = _hash_features([zip(feats, repeat(1))], 2**15, np.float64, False, 0)
    assert _columns(np.array([murmurhash3_32(f, seed=0) for f in feats]), 2**15).tolist() == cols.tolist()
    fast = tiny_model.resources.line_model._fast()
    lines = ["Related posts", "a line with\na newline inside: hashed line by line", "©"]
    expected = fast.hashed_columns(lines)
    monkeypatch.setattr(linemodel, "_hash_features", None)
    got = fast.hashed_columns(lines)
    assert got[0].tolist() == expected[0].tolist() and got[1].tolist() == expected[1].tolist()


@pytest.mark.parametrize("n_features", [1, 2, 3, 7, 1000, 2**15, 2**20, 2**31 - 1])
def test_every_hash_gets_sklearns_column(n_features):
    """A hash of -2**31, whose absolute value int32 cannot hold, gets the column scikit-learn's loop gives
    it by a case of its own: |h| mod n in int64 is that column, for any n."""
    from training.linemodel import _columns

    hashes = np.array([-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 1, 123456789, -987654321], dtype=np.int32)

    def sklearns(h: int) -> int:  # sklearn/feature_extraction/_hashing_fast.pyx, in int32
        return (2147483647 - (n_features - 1)) % n_features if h == -(2**31) else abs(h) % n_features

    assert _columns(hashes, n_features).tolist() == [sklearns(int(h)) for h in hashes]


def test_murmur_over_runs_gives_sklearns_hashes():
    """The vectorised murmurhash3 over runs of one buffer gives scikit-learn's murmurhash3_32 of each run:
    every length around the 4-byte blocks, the tails, multi-byte characters, runs past the block limit."""
    import random

    from sklearn.utils import murmurhash3_32

    from training.linemodel import _murmur_runs

    rng = random.Random(0)
    alphabet = "abz09_ é中𝔘©|\n"
    strings = ["", "a", "ab", "abc", "abcd", "abcde", "x" * 31, "x" * 32, "x" * 33, "y" * 300]
    strings += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(2000)]
    for sample in (strings, strings[1:2], strings[6:10], strings[-1:]):
        encoded = [s.encode("utf-8") for s in sample]
        lengths = np.array([len(e) for e in encoded], dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        hashes, order = _murmur_runs(b"".join(encoded), starts, lengths)
        assert hashes.tolist() == [murmurhash3_32(encoded[i], seed=0) for i in order.tolist()]


def test_hashed_columns_are_the_hashers(tiny_model):
    """The columns found over the document's bytes are those sklearn's hashing gives each n-gram."""
    from collections import Counter
    from itertools import repeat

    from training.linemodel import _hash_features

    fast = tiny_model.resources.line_model._fast()
    lines = ["Related posts: the council’s budget", "© 2026 | a › b @x", "", "ünïcödé 中文 𝔘𝔫𝔦 " + "long" * 40, "x"]
    feats, rows = fast.line_ngrams(lines)
    expected, _, _ = _hash_features([zip(feats, repeat(1))], fast.n_features, np.float64, False, 0)
    cols, got_rows = fast.hashed_columns(lines)
    got = Counter(zip(got_rows.tolist(), cols.tolist(), strict=True))
    assert got == Counter(zip(rows.tolist(), expected.tolist(), strict=True))
    for empty in ([], [""], ["...", "!"]):
        assert len(fast.hashed_columns(empty)[0]) == 0


def test_refitting_drops_the_scorer_made_from_the_old_weights():
    from training.linemodel import LineModel

    docs = [["Related posts", "The council met on Tuesday and approved the budget for the library."]] * 4
    first = LineModel().fit(docs, [["related", "content"]] * 4)
    before = first.predict_proba(docs[0])
    first.fit(docs, [["content", "related"]] * 4)  # the opposite labels
    after = first.predict_proba(docs[0])
    assert before[0].argmax() != after[0].argmax()


def test_stop_word_density_counts_the_documents_languages_function_words():
    """A line of Polish prose is prose: with Polish function words its stop-word density is about
    what an English sentence has with English ones; with English ones alone it looks like a menu."""
    from training.lexicons import FUNCTION_WORDS, STOP_WORDS, function_words, stop_words

    col = DENSE_FEATURE_NAMES.index("stop_ratio")
    polish = "Radni z Przemkowa zdecydowali, że nowa szkoła zostanie otwarta we wrześniu, a nie w maju."
    english = "The council decided that the new school would open in September, and not in May."
    as_english = line_layout_features([polish])[0, col]
    as_polish = line_layout_features([polish], stop=function_words("pl"))[0, col]
    reference = line_layout_features([english])[0, col]
    assert as_english < 0.2 < as_polish
    assert abs(as_polish - reference) < 0.2
    assert function_words("en") is FUNCTION_WORDS and function_words("unknown") is FUNCTION_WORDS
    assert stop_words("en") is STOP_WORDS and stop_words("xx") is STOP_WORDS
    assert FUNCTION_WORDS < function_words("pl") and "się" in stop_words("pl")
    assert function_words("zh-cn") == function_words("zh")


def test_pickled_model_holds_no_memory_address():
    """scikit-learn's HashingVectorizer stores id(stop_words) after a transform; a saved model must not
    carry it, or two identical trainings write different files."""
    docs = [["Related posts", "A sentence of the article that ends here."], ["Accept cookies", "More text here."]]
    labels = [["related", "content"], ["cookie", "content"]]
    model = LineModel(random_state=0).fit(docs, labels)
    model._matrix(docs, fit=False)  # a transform: sklearn sets hasher_._stop_words_id
    assert "_stop_words_id" in vars(model.hasher_)
    state = pickle.loads(pickle.dumps(model))
    assert "_stop_words_id" not in vars(state.hasher_)
    np.testing.assert_array_equal(state.predict_proba(docs[0]), model.predict_proba(docs[0]))


@pytest.mark.parametrize(
    "lines",
    [
        ["one line"],
        ["", "after an empty line", ""],
        ["Two. Sentences here!", "no end", "Ends with a question? Yes.", "…", "a.b.c. d"],
        ["ΣΑΣ ΟΔΟΣ", "İstanbul KELVIN \u212a", "ſ long s"],  # lower-casing that depends on the neighbours
        ["a line with\na newline inside", "© 2026 | a › b"],
        ["“quoted”", 'plain "double"', "Call 555-123-4567 now", "mail me@example.com", "see www.example.com."],
    ],
)
def test_document_wide_passes_equal_line_by_line_ones(lines):
    """The features counted over the whole document at once are those counted line by line."""
    import re

    from training.document import WORD_RE
    from training.lexicons import EMAIL_RE, FUNCTION_WORDS, PHONE_RE, URL_RE
    from training.linemodel import _SENT_END_RE, BULLET_RE, _lines_matching

    rows = line_layout_features(lines)
    col = {name: i for i, name in enumerate(DENSE_FEATURE_NAMES)}
    for i, line in enumerate(lines):
        toks = WORD_RE.findall(line)
        nw = len(toks)
        n_sent = max(1, len(_SENT_END_RE.findall(line)))
        expected = {
            "colon_end": line.endswith(":"),
            "ellipsis_end": line.endswith("…") or line.endswith("..."),
            "bullet": BULLET_RE.match(line) is not None,
            "title_ratio": sum(w[0].isupper() for w in toks) / nw if nw else 0.0,
            "stop_ratio": sum(w.lower() in FUNCTION_WORDS for w in toks) / nw if nw else 0.0,
            "has_url": "." in line and URL_RE.search(line) is not None,
            "has_email": EMAIL_RE.search(line) is not None,
            "has_phone": PHONE_RE.search(line) is not None,
            "words_per_sentence": min(nw / n_sent, 60) / 60,
            "quote": '"' in line or "“" in line or "”" in line,
            "first_upper": line[:1].isupper(),
        }
        for name, value in expected.items():
            assert rows[i, col[name]] == float(value), (name, line)
    assert _lines_matching(re.compile("a"), ["b", "xa", "", "aa"]) == {1, 3}
    assert _lines_matching(re.compile("a"), []) == set()


@pytest.mark.parametrize(
    "lines",
    [["one line"], ["", "Two words", ""], ["ΣΑΣ ΟΔΟΣ σας", "İstanbul \u212a ſ"], ["a\nb c", "d"], ["© 2026 | a › b @x"], []],
)
def test_document_ngrams_are_each_lines_own(tiny_model, lines):
    """The hashed features found in one pass over the document are those found line by line."""
    from collections import Counter

    fast = tiny_model.resources.line_model._fast()
    feats, rows = fast.line_ngrams(lines)
    expected = Counter()
    for i, line in enumerate(lines):
        toks = fast.token_re.findall(line.lower())
        expected.update((i, f) for f in toks + [" ".join(p) for p in zip(toks, toks[1:], strict=False)])
    assert Counter(zip(rows.tolist(), feats, strict=True)) == expected


@pytest.mark.parametrize(
    "text",
    ["", "plain words, and_under_scores x2 9th", "don't stop—über straße ΣΑΣ 中文字 ١٢٣", "© 2026 | a › b » c @x y@z",
     "a\nb\n\nc", "🎉emoji🎉 word\u200dword e\u0301t\u00e9", "__init__ __ _ a_ _b", "x" * 50 + "!" + "y" * 3],
)
def test_fast_token_pattern_finds_the_hashers_tokens(tiny_model, text):
    """The scorer's token pattern (no word boundaries) finds exactly what the hasher's pattern finds."""
    import re

    model = tiny_model.resources.line_model
    fast = model._fast()
    assert fast.document_wide
    assert fast.token_re.pattern != model.hasher_.token_pattern  # the faster one is in use
    assert fast.token_re.findall(text) == re.findall(model.hasher_.token_pattern, text)
    assert fast.token_or_newline_re.findall(text) == re.findall(f"{model.hasher_.token_pattern}|\n", text)


def test_full_width_marks_end_a_line_and_training_counts_words_as_parse_does():
    terminal = line_layout_features(["今日は晴れです。", "今日は晴れです", "「晴れです。」", "晴れ？"])
    assert terminal[:, DENSE_FEATURE_NAMES.index("terminal")].tolist() == [1.0, 0.0, 1.0, 1.0]
    # training passes no words: the features must be those of the words parse() gives at scoring time
    doc = parse(JAPANESE)
    texts = [ln.text for ln in doc.lines]
    assert np.array_equal(line_layout_features(texts), line_layout_features(texts, [ln.words for ln in doc.lines]))


def _with_hasher(model, **settings):
    """A copy of ``model`` whose hashed n-grams are made with ``settings`` (what a model trained by other
    code could hold)."""
    import copy

    other = copy.deepcopy(model)
    other.__dict__.pop("_fast_", None)
    other.hasher_.set_params(**settings)
    return other


@pytest.mark.parametrize("pattern", [r"[^,]+", r"\S+", r"(?u)\b\w\w+\b"])
def test_another_token_pattern_is_scored_line_by_line_as_the_pipeline_does(tiny_model, pattern):
    """The document-wide passes hold for the default token pattern only (its tokens hold no newline and
    no space; r"[^,]+" has tokens with both): with another, each line is tokenised on its own, and the
    probabilities are still the fitted pipeline's."""
    model = _with_hasher(tiny_model.resources.line_model, token_pattern=pattern)
    fast = model._fast()
    assert not fast.document_wide
    # (without ODD's lone surrogate: scikit-learn's own hashing refuses a token holding one, which the
    # default pattern never makes, \w matching no surrogate)
    for text in (CLEAN, SCRAPED, ODD.replace("\udcff", "?")):
        doc = parse(text)
        lines, words = [ln.text for ln in doc.lines], [ln.words for ln in doc.lines]
        proba = model.predict_proba(lines, words=words)
        np.testing.assert_allclose(proba, _pipeline_proba(model, lines, words), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("ngram_range", (1, 3)), ("norm", "l1"), ("alternate_sign", True), ("lowercase", False), ("binary", True),
     ("stop_words", ["the"]), ("analyzer", "char")],
)
def test_hashed_ngrams_the_scorer_does_not_reproduce_are_refused(tiny_model, setting, value):
    from training.linemodel import UnsupportedHasherError

    model = _with_hasher(tiny_model.resources.line_model, **{setting: value})
    with pytest.raises(UnsupportedHasherError, match=f"{setting}="):
        model.check_scorer()
    with pytest.raises(UnsupportedHasherError, match=f"{setting}="):
        model.predict_proba(["Related posts"])
    tiny_model.resources.line_model.check_scorer()  # the code's own settings pass
