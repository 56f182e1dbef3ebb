"""Language: langdetect on a bounded sample, deterministic, plus the share of lines in another language."""

from __future__ import annotations

import math
import random
import re
import threading
from functools import lru_cache

import numpy as np
from langdetect import DetectorFactory
from langdetect.detector import Detector
from langdetect.detector_factory import init_factory
from langdetect.utils.ngram import NGram

from training.document import Document
from training.features import Context, FamilyOutput
from training.lexicons import STOP_WORDS

NAME = "language"
FEATURES = ("language_english_prob", "language_top_prob", "language_other_line_share")
# Known direction of a value (see features.FEATURE_DIRECTIONS): lines in another language are page furniture.
DIRECTIONS = {"language_other_line_share": -1}

SAMPLE_CHARS = 400  # langdetect reads at most this many characters of the longer lines (~1.6 ms)
MIN_WORDS_FOR_LINE_CHECK = 8  # a line this long with almost no English stop words is another language
DetectorFactory.seed = 0  # langdetect is random unless seeded: scores must be deterministic
if NGram.N_GRAM != 3:  # not an assert: it must hold under python -O too
    raise ImportError("training.features.language unrolls langdetect's n-grams of 1 to 3 characters")


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    DetectorFactory.seed = 0
    init_factory()
    from langdetect import detector_factory

    return detector_factory._factory  # type: ignore[attr-defined,no-any-return]


def detectable_languages() -> tuple[str, ...]:
    """The language codes langdetect can answer (its profiles), in its order."""
    return tuple(_factory().langlist)


def detect(text: str, *, max_chars: int = SAMPLE_CHARS) -> list[tuple[str, float]]:
    """Languages with probabilities, most likely first; empty when nothing is detectable."""
    det = _factory().create()
    det.set_max_text_length(max_chars)
    det.text = _sample(text[: max_chars * 2], max_chars)
    ngrams = _extract_ngrams(det.text, det.word_lang_prob_map)
    if not ngrams:
        return []
    probs = _trials(det, ngrams)
    found = [(lang, float(p)) for lang, p in zip(det.langlist, probs, strict=True) if p > det.PROB_THRESHOLD]
    found.sort(key=lambda lp: lp[1], reverse=True)  # as langdetect sorts: by probability, stable
    return found


_SPACE_RUN_RE = re.compile(" {2,}")
_LATIN_RE = re.compile("[A-z]+")  # langdetect's "Latin": 'A' <= ch <= 'z', six punctuation marks included
# Its "non-Latin": everything from U+0300 on. (langdetect means to leave out the Latin Extended
# Additional block, U+1E00-U+1EFF, but compares unicode_block()'s number with the block's name, which
# never matches: that block counts as non-Latin, and so it does here.)
_NON_LATIN_RE = re.compile("[\u0300-\U0010ffff]")


def _sample(text: str, max_chars: int) -> str:
    """The text langdetect reads after ``Detector.append(text)`` (with ``max_chars`` as its maximum
    length, on a new detector) and ``Detector.cleaning_text()``: URLs and e-mail addresses made spaces,
    Vietnamese diacritics combined, cut to ``max_chars`` characters, runs of spaces made one (its
    character loop keeps a space only after a character that is not one), and the Latin letters dropped
    when other scripts' letters are more than twice as many. With regular expressions instead of
    character loops; a test holds it equal to langdetect's."""
    text = Detector.URL_RE.sub(" ", text)
    text = Detector.MAIL_RE.sub(" ", text)
    text = _SPACE_RUN_RE.sub(" ", NGram.normalize_vi(text)[:max_chars])
    latin = sum(map(len, _LATIN_RE.findall(text)))
    if latin * 2 < len(_NON_LATIN_RE.findall(text)):
        text = _LATIN_RE.sub("", text)
    return text


_NORMALISED: dict[str, tuple[str, bool]] = {}  # NGram.normalize per character and its case, remembered


def _extract_ngrams(text: str, word_map: dict[str, list[float]]) -> list[str]:
    """langdetect's ``Detector._extract_ngrams`` (with ``NGram.add_char`` inlined, unrolled for its
    n-grams of 1 to 3 characters, and each character's normalisation and case looked up once per
    process): the same n-grams in the same order."""
    result: list[str] = []
    append = result.append
    normalised = _NORMALISED
    grams = " "  # NGram's buffer: the last (up to 3) characters, or " " after a space
    capital = False
    last_upper = False  # grams[-1].isupper()
    for ch in text:
        entry = normalised.get(ch)
        if entry is None:
            if len(normalised) >= 100_000:
                normalised.clear()
            c = NGram.normalize(ch)
            entry = normalised[ch] = (c, c.isupper())
        c, upper = entry
        if grams[-1] == " ":
            grams = " "
            capital = False
            if c == " ":
                continue
            grams += c
        elif len(grams) >= 3:  # NGram.N_GRAM
            grams = grams[1:] + c
        else:
            grams += c
        if upper:
            if last_upper:
                capital = True
        else:
            capital = False
        last_upper = upper
        if capital:
            continue
        if c != " " and c in word_map:
            append(c)
        if len(grams) >= 2:
            if grams[-2:] in word_map:
                append(grams[-2:])
            if len(grams) >= 3 and grams in word_map:
                append(grams)
    return result


