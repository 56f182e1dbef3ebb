from __future__ import annotations

import math

import pytest
from resources import CLEAN, ENGLISH_TEXTS, GERMAN, SCRAPED, SPUN

from training.document import parse
from training.features import Context, entities, extract_features, language, readability

# Every entity and readability value, and the two English-specific values of other families.
ENGLISH_ONLY = (
    "language_other_line_share",
    *entities.FEATURES,
    *readability.FEATURES,
    "repetition_stopword_frac",
)


def _run(text, resources):
    ctx = Context(resources=resources)
    out = language.extract(parse(text), context=ctx)
    return out, ctx


@pytest.mark.parametrize("name", sorted(ENGLISH_TEXTS))
def test_english_texts_are_english(name, resources):
    out, ctx = _run(ENGLISH_TEXTS[name], resources)
    assert ctx.language == "en"
    assert ctx.english is True
    assert out.values["language_english_prob"] > 0.9
    assert out.values["language_top_prob"] == out.values["language_english_prob"]
    assert out.extra["language"]["code"] == "en"
    assert out.extra["language"]["english_signals"] is True
    assert out.evidence["language"][0]["language"] == "en"


def test_german_is_not_english(resources):
    out, ctx = _run(GERMAN, resources)
    assert ctx.language == "de"
    assert ctx.english is False
    assert out.values["language_top_prob"] > 0.9
    assert out.values["language_english_prob"] < 0.1
    assert math.isnan(out.values["language_other_line_share"])
    assert out.extra["language"] == {
        "code": "de",
        "probability": round(out.values["language_top_prob"], 3),
        "english_signals": False,
    }


def test_german_english_only_values_are_nan(resources):
    ext = extract_features(parse(GERMAN), resources=resources)
    for name in ENGLISH_ONLY:
        assert math.isnan(ext.values[name]), name
    # language-independent signals are still computed
    for name in (
        "language_top_prob",
        "boilerplate_char_ratio",
        "repetition_dup_line_frac",
        "repetition_log_words",
    ):
        assert math.isfinite(ext.values[name]), name


def test_english_values_are_finite(resources):
    ext = extract_features(parse(CLEAN), resources=resources)
    for name in ENGLISH_ONLY:
        assert math.isfinite(ext.values[name]), name


@pytest.mark.parametrize("text", [CLEAN, GERMAN, SPUN, SCRAPED], ids=["clean", "german", "spun", "scraped"])
def test_detection_is_deterministic(text, resources):
    first = language.detect(text)
    assert first, "nothing detected"
    for _ in range(4):
        assert language.detect(text) == first
    runs = [_run(text, resources)[0].values for _ in range(5)]
    assert all(r == runs[0] for r in runs[1:])


def test_foreign_lines_in_an_english_text_are_counted(resources):
    german_line = (
        "Die Bauarbeiten sollen im kommenden Frühjahr beginnen und etwa zwei Jahre dauern, "
        "sagte die Bürgermeisterin."
    )
    mixed = CLEAN + "\n" + german_line + "\n"
    out, ctx = _run(mixed, resources)
    assert ctx.english is True
    clean_share = _run(CLEAN, resources)[0].values["language_other_line_share"]
    assert clean_share == 0.0
    checked = [ln for ln in parse(mixed).lines if len(ln.words) >= language.MIN_WORDS_FOR_LINE_CHECK]
    assert out.values["language_other_line_share"] == pytest.approx(1 / len(checked))


def test_nothing_detectable_gives_unknown(resources):
    out, ctx = _run("12345 67890 !!! ???", resources)
    assert ctx.language == "unknown"
    assert ctx.english is False
    assert out.values["language_top_prob"] == 0.0
    assert out.values["language_english_prob"] == 0.0


@pytest.mark.parametrize("text", [
    CLEAN,
    "Le conseil municipal a approuvé mardi le budget de la nouvelle bibliothèque du quartier.",
    "Der Stadtrat hat am Dienstag den Haushalt für die neue Bibliothek im Viertel beschlossen.",
    "Городской совет во вторник утвердил бюджет новой библиотеки.",
    "市议会周二批准了新图书馆的预算。",
    "ALL CAPS HEADLINE HERE and then some lower case words follow it",
    "Mixed ÀÉÎ õü ș ț \u2014 punctuation \u201cquoted\u201d text, e-mail a@b.com and www.example.com",
    "12345 678",
    "",
])
def test_detect_gives_langdetects_own_probabilities(text):
    """``detect`` re-implements langdetect's trial loop with arrays: it must answer exactly what
    langdetect's public API answers for the same sample and seed."""
    from langdetect.lang_detect_exception import LangDetectException

    from training.features.language import SAMPLE_CHARS, _factory, detect

    det = _factory().create()
    det.set_max_text_length(SAMPLE_CHARS)
    det.append(text[: SAMPLE_CHARS * 2])
    try:
        expected = [(p.lang, float(p.prob)) for p in det.get_probabilities()]
    except LangDetectException:
        expected = []
    assert detect(text) == expected


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 100, 129, 1000, 1025])
@pytest.mark.parametrize("count", [1, 5])
def test_batched_draws_are_random_choices(n, count):
    """``_draw_batch`` gives what ``count`` calls of ``Random.choice`` give, and leaves the generator
    where they leave it."""
    import random

    from training.features.language import _batched_draws_are_exact, _draw_batch

    seq = list(range(n))
    for seed in range(20):
        a, b = random.Random(seed), random.Random(seed)
        assert _batched_draws_are_exact(a)
        for _ in range(30):
            assert _draw_batch(a, n, count) == [b.choice(seq) for _ in range(count)]
        assert a.getstate() == b.getstate()


