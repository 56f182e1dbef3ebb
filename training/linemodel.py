"""The learned line model: is a line article content, or which kind of boilerplate?

A multinomial logistic regression over two blocks of features per line:

* dense layout features (length, terminal punctuation, stop-word density, capitalisation, position,
  repetition, the shape of the neighbouring lines, keyword-lexicon hits per category), and
* hashed word unigrams and bigrams, so that phrasings never seen in training still land near the
  words they share with seen ones ("We value your privacy" near "This site uses cookies").

Lines are classified with their document as context, so ``fit`` and ``predict_proba`` take lists of
documents, each a list of line strings.
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import compress, repeat
from operator import itemgetter, methodcaller

import numpy as np
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils import murmurhash3_32

from training.document import word_pattern
from training.lexicons import (
    CATEGORIES,
    EMAIL_RE,
    FUNCTION_WORDS,
    PHONE_RE,
    URL_RE,
    function_words,
    keyword_hits_lines,
)

try:  # scikit-learn's own C hashing loop (private): the fast path; the public murmurhash3_32 otherwise
    from sklearn.feature_extraction._hashing_fast import transform as _hash_features
except ImportError:  # pragma: no cover - depends on the installed scikit-learn
    _hash_features = None

__all__ = [
    "LineModel", "CLASSES", "line_layout_features", "DENSE_FEATURE_NAMES", "NotFittedError", "UnsupportedHasherError",
]

CLASSES: tuple[str, ...] = ("content", *CATEGORIES)
CLOSERS = "\"'”’)]」』）"  # may follow a sentence's last punctuation mark
# A list item's mark: a bullet or a number, then a space (the generator's list items keep theirs by it).
BULLET_RE = re.compile(r"^(?:[-•*·▪►–]\s|\d{1,2}[.)]\s)")
_SEPARATORS = "|›»·•/→>"
_SHORT_WORDS = 6

DENSE_FEATURE_NAMES: tuple[str, ...] = (
    "log_chars", "log_words", "terminal", "colon_end", "ellipsis_end", "bullet", "upper_ratio",
    "title_ratio", "stop_ratio", "digit_ratio", "has_url", "has_email", "has_phone", "separators",
    "rel_pos", "is_first", "is_last", "first3", "last3", "tail_dist", "repeated", "prev_log_chars",
    "next_log_chars", "prev_terminal", "next_terminal", "short_run", "words_per_sentence", "same_as_first",
    "log_doc_lines", "quote", "first_upper", "is_short_nonterminal",
    *(f"kw_{c}" for c in CATEGORIES),
)


class NotFittedError(RuntimeError):
    """Raised when a model is used before ``fit``."""


_TERMINALS = frozenset(".!?…。！？")  # with the full-width marks Chinese and Japanese end sentences with
# A line can only hold a URL_RE match if it holds one of these: a cheap scan of the whole document first.
# Every alternative starts with ":" or ".", so the scan skips to those characters ("https?://" is found
# by its "://", "www." by its "." with "www" before it: the match's line is the same). It finds more
# lines than URL_RE would ("ftp://" too): a hint only, each hinted line is then searched with URL_RE.
_URL_HINT_RE = re.compile(r"://|\.(?:(?<=www\.)|(?:com|net|org|io|co|info|biz|news|uk|de)\b)", re.I)

# Every PHONE_RE match holds two runs of 3-4 digits around a separator.
_PHONE_HINT_RE = re.compile(r"\d{3}(?:[^\S\n]|[.-])\d{3}")


_TOKEN_PATTERN = r"(?u)\b\w+\b|[©|›»@]"  # the hashed n-grams' tokens (LineModel._hasher)
_TOKEN_PATTERN_FAST = r"\w+|[©|›»@]"

_SENT_END_RE = re.compile(r"[.!?](?:\s|$)|[。！？]")

# Per-character classes for the whole Basic Multilingual Plane, built once: the per-line character
# counts (letters, capitals, digits, separators) are then array sums instead of Python loops.
_ALPHA, _UPPER, _DIGIT, _SEP = 1, 2, 4, 8
# and, above the four counted classes: whitespace (as \s), a sentence's end mark as _SENT_END_RE has them
# (".!?" when whitespace or the line's end follows, "。！？" always), and a quotation mark ('"', '“' or '”')
_SPACE, _END_MARK, _FULL_END_MARK, _QUOTE = 16, 32, 64, 128


def _char_class(c: str) -> int:
    bits = (_ALPHA * c.isalpha()) | (_UPPER * c.isupper()) | (_DIGIT * c.isdigit()) | (_SPACE * c.isspace())
    if c in _SEPARATORS:
        bits |= _SEP
    if c in ".!?":
        bits |= _END_MARK
    if c in "。！？":
        bits |= _FULL_END_MARK
    if c in '"“”':
        bits |= _QUOTE
    return bits


@lru_cache(maxsize=1)
def _char_table() -> np.ndarray:
    return np.array([_char_class(chr(code)) for code in range(0x10000)], dtype=np.uint8)


def _char_flags(chars: str) -> np.ndarray:
    """The class bits of every character of ``chars``."""
    # surrogatepass: a lone surrogate (JSON allows "\udcff") is a code point like any other, with no class
    codes = np.frombuffer(chars.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    flags = _char_table()[np.minimum(codes, 0xFFFF)]
    astral = np.flatnonzero(codes > 0xFFFF)
    for k in astral:  # rare (emoji, historic scripts): classified one by one
        flags[k] = _char_class(chr(int(codes[k])))
    return flags


def _class_counts(lines: Sequence[str], flags: np.ndarray) -> np.ndarray:
    """Per line: letters, capitals, digits and separator characters, shape ``(len(lines), 4)``;
    ``flags``: the class bits of ``"".join(lines)``."""
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    # the four class bits (the lowest) of every character as four columns of 0 and 1
    bits = np.unpackbits(flags[:, None], axis=1, count=4, bitorder="little")
    csum = np.zeros((len(flags) + 1, 4), dtype=np.int64)
    np.cumsum(bits, axis=0, dtype=np.int64, out=csum[1:])
    ends = np.cumsum(lengths)
    return csum[ends] - csum[ends - lengths]


def _line_starts(lines: Sequence[str]) -> np.ndarray:
    """Where each line starts in ``"\n".join(lines)``."""
    starts = np.zeros(len(lines), dtype=np.int64)
    np.cumsum(np.fromiter(map(len, lines[:-1]), dtype=np.int64, count=max(len(lines) - 1, 0)) + 1, out=starts[1:])
    return starts


def _line_of_matches(pattern: re.Pattern[str], joined: str, starts: np.ndarray) -> np.ndarray:
    """The line of every match of ``pattern`` in ``joined`` (the lines joined by newlines, starting at
    ``starts``), by where the match starts; in order."""
    positions = [m.start() for m in pattern.finditer(joined)]
    return np.searchsorted(starts, np.asarray(positions, dtype=np.int64), side="right") - 1


def _lines_matching(pattern: re.Pattern[str], lines: Sequence[str]) -> set[int]:
    """Indices of the lines where ``pattern`` (which never matches a newline) finds something."""
    return set(_line_of_matches(pattern, "\n".join(lines), _line_starts(lines)).tolist()) if lines else set()


def _per_line_sums(flags: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sums of ``flags`` (one per word of the document, in order) over each line's ``counts`` words."""
    csum = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(flags, dtype=np.int64)])
    ends = np.cumsum(counts)
    return csum[ends] - csum[ends - counts]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` per line, 0.0 where ``den`` is 0: as Python's ``int / int`` rounds it (both are
    far below 2**53, so each converts exactly to a float and the quotient is rounded once)."""
    out = np.zeros(len(den), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def line_layout_features(
    lines: Sequence[str], words: Sequence[Sequence[str]] | None = None, *, stop: frozenset[str] = FUNCTION_WORDS
) -> np.ndarray:
    """Dense features for every line of one document, shape ``(len(lines), len(DENSE_FEATURE_NAMES))``.

    ``words``: the lines' word tokens when the caller has them already (a parsed document does).
    ``stop``: the function words of the document's language, for the stop-word density.
    Column by column: per-character counts are array sums over the whole document, per-word counts
    array sums over all its words, pattern matches one scan of the whole document, position and
    neighbour features array shifts; only what needs a line's text is a pass over the lines.
    """
    n = len(lines)
    out = np.zeros((n, len(DENSE_FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return out
    if words is not None:
        toks = [words[i] for i in range(n)]
    else:  # as parse() finds them (training passes none): one pattern for the whole document
        findall = word_pattern("\n".join(lines)).findall
        toks = [findall(line) for line in lines]
    lowered = [line.lower() for line in lines]
    counts = Counter(lowered)
    first = lowered[0]
    n_chars = np.fromiter(map(len, lines), dtype=np.float64, count=n)
    word_counts = np.fromiter(map(len, toks), dtype=np.int64, count=n)
    n_words = word_counts.astype(np.float64)
    terminal = np.fromiter((line.rstrip(CLOSERS)[-1:] in _TERMINALS for line in lines), dtype=bool, count=n)
    short_nonterm = (n_words < _SHORT_WORDS) & ~terminal
    log_chars = np.log1p(n_chars)
    flags = _char_flags("".join(lines))
    classes = _class_counts(lines, flags)
    joined = "\n".join(lines)
    starts = _line_starts(lines)
    url_lines = set(_line_of_matches(_URL_HINT_RE, joined, starts).tolist())
    idx = np.arange(n)

    out[:, 0] = log_chars
    out[:, 1] = np.log1p(n_words)
    out[:, 2] = terminal
    out[:, 6] = classes[:, 1] / np.maximum(classes[:, 0], 1)
    out[:, 9] = classes[:, 2] / np.maximum(n_chars, 1)
    out[:, 13] = np.minimum(classes[:, 3], 5)
    out[:, 14] = idx / (n - 1) if n > 1 else 0.0
    out[0, 15] = 1.0
    out[n - 1, 16] = 1.0
    out[:, 17] = idx < 3
    out[:, 18] = idx >= n - 3
    out[:, 19] = np.minimum(n - 1 - idx, 10) / 10
    out[1:, 21] = log_chars[:-1]
    out[:-1, 22] = log_chars[1:]
    out[:, 23] = 1.0
    out[1:, 23] = terminal[:-1]
    out[:, 24] = 1.0
    out[:-1, 24] = terminal[1:]
    # Short non-terminal lines among the three lines before and after.
    run = np.concatenate([[0], np.cumsum(short_nonterm)])
    out[:, 25] = (run[np.minimum(idx + 4, n)] - run[np.maximum(idx - 3, 0)] - short_nonterm) / 6
    out[:, 28] = math.log1p(n)
    out[:, 31] = short_nonterm
    out[:, 32:] = np.minimum(keyword_hits_lines(lowered), 3)

    out[:, 3] = np.fromiter(map(methodcaller("endswith", ":"), lines), dtype=bool, count=n)
    out[:, 4] = np.fromiter(map(methodcaller("endswith", ("…", "...")), lines), dtype=bool, count=n)
    out[:, 5] = np.fromiter((m is not None for m in map(BULLET_RE.match, lines)), dtype=bool, count=n)
    # Capitalised words and function words, counted over all the document's words at once.
    all_words = [w for tk in toks for w in tk]
    n_all = len(all_words)
    capitalised = np.fromiter(map(str.isupper, map(itemgetter(0), all_words)), dtype=bool, count=n_all)
    function = np.fromiter(map(stop.__contains__, map(str.lower, all_words)), dtype=bool, count=n_all)
    out[:, 7] = _ratio(_per_line_sums(capitalised, word_counts), word_counts)
    out[:, 8] = _ratio(_per_line_sums(function, word_counts), word_counts)
    for i in url_lines:
        out[i, 10] = "." in lines[i] and URL_RE.search(lines[i]) is not None
    if "@" in joined:
        for i in set(_line_of_matches(_AT_RE, joined, starts).tolist()):
            out[i, 11] = EMAIL_RE.search(lines[i]) is not None
    # A phone number has at least six digits (str.isdigit holds for every \d): only such lines are searched.
    for i in np.flatnonzero(classes[:, 2] >= 6).tolist():
        line = lines[i]
        out[i, 12] = _PHONE_HINT_RE.search(line) is not None and PHONE_RE.search(line) is not None
    out[:, 20] = np.fromiter(map(counts.__getitem__, lowered), dtype=np.int64, count=n) > 1
    # Sentences: the line's sentence ends (a full stop, ! or ? before a space or the line's end), at least one.
    # (_SENT_END_RE's matches per line, from the characters' class bits: a mark of ".!?" followed by
    # whitespace or at its line's end, in "\n".join(lines), or one of "。！？"; a match is one mark.)
    char_counts = n_chars.astype(np.int64)
    followed = np.zeros(len(flags), dtype=bool)
    followed[:-1] = (flags[1:] & _SPACE) > 0
    followed[(np.cumsum(char_counts) - 1)[char_counts > 0]] = True
    ends = ((flags & _FULL_END_MARK) > 0) | (((flags & _END_MARK) > 0) & followed)
    n_sent = np.maximum(_per_line_sums(ends, char_counts), 1)
    out[:, 26] = np.minimum(word_counts / n_sent, 60) / 60
    if len(first) > 20:
        out[1:, 27] = [low == first or first in low for low in lowered[1:]]
    else:
        out[1:, 27] = [low == first for low in lowered[1:]]
    out[:, 29] = _per_line_sums((flags & _QUOTE) > 0, char_counts) > 0  # a quotation mark in the line
    nonempty = n_chars > 0
    first_upper = np.zeros(n, dtype=bool)
    first_upper[nonempty] = (flags[(np.cumsum(n_chars) - n_chars).astype(np.int64)[nonempty]] & _UPPER) > 0
    out[:, 30] = first_upper
    return out


_AT_RE = re.compile("@")


class LineModel:
    """Classifies each line of a document as ``content`` or one boilerplate category.

    Parameters are keyword-only and stored as given; learned state ends in ``_``.
    ``C``: inverse regularisation of the logistic regression (default 2.0).
    ``n_hash_features``: width of the hashed word n-gram block (default 2**15).
    """

    def __init__(self, *, C: float = 2.0, n_hash_features: int = 2**15, random_state: int = 0) -> None:
        self.C = C
        self.n_hash_features = n_hash_features
        self.random_state = random_state

    def _hasher(self) -> HashingVectorizer:
        return HashingVectorizer(
            n_features=self.n_hash_features, ngram_range=(1, 2), alternate_sign=False, norm="l2",
            token_pattern=_TOKEN_PATTERN,
        )

    def _matrix(
        self,
        docs: Sequence[Sequence[str]],
        *,
        fit: bool,
        words: Sequence[Sequence[Sequence[str]] | None] | None = None,
        languages: Sequence[str] | None = None,
    ) -> sparse.csr_matrix:
        """Features of every line of ``docs``; ``words``: per document, its lines' tokens when known;
        ``languages``: per document, its language (default English)."""
        flat = [line for doc in docs for line in doc]
        per_doc_words = words if words is not None else [None] * len(docs)
        langs = languages if languages is not None else ["en"] * len(docs)
        blocks = [
            line_layout_features(d, w, stop=function_words(lang))
            for d, w, lang in zip(docs, per_doc_words, langs, strict=True)
            if len(d)
        ]
        dense = np.vstack(blocks) if blocks else np.zeros((0, len(DENSE_FEATURE_NAMES)))
        if fit:
            self.scaler_ = StandardScaler().fit(dense)
        dense = self.scaler_.transform(dense)
        hashed = self.hasher_.transform(flat)
        return sparse.hstack([sparse.csr_matrix(dense), hashed], format="csr")

    def fit(
        self,
        docs: Sequence[Sequence[str]],
        labels: Sequence[Sequence[str]],
        *,
        languages: Sequence[str] | None = None,
    ) -> LineModel:
        """``languages``: each document's language (its function words count in the stop-word density)."""
        y = [lab for doc in labels for lab in doc]
        unknown = set(y) - set(CLASSES)
        if unknown:
            raise ValueError(f"unknown line labels {sorted(unknown)}; expected one of {CLASSES}")
        self.__dict__.pop("_fast_", None)  # a scorer folded from earlier weights
        self.hasher_ = self._hasher()
        X = self._matrix(docs, fit=True, languages=languages)
        clf = LogisticRegression(C=self.C, max_iter=3000, random_state=self.random_state)
        clf.fit(X, y)
        self.classifier_ = clf
        # Columns of predict_proba in CLASSES order, whichever classes the training data had.
        self.class_index_ = [list(clf.classes_).index(c) if c in clf.classes_ else -1 for c in CLASSES]
        return self

    def predict_proba(
        self, lines: Sequence[str], *, words: Sequence[Sequence[str]] | None = None, language: str = "en"
    ) -> np.ndarray:
        """Probabilities per line, columns in :data:`CLASSES` order (``words``: tokens per line, optional;
        ``language``: the document's, for its function words).

        The same numbers as the fitted pipeline (scaler, hashed n-grams, logistic regression), computed
        without building the sparse design matrix: the scaler is folded into the dense weights, and each
        word n-gram's hashed column is looked up once per process and then read from a dict.
        """
        return self.predict_proba_layout(lines, words=words, language=language)[0]

    def predict_proba_layout(
        self, lines: Sequence[str], *, words: Sequence[Sequence[str]] | None = None, language: str = "en"
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba`, and the lines' layout features it read (:func:`line_layout_features`,
        unscaled): a caller that needs which lines hold a URL, an e-mail address or a phone number
        (columns ``has_url``, ``has_email``, ``has_phone``) does not search every line again."""
        if not hasattr(self, "classifier_"):
            raise NotFittedError("LineModel is not fitted; call fit() or load a trained model")
        if not lines:
            return np.zeros((0, len(CLASSES))), np.zeros((0, len(DENSE_FEATURE_NAMES)))
        fast = self._fast()
        dense = line_layout_features(lines, words, stop=function_words(language))
        logits = dense @ fast.dense_weights + fast.intercept
        logits += fast.hashed_logits(lines)
        if logits.shape[1] == 1:  # two classes: sklearn's binary logistic regression
            p1 = expit(logits[:, 0])
            raw = np.column_stack([1.0 - p1, p1])
        else:
            raw = softmax(logits, axis=1)
        out = np.zeros((len(lines), len(CLASSES)))
        for j, k in enumerate(self.class_index_):
            if k >= 0:
                out[:, j] = raw[:, k]
        return out, dense

    def check_scorer(self) -> None:
        """Raise :class:`UnsupportedHasherError` when the fitted model's hashed n-grams are made in a way its
        scorer (:meth:`predict_proba`) does not reproduce; the model loader calls it, so that such a model
        is refused before it scores anything."""
        hasher = getattr(self, "hasher_", None)
        if hasher is not None:
            _check_hasher(hasher)

    def _fast(self) -> _FastLines:
        fast: _FastLines | None = getattr(self, "_fast_", None)
        if fast is None:
            fast = _FastLines(self)
            self._fast_ = fast
        return fast

    def __getstate__(self) -> dict[str, object]:
        state = {k: v for k, v in self.__dict__.items() if k != "_fast_"}
        hasher = state.get("hasher_")
        if hasher is not None and "_stop_words_id" in vars(hasher):
            # scikit-learn remembers id(stop_words) after a transform: a memory address, different in
            # every process, which made two identical trainings write different model files.
            hasher = copy.copy(hasher)
            del hasher._stop_words_id
            state["hasher_"] = hasher
        return state

    def predict(self, lines: Sequence[str]) -> list[str]:
        proba = self.predict_proba(lines)
        return [CLASSES[k] for k in proba.argmax(axis=1)]


class _FastLines:
    """A fitted :class:`LineModel`'s weights rearranged for scoring one document at a time."""

    def __init__(self, model: LineModel) -> None:
        clf = model.classifier_
        coef = np.asarray(clf.coef_, dtype=np.float64)
        n_dense = len(DENSE_FEATURE_NAMES)
        scale = np.asarray(model.scaler_.scale_, dtype=np.float64)
        mean = np.asarray(model.scaler_.mean_, dtype=np.float64)
        dense = coef[:, :n_dense] / scale
        self.dense_weights = np.ascontiguousarray(dense.T)
        self.intercept = np.asarray(clf.intercept_, dtype=np.float64) - dense @ mean
        self.hash_weights = np.ascontiguousarray(coef[:, n_dense:].T)
        hasher = model.hasher_
        _check_hasher(hasher)
        self.n_features = int(hasher.n_features)
        pattern = hasher.token_pattern
        # The document-wide passes (one tokenisation of the joined lines, a newline token at each line's
        # end; the tokens' bytes joined by spaces) hold for the default pattern, whose tokens never hold a
        # newline or a space. Another pattern's tokens might (r"[^,]+"): its lines are tokenised one by
        # one, as HashingVectorizer does.
        self.document_wide = pattern == _TOKEN_PATTERN
        if self.document_wide:
            # The same tokens without the word boundaries, found faster: a scan from left to right meets
            # a run of word characters at its first one (no other token ends inside a word: those are
            # single non-word characters) and takes it whole, so both boundaries (defined by \w) hold.
            pattern = _TOKEN_PATTERN_FAST
        self.token_re = re.compile(pattern)
        self.token_or_newline_re = re.compile(f"{pattern}|\n")

    def hashed_logits(self, lines: Sequence[str]) -> np.ndarray:
        """Each line's hashed word unigrams and bigrams (counts, l2-normalised per line, as sklearn's
        HashingVectorizer makes them) times their weights: shape ``(len(lines), classes)``."""
        out = np.zeros((len(lines), self.hash_weights.shape[1]))
        cols, rows = self.hashed_columns(lines)
        if not len(cols):
            return out
        # The distinct (line, column) keys in order and their counts (np.unique's answer, without its
        # extra passes).
        keys = rows * self.n_features + cols
        keys.sort()
        first = np.empty(len(keys), dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts_k = np.flatnonzero(first)
        counts = np.diff(starts_k, append=len(keys))
        row, col = np.divmod(keys[starts_k], self.n_features)
        norms = np.sqrt(np.bincount(row, weights=counts.astype(np.float64) ** 2, minlength=len(lines)))
        contrib = np.take(self.hash_weights, col, axis=0)
        contrib *= (counts / norms[row])[:, None]
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        out[row[starts]] = np.add.reduceat(contrib, starts, axis=0)
        return out

    def hashed_columns(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The hashed column of every feature of :meth:`line_ngrams` and its line, in no particular order.

        Without building a string per bigram: the document's tokens are joined by single spaces and
        encoded once, so that a unigram's UTF-8 and a bigram's ("tok1 tok2") are each a run of those
        bytes, and murmurhash3 (HashingVectorizer's hash) runs over all the runs at once
        (:func:`_murmur_runs`)."""
        toks = self._document_tokens(lines)
        if toks is None:  # line by line
            feats, rows = self.line_ngrams(lines)
            if not feats:
                return np.zeros(0, dtype=np.int64), rows
            if _hash_features is not None:
                cols, _, _ = _hash_features([zip(feats, repeat(1))], self.n_features, np.float64, False, 0)
            else:
                cols = _columns(np.array([murmurhash3_32(f, seed=0) for f in feats], dtype=np.int64), self.n_features)
            return cols, rows
        if not toks:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # No token holds a space (nor, in UTF-8, a byte 0x20 inside a character): the spaces are the
        # tokens' boundaries; a newline token is the line's end, the byte 0x0A at a token's start.
        data = " ".join(toks).encode("utf-8")
        spaces = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 32)
        starts = np.empty(len(spaces) + 1, dtype=np.int64)
        starts[0] = 0
        starts[1:] = spaces + 1
        ends = np.empty(len(spaces) + 1, dtype=np.int64)
        ends[:-1] = spaces
        ends[-1] = len(data)
        keep, keep_pairs, rows = _ngram_lines(np.frombuffer(data, dtype=np.uint8)[starts] == 10)
        if not len(rows):
            return np.zeros(0, dtype=np.int64), rows
        run_starts = np.concatenate([starts[keep], starts[:-1][keep_pairs]])
        run_ends = np.concatenate([ends[keep], ends[1:][keep_pairs]])
        hashes, order = _murmur_runs(data, run_starts, run_ends - run_starts)
        return _columns(hashes, self.n_features), rows[order]

    def line_ngrams(self, lines: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The hashed features of every line, lower-cased: its word unigrams and the bigrams of adjacent
        words, and the line of each (in no particular order: only their counts per line matter)."""
        toks = self._document_tokens(lines)
        if toks is None:  # line by line
            feats: list[str] = []
            per_line: list[int] = []
            findall = self.token_re.findall
            for i, line in enumerate(lines):
                line_toks = findall(line.lower())
                if line_toks:
                    feats += line_toks
                    feats += map(" ".join, zip(line_toks, line_toks[1:], strict=False))
                    per_line += [i] * (2 * len(line_toks) - 1)
            return feats, np.asarray(per_line, dtype=np.int64)
        keep, keep_pairs, rows = _ngram_lines(np.fromiter(map("\n".__eq__, toks), dtype=bool, count=len(toks)))
        feats = list(compress(toks, keep.tolist()))
        feats += map(" ".join, compress(zip(toks, toks[1:], strict=False), keep_pairs.tolist()))
        return feats, rows

    def _document_tokens(self, lines: Sequence[str]) -> list[str] | None:
        """The document's tokens, lower-cased and in order, with a ``"\n"`` token at each line's end: one
        tokenisation of the joined lines (no other token holds a newline, and lower-casing keeps each
        line's own). None when the lines must be tokenised one by one: a line holds a newline itself,
        or the token pattern is not the default one (see ``document_wide``)."""
        if not self.document_wide:
            return None
        joined = "\n".join(lines)
        if joined.count("\n") != len(lines) - 1:
            return None
        return self.token_or_newline_re.findall(joined.lower())


def _ngram_lines(newline: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Given which of a document's tokens are its newline tokens: the tokens that are unigrams (the
    others), the neighbours that are bigrams (two unigrams side by side, so within a line), and the line
    of each, the unigrams' then the bigrams'."""
    line_of = np.cumsum(newline, dtype=np.int64)
    keep = ~newline
    keep_pairs = keep[:-1] & keep[1:]
    return keep, keep_pairs, np.concatenate([line_of[keep], line_of[:-1][keep_pairs]])


def _columns(hashes: np.ndarray, n_features: int) -> np.ndarray:
    """The columns HashingVectorizer gives features of these signed 32-bit murmurhash3 values: |h| mod n,
    in int64.

    scikit-learn's loop computes it in int32, where |-2**31| does not exist, and gives h = -2**31 the
    column (2**31 - 1 - (n - 1)) mod n instead: that is (2**31 - n) mod n = 2**31 mod n, which is |h| mod
    n in int64. So that hash needs no case of its own here (a test holds the two equal)."""
    return np.abs(hashes.astype(np.int64)) % n_features


class UnsupportedHasherError(ValueError):
    """Raised when a line model's hashed n-grams are made in a way its scorer does not reproduce."""


# HashingVectorizer's settings that _FastLines reproduces (the token pattern may be any: see document_wide).
_HASHER_SETTINGS: dict[str, object] = {
    "analyzer": "word", "lowercase": True, "preprocessor": None, "tokenizer": None, "stop_words": None,
    "strip_accents": None, "ngram_range": (1, 2), "binary": False, "norm": "l2", "alternate_sign": False,
    "input": "content", "dtype": np.float64,
}


def _check_hasher(hasher: HashingVectorizer) -> None:
    """Raise :class:`UnsupportedHasherError` naming the first setting the scorer does not reproduce."""
    for name, expected in _HASHER_SETTINGS.items():
        value = getattr(hasher, name, expected)
        if isinstance(value, list):
            value = tuple(value)
        if value != expected:
            raise UnsupportedHasherError(
                f"the line model's hashed n-grams have {name}={value!r}; its scorer reproduces only {name}={expected!r} "
                "(retrain the model with this code)"
            )


_MURMUR_C1, _MURMUR_C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_MURMUR_TAIL = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)
_MURMUR_MAX_BLOCKS = 8  # longer runs (1 % of the features: URLs, long compounds) are hashed one by one


def _rotate_left(x: np.ndarray, r: int, tmp: np.ndarray) -> None:
    np.left_shift(x, np.uint32(r), out=tmp)
    np.right_shift(x, np.uint32(32 - r), out=x)
    np.bitwise_or(x, tmp, out=x)


def _murmur_mix(k: np.ndarray) -> None:
    k *= _MURMUR_C1
    _rotate_left(k, 15, np.empty_like(k))
    k *= _MURMUR_C2


def _murmur_runs(data: bytes, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MurmurHash3 (x86, 32 bits, seed 0: scikit-learn's ``murmurhash3_32``, signed) of the runs
    ``data[s : s + n]``, all at once: ``(hashes, order)``, the hash of run ``order[i]`` at ``i``.

    The runs go longest first, so that the runs still in their 4-byte blocks at block ``b`` are a prefix;
    each block is read as a little-endian 32-bit word at any byte offset (a view with a stride of one
    byte over the data padded with zeros), the tail's 1-3 bytes as such a word masked. Unsigned 32-bit
    arithmetic wraps as the C code's does. A test holds it equal to ``murmurhash3_32``."""
    n_blocks = lengths >> 2
    order = np.argsort(n_blocks)[::-1]
    n_blocks = n_blocks[order]
    starts = starts[order]
    lengths = lengths[order]
    top = int(n_blocks[0])
    blocks = min(top, _MURMUR_MAX_BLOCKS)
    padded = data + bytes(4 * blocks + 4)
    words = np.ndarray((len(data) + 4 * blocks + 1,), dtype="<u4", buffer=padded, strides=(1,))
    h = np.zeros(len(starts), dtype=np.uint32)
    if blocks:
        k = words[starts[:, None] + 4 * np.arange(blocks)]
        _murmur_mix(k)
        # how many runs have more than b blocks, for each b
        active = np.searchsorted(-n_blocks, -np.arange(blocks), side="left").tolist()
        tmp = np.empty(len(h), dtype=np.uint32)
        for b, m in enumerate(active):
            hb = h[:m]
            hb ^= k[:m, b]
            _rotate_left(hb, 13, tmp[:m])
            hb *= np.uint32(5)
            hb += np.uint32(0xE6546B64)
    tail = words[starts + 4 * n_blocks]
    tail &= _MURMUR_TAIL[lengths & 3]
    _murmur_mix(tail)  # a run without a tail mixes a zero word: no change
    h ^= tail
    h ^= lengths.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    hashes = h.view(np.int32)
    if top > _MURMUR_MAX_BLOCKS:
        for i in np.flatnonzero(n_blocks > _MURMUR_MAX_BLOCKS).tolist():
            s = int(starts[i])
            hashes[i] = murmurhash3_32(data[s : s + int(lengths[i])], seed=0)
    return hashes, order