_NGRAM_ROWS: dict[str, np.ndarray] = {}  # a profile row as an array, made the first time an n-gram is extracted
_DRAWS_PER_CHECK = 5  # langdetect normalises (and checks convergence) after every fifth draw


def _row(word_map: dict[str, list[float]], word: str) -> np.ndarray:
    row = _NGRAM_ROWS.get(word)
    if row is None:
        if len(_NGRAM_ROWS) >= 200_000:  # bounded (langdetect's profiles hold ~170,000 n-grams)
            _NGRAM_ROWS.clear()
        row = _NGRAM_ROWS[word] = np.array(word_map[word], dtype=np.float64)
    return row


def _draw_batch(rand: random.Random, n: int, count: int) -> list[int]:
    """``count`` successive ``rand.choice`` indices into a sequence of length ``n``: the same values, and
    the generator left in the same state, as ``count`` calls. ``Random._randbelow`` draws ``n.bit_length()``
    random bits until they are below ``n``: the accepted draws are the values below ``n`` of that stream,
    so the stream can be read in batches of the number still missing (it is never read past the last)."""
    getrandbits = rand.getrandbits
    k = n.bit_length()
    out = [r for r in [getrandbits(k) for _ in range(count)] if r < n]
    while len(out) < count:
        out += [r for r in [getrandbits(k) for _ in range(count - len(out))] if r < n]
    return out


def _batched_draws_are_exact(rand: random.Random) -> bool:
    """:func:`_draw_batch` holds when ``choice`` is ``seq[_randbelow(len(seq))]`` by ``getrandbits``."""
    cls = type(rand)
    return (
        cls.choice is random.Random.choice
        and cls._randbelow is random.Random._randbelow_with_getrandbits  # type: ignore[attr-defined]
        and cls.getrandbits is random.Random.getrandbits
    )


# The fast path's generator: langdetect seeds its generator with the same seed before every text, so
# the generator's raw 32-bit outputs are one sequence for all texts; it is made once (and lengthened
# when a text needs more of it) and read as an array. ``choice`` draws ``getrandbits(k)`` (one output
# shifted right by ``32 - k``) until one is below the sequence's length; ``gauss`` reads two
# ``random()``s (two outputs each) every other call.
_TWOPI = 2.0 * math.pi
_STREAM_CHUNK = 4096
_STREAMS: dict[int, tuple[random.Random, list[int], np.ndarray]] = {}
_ROW_INDEX: dict[str, int] = {}  # n-gram -> its row of _ROW_MATRIX[0]
_ROW_MATRIX: list[np.ndarray] = [np.empty((0, 0))]
_ROW_LIMIT = 200_000  # rows kept at most (langdetect's profiles hold ~170,000 n-grams)
# The stream and the rows are shared by the process's threads (the service scores in a thread pool): one
# text's trials at a time read and grow them. (Python code runs one thread at a time anyway.)
_FAST_PATH_LOCK = threading.Lock()


def _stream(seed: int, length: int) -> tuple[list[int], np.ndarray]:
    """At least ``length`` raw outputs of ``random.Random(seed)``, as a list and as an array."""
    rng, values, array = _STREAMS.get(seed) or (random.Random(seed), [], np.zeros(0, dtype=np.int64))
    if len(values) < length:
        getrandbits = rng.getrandbits
        values += [getrandbits(32) for _ in range(max(length - len(values), _STREAM_CHUNK))]
        array = np.asarray(values, dtype=np.int64)
        _STREAMS[seed] = (rng, values, array)
    return values, array


def _uniform(a: int, b: int) -> float:
    """``Random.random()`` from its two raw outputs (CPython's ``random_random``)."""
    return ((a >> 5) * 67108864.0 + (b >> 6)) * (1.0 / 9007199254740992.0)


def _gauss_pair(raw: list[int]) -> tuple[float, float]:
    """What ``Random.gauss`` makes of four raw outputs: its value and the one it keeps for its next call."""
    x2pi = _uniform(raw[0], raw[1]) * _TWOPI
    g2rad = math.sqrt(-2.0 * math.log(1.0 - _uniform(raw[2], raw[3])))
    return math.cos(x2pi) * g2rad, math.sin(x2pi) * g2rad