def test_batched_draws_are_not_trusted_on_another_generator():
    import random

    from training.features.language import _batched_draws_are_exact

    class Other(random.Random):
        def choice(self, seq):  # type: ignore[no-untyped-def]
            return seq[0]

    assert not _batched_draws_are_exact(Other(0))


@pytest.mark.parametrize("text", [
    "",
    "  two  spaces   and    more ",
    " leading space",
    "https://example.com/a?b=c and mail a.b@example.org here",
    "Ti\u1ebfng Vi\u00ea\u0323t co\u0301 da\u0302\u0301u",  # Vietnamese with combining marks
    "Городской совет утвердил бюджет. Latin words inside",
    "市议会周二批准了新图书馆的预算 with a few English words",
    "ạẞḀỿ Latin Extended Additional only",
    "ạẞḀỿ ạẞḀỿ x",  # mostly that block: langdetect counts it as non-Latin and drops the Latin letters
    "[\\]^_` between Z and a",
    "x" * 900,
])
def test_sample_is_langdetects_cleaned_text(text):
    from training.features.language import SAMPLE_CHARS, _factory, _sample

    det = _factory().create()
    det.set_max_text_length(SAMPLE_CHARS)
    det.append(text)
    det.cleaning_text()
    assert _sample(text, SAMPLE_CHARS) == det.text


@pytest.mark.parametrize("text", [
    "ABC DEF gHI jKL MNo",
    "AbCdEfGh IJKL mnop QRst",
    "  a  b  ",
    "ÀÉÎ ÕÜ àéî ǅ",
    "日本語 テキスト カタカナ",
    "Городской совет",
    "x",
    "",
])
def test_ngrams_are_langdetects(text):
    from training.features.language import _extract_ngrams, _factory

    det = _factory().create()
    det.append(text)
    det.cleaning_text()
    assert _extract_ngrams(det.text, det.word_lang_prob_map) == det._extract_ngrams()


def test_trials_from_the_raw_stream_are_the_generators_trials(monkeypatch):
    """The fast path (the generator's raw outputs read as one sequence) is taken, and gives exactly
    the probabilities of the loop that calls the generator, long trials (more draws than one window
    of raw outputs holds) included."""
    import numpy as np

    from training.features.language import SAMPLE_CHARS, _extract_ngrams, _factory, _sample

    assert language._stream_is_exact(0)
    texts = [CLEAN, GERMAN, "a", "市议会周二批准了新图书馆的预算。" * 20, "ok si no ja da " * 30]
    fast = []
    for text in texts:
        det = _factory().create()
        ngrams = _extract_ngrams(_sample(text, SAMPLE_CHARS), det.word_lang_prob_map)
        fast.append((det, ngrams, language._trials_from_stream(det, ngrams)))
    monkeypatch.setattr(language, "_stream_is_exact", lambda seed: False)
    for det, ngrams, probs in fast:
        assert np.array_equal(probs, language._trials(det, ngrams))


def test_threads_sharing_the_fast_path_get_each_texts_own_probabilities(monkeypatch):
    """The service scores in a thread pool: threads that grow the shared stream and rows at the same
    time (here from empty, in small steps, with the rows cleared often and threads switching every
    microsecond) must each get what one thread alone gets."""
    import sys
    import threading

    import numpy as np

    from training.features.language import SAMPLE_CHARS, _extract_ngrams, _factory, _sample

    texts = [f"{CLEAN}\nItem {i}." for i in range(6)] + [GERMAN, SCRAPED, "ok si no ja da " * 30]
    cases = []
    for text in texts:
        det = _factory().create()
        cases.append((det, _extract_ngrams(_sample(text, SAMPLE_CHARS), det.word_lang_prob_map)))
    expected = [language._trials(det, ngrams) for det, ngrams in cases]

    monkeypatch.setattr(language, "_STREAMS", {})
    monkeypatch.setattr(language, "_ROW_INDEX", {})
    monkeypatch.setattr(language, "_ROW_MATRIX", [np.empty((0, 0))])
    monkeypatch.setattr(language, "_STREAM_CHUNK", 8)
    monkeypatch.setattr(language, "_ROW_LIMIT", 400)
    results: dict[tuple[int, int], np.ndarray] = {}
    start = threading.Barrier(4)

    def work(t: int) -> None:
        start.wait()
        for k in range(3):
            for i, (det, ngrams) in enumerate(cases):
                results[(t, k * len(cases) + i)] = language._trials(det, ngrams)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(results) == 4 * 3 * len(cases)
    for (_, k), probs in results.items():
        assert np.array_equal(probs, expected[k % len(cases)]), k