@lru_cache(maxsize=8)
def _stream_is_exact(seed: int) -> bool:
    """Whether the raw sequence read as above gives what ``Random(seed)``'s ``gauss`` and ``choice``
    give (checked once against the generator itself, on draws from sequences of several lengths)."""
    if not _batched_draws_are_exact(random.Random(seed)) or random.Random.gauss.__module__ != "random":
        return False
    rand = random.Random(seed)
    values, _ = _stream(seed, 4096)
    pos, gauss_next = 0, None
    for n in (1, 2, 3, 5, 100, 129, 1000, 1025, 7, 8):
        g = rand.gauss(0.0, 1.0)
        if gauss_next is None:
            z, gauss_next = _gauss_pair(values[pos : pos + 4])
            pos += 4
        else:
            z, gauss_next = gauss_next, None
        if g != 0.0 + z * 1.0:
            return False
        shift = 32 - n.bit_length()
        for _ in range(20):
            while values[pos] >> shift >= n:
                pos += 1
            if rand.choice(range(n)) != values[pos] >> shift:
                return False
            pos += 1
    return True


def _row_ids(word_map: dict[str, list[float]], words: list[str]) -> np.ndarray:
    """The rows of ``_ROW_MATRIX[0]`` that hold these n-grams' profiles (added the first time one is drawn)."""
    index = _ROW_INDEX
    ids = list(map(index.get, words))
    if None in ids:
        matrix = _ROW_MATRIX[0]
        for j, (word, row) in enumerate(zip(words, ids, strict=True)):
            if row is None:
                row = index.get(word)
                if row is None:
                    row = index[word] = len(index)
                    if row >= len(matrix):
                        grown = np.empty((max(2 * len(matrix), 4096), len(word_map[word])))
                        if len(matrix):
                            grown[: len(matrix)] = matrix
                        matrix = _ROW_MATRIX[0] = grown
                    matrix[row] = word_map[word]
                ids[j] = row
    return np.asarray(ids, dtype=np.intp)


def _trials(det: Detector, ngrams: list[str]) -> np.ndarray:
    """langdetect's ``Detector._detect_block`` after n-gram extraction, with the 55 language
    probabilities as one array: the same random draws and the same floating-point operations in the
    same order (normalised by Python's own ``sum``, as langdetect does), so the same probabilities, faster.

    The draws between two normalisations go in as one reduction over the stacked rows
    ``[prob, weight + row_1, ..., weight + row_5]``: ``np.multiply.reduce`` along the first axis multiplies
    them in that order, element by element, as langdetect's loop does. The convergence test takes the
    largest probability before the division by the sum (division by a positive number keeps the order,
    and rounds the largest to the same number). A test holds the answers equal to langdetect's API.
    """
    if isinstance(det.seed, int) and type(det.random) is random.Random:
        with _FAST_PATH_LOCK:
            if _stream_is_exact(det.seed):
                return _trials_from_stream(det, ngrams)
    word_map = det.word_lang_prob_map
    rand = det.random
    rand.seed(det.seed)
    n_lang = len(det.langlist)
    n = len(ngrams)
    batched = _batched_draws_are_exact(rand)
    indices = range(n)  # the fallback asks choice() itself, as langdetect does, for an index
    rows = [_row(word_map, w) for w in ngrams]  # ngrams are all in word_map (see _extract_ngrams)
    # buf[0]: the probabilities, normalised; buf[1:]: weight + the rows of the draws since then.
    buf = np.empty((_DRAWS_PER_CHECK + 1, n_lang))
    stacks = [buf[: c + 1] for c in range(_DRAWS_PER_CHECK + 1)]
    drawn_rows = [buf[1 : c + 1] for c in range(_DRAWS_PER_CHECK + 1)]
    product = np.empty(n_lang)
    multiply = np.multiply.reduce
    divide = np.divide
    langprob = np.zeros(n_lang)
    for _ in range(det.n_trial):
        buf[0] = det.prior_map if det.prior_map is not None else [1.0 / n_lang] * n_lang
        alpha = det.alpha + rand.gauss(0.0, 1.0) * det.ALPHA_WIDTH
        weight = alpha / det.BASE_FREQ
        i = 0  # draws so far; langdetect checks after its draws number 0, 5, 10, ... (counted from 0)
        while True:
            count = 1 if i == 0 else _DRAWS_PER_CHECK
            drawn = _draw_batch(rand, n, count) if batched else [rand.choice(indices) for _ in range(count)]
            for j, d in enumerate(drawn, 1):
                buf[j] = rows[d]
            drawn_rows[count] += weight
            multiply(stacks[count], axis=0, out=product)
            i += count
            values = product.tolist()
            total = sum(values)  # the interpreter's own sum, as langdetect's (3.12 changed it)
            divide(product, total, out=buf[0])
            if max(values) / total > det.CONV_THRESHOLD or i - 1 >= det.ITERATION_LIMIT:
                break
        langprob += buf[0] / det.n_trial
    return langprob


def _trials_from_stream(det: Detector, ngrams: list[str]) -> np.ndarray:
    """:func:`_trials` reading the generator's raw sequence (see :func:`_stream`) instead of calling
    it: a trial's draws are found with array operations, and the drawn n-grams' rows, plus the trial's
    weight, are taken from one matrix of profiles at once, into ``stack[1:]``. The probabilities sit
    in the row just before the draws still to come (the row of the last draw already multiplied in),
    so each normalisation reads one slice of ``stack``. The same draws, the same rows, the same
    arithmetic in the same order."""
    seed = det.seed
    n = len(ngrams)
    n_lang = len(det.langlist)
    shift = 32 - n.bit_length()
    if len(_ROW_INDEX) + n > _ROW_LIMIT:  # bounded; never emptied in the middle of a text
        _ROW_INDEX.clear()
        _ROW_MATRIX[0] = np.empty((0, 0))
    word_map = det.word_lang_prob_map
    prior = np.array(det.prior_map if det.prior_map is not None else [1.0 / n_lang] * n_lang, dtype=np.float64)
    product = np.empty(n_lang)
    multiply = np.multiply.reduce
    divide = np.divide
    langprob = np.zeros(n_lang)
    pos = 0  # raw outputs read so far
    gauss_next: float | None = None
    window = 128  # raw outputs looked at for a trial's draws (more when it needs more)
    for _ in range(det.n_trial):
        if gauss_next is None:
            outputs, _ = _stream(seed, pos + 4)
            z, gauss_next = _gauss_pair(outputs[pos : pos + 4])
            pos += 4
        else:
            z, gauss_next = gauss_next, None
        alpha = det.alpha + (0.0 + z * 1.0) * det.ALPHA_WIDTH  # gauss(0.0, 1.0) returns mu + z * sigma
        weight = alpha / det.BASE_FREQ
        used = 0  # draws so far; langdetect checks after its draws number 0, 5, 10, ... (counted from 0)
        have = 0
        probs = prior
        while True:
            count = 1 if used == 0 else _DRAWS_PER_CHECK
            if used + count > have:  # the accepted draws among the next ``window`` raw outputs
                _, raw = _stream(seed, pos + window)
                bits = raw[pos : pos + window] >> shift
                at = np.flatnonzero(bits < n)
                rows = _row_ids(word_map, [ngrams[d] for d in bits[at].tolist()])
                have = len(rows)
                if used + count > have:
                    window *= 2
                    continue
                stack = np.empty((have + 1, n_lang))
                np.take(_ROW_MATRIX[0], rows, axis=0, out=stack[1:])
                stack[1:] += weight  # weight + the row, as langdetect adds them
                stack[used] = probs
            multiply(stack[used : used + count + 1], axis=0, out=product)
            used += count
            values = product.tolist()
            total = sum(values)  # the interpreter's own sum, as langdetect's (3.12 changed it)
            probs = stack[used]
            divide(product, total, out=probs)
            if max(values) / total > det.CONV_THRESHOLD or used - 1 >= det.ITERATION_LIMIT:
                break
        pos += int(at[used - 1]) + 1
        langprob += probs / det.n_trial
    return langprob


def detect_document(doc: Document) -> list[tuple[str, float]]:
    """:func:`detect` on the document's longer lines first: menus and buttons say little about the
    article's language."""
    long_lines = [ln.text for ln in doc.lines if len(ln.words) >= 6] or [ln.text for ln in doc.lines]
    return detect("\n".join(long_lines))


def document_language(doc: Document) -> str:
    """The document's most likely language (``unknown`` when nothing is detectable)."""
    probs = detect_document(doc)
    return probs[0][0] if probs else "unknown"


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    probs = detect_document(doc)
    top, top_p = (probs[0] if probs else ("unknown", 0.0))
    en_p = next((p for lang, p in probs if lang == "en"), 0.0)
    context.language = top
    context.english = top == "en"
    other = math.nan
    if context.english:
        checked = [ln for ln in doc.lines if len(ln.words) >= MIN_WORDS_FOR_LINE_CHECK]
        if checked:
            stop = STOP_WORDS.__contains__
            foreign = [ln for ln in checked if sum(map(stop, map(str.lower, ln.words))) / len(ln.words) < 0.08]
            other = len(foreign) / len(checked)
    evidence = {
        "language": [{"language": top, "probability": round(top_p, 3), "candidates": probs[:3]}],
    }
    return FamilyOutput(
        values={"language_english_prob": en_p, "language_top_prob": top_p, "language_other_line_share": other},
        evidence=evidence,
        extra={"language": {"code": top, "probability": round(top_p, 3), "english_signals": context.english}},
    )
