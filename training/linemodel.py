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
from itertools import repeat
from operator import itemgetter

import numpy as np
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils import murmurhash3_32

from training.document import WORD_RE
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

__all__ = ["LineModel", "CLASSES", "line_layout_features", "DENSE_FEATURE_NAMES", "NotFittedError"]

CLASSES: tuple[str, ...] = ("content", *CATEGORIES)
_CLOSERS = "\"'”’)]"  # may follow a sentence's last punctuation mark
_BULLET_RE = re.compile(r"^(?:[-•*·▪►–]\s|\d{1,2}[.)]\s)")
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


_TERMINALS = frozenset(".!?…")
# A line can only hold a URL_RE match if it holds one of these: a cheap scan of the whole document first.
_URL_HINT_RE = re.compile(r"https?://|www\.|\.(?:com|net|org|io|co|info|biz|news|uk|de)\b", re.I)

# Every PHONE_RE match holds two runs of 3-4 digits around a separator.
_PHONE_HINT_RE = re.compile(r"\d{3}(?:[^\S\n]|[.-])\d{3}")


_SENT_END_RE = re.compile(r"[.!?](?:\s|$)")

# Per-character classes for the whole Basic Multilingual Plane, built once: the per-line character
# counts (letters, capitals, digits, separators) are then array sums instead of Python loops.
_ALPHA, _UPPER, _DIGIT, _SEP = 1, 2, 4, 8


@lru_cache(maxsize=1)
def _char_table() -> np.ndarray:
    table = np.zeros(0x10000, dtype=np.uint8)
    for code in range(0x10000):
        c = chr(code)
        table[code] = (_ALPHA * c.isalpha()) | (_UPPER * c.isupper()) | (_DIGIT * c.isdigit())
    for s in _SEPARATORS:
        table[ord(s)] |= _SEP
    return table


def _char_flags(chars: str) -> np.ndarray:
    """The class bits of every character of ``chars``."""
    # surrogatepass: a lone surrogate (JSON allows "\udcff") is a code point like any other, with no class
    codes = np.frombuffer(chars.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    flags = _char_table()[np.minimum(codes, 0xFFFF)]
    astral = np.flatnonzero(codes > 0xFFFF)
    for k in astral:  # rare (emoji, historic scripts): classified one by one
        c = chr(int(codes[k]))
        flags[k] = (_ALPHA * c.isalpha()) | (_UPPER * c.isupper()) | (_DIGIT * c.isdigit())
    return flags


def _class_counts(lines: Sequence[str]) -> np.ndarray:
    """Per line: letters, capitals, digits and separator characters, shape ``(len(lines), 4)``."""
    lengths = np.fromiter((len(line) for line in lines), dtype=np.int64, count=len(lines))
    flags = _char_flags("".join(lines))
    bits = np.stack([(flags & b) > 0 for b in (_ALPHA, _UPPER, _DIGIT, _SEP)], axis=1).astype(np.int64)
    csum = np.vstack([np.zeros((1, 4), dtype=np.int64), np.cumsum(bits, axis=0)])
    ends = np.cumsum(lengths)
    return csum[ends] - csum[ends - lengths]


def _lines_matching(pattern: re.Pattern[str], lines: Sequence[str]) -> set[int]:
    """Indices of the lines where ``pattern`` (which never matches a newline) finds something."""
    starts = np.cumsum([0] + [len(line) + 1 for line in lines])
    return {int(np.searchsorted(starts, m.start(), side="right")) - 1 for m in pattern.finditer("\n".join(lines))}


def line_layout_features(
    lines: Sequence[str], words: Sequence[Sequence[str]] | None = None, *, stop: frozenset[str] = FUNCTION_WORDS
) -> np.ndarray:
    """Dense features for every line of one document, shape ``(len(lines), len(DENSE_FEATURE_NAMES))``.

    ``words``: the lines' word tokens when the caller has them already (a parsed document does).
    ``stop``: the function words of the document's language, for the stop-word density.
    Column by column: per-character counts are array sums over the whole document, position and
    neighbour features are array shifts, and only what needs a line's text is a pass over the lines.
    """
    n = len(lines)
    out = np.zeros((n, len(DENSE_FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return out
    toks = [words[i] for i in range(n)] if words is not None else [WORD_RE.findall(line) for line in lines]
    lowered = [line.lower() for line in lines]
    counts = Counter(lowered)
    first = lowered[0]
    n_chars = np.fromiter(map(len, lines), dtype=np.float64, count=n)
    n_words = np.fromiter(map(len, toks), dtype=np.float64, count=n)
    terminal = np.fromiter((line.rstrip(_CLOSERS)[-1:] in _TERMINALS for line in lines), dtype=bool, count=n)
    short_nonterm = (n_words < _SHORT_WORDS) & ~terminal
    log_chars = np.log1p(n_chars)
    classes = _class_counts(lines)
    url_lines = _lines_matching(_URL_HINT_RE, lines)
    phone_lines = _lines_matching(_PHONE_HINT_RE, lines)
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

    per_line = []
    for i, line in enumerate(lines):
        tk = toks[i]
        nw = len(tk)
        low = lowered[i]
        has_dot = "." in line
        n_sent = max(1, len(_SENT_END_RE.findall(line))) if has_dot or "!" in line or "?" in line else 1
        per_line.append((
            line.endswith(":"),
            line.endswith("…") or line.endswith("..."),
            _BULLET_RE.match(line) is not None,
            sum(map(str.isupper, map(itemgetter(0), tk))) / nw if nw else 0.0,
            sum(map(stop.__contains__, map(str.lower, tk))) / nw if nw else 0.0,
            has_dot and i in url_lines and URL_RE.search(line) is not None,
            "@" in line and EMAIL_RE.search(line) is not None,
            i in phone_lines and PHONE_RE.search(line) is not None,
            counts[low] > 1,
            min(nw / n_sent, 60) / 60,
            i > 0 and (low == first or (len(first) > 20 and first in low)),
            '"' in line or "“" in line or "”" in line,
            line[:1].isupper(),
        ))
    out[:, _PER_LINE_COLUMNS] = np.array(per_line, dtype=np.float64)
    return out


# The columns filled by the pass over the lines, in the order of its tuples.
_PER_LINE_COLUMNS = [3, 4, 5, 7, 8, 10, 11, 12, 20, 26, 27, 29, 30]


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
            token_pattern=r"(?u)\b\w+\b|[©|›»@]",
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
        if not hasattr(self, "classifier_"):
            raise NotFittedError("LineModel is not fitted; call fit() or load a trained model")
        if not lines:
            return np.zeros((0, len(CLASSES)))
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
        return out

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
        self.n_features = int(hasher.n_features)
        self.token_re = re.compile(hasher.token_pattern)

    def hashed_logits(self, lines: Sequence[str]) -> np.ndarray:
        """Each line's hashed word unigrams and bigrams (counts, l2-normalised per line, as sklearn's
        HashingVectorizer makes them) times their weights: shape ``(len(lines), classes)``."""
        out = np.zeros((len(lines), self.hash_weights.shape[1]))
        feats: list[str] = []
        rows: list[int] = []
        findall = self.token_re.findall
        for i, line in enumerate(lines):
            toks = findall(line.lower())
            if toks:
                feats += toks
                feats += map(" ".join, zip(toks, toks[1:], strict=False))
                rows += [i] * (2 * len(toks) - 1)
        if not feats:
            return out
        # sklearn's own hashing loop (murmurhash3 of the UTF-8 bytes, |h| mod n_features), in C.
        if _hash_features is not None:
            cols, _, _ = _hash_features([zip(feats, repeat(1))], self.n_features, np.float64, False, 0)
        else:
            cols = np.array([_column(f, self.n_features) for f in feats], dtype=np.int64)
        keys, counts = np.unique(np.asarray(rows, dtype=np.int64) * self.n_features + cols, return_counts=True)
        row, col = np.divmod(keys, self.n_features)
        norms = np.sqrt(np.bincount(row, weights=counts.astype(np.float64) ** 2, minlength=len(lines)))
        contrib = self.hash_weights[col] * (counts / norms[row])[:, None]
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        out[row[starts]] = np.add.reduceat(contrib, starts, axis=0)
        return out


def _column(feature: str, n_features: int) -> int:
    """The column HashingVectorizer gives a feature: murmurhash3 (signed) of its UTF-8, |h| mod n."""
    h = int(murmurhash3_32(feature, seed=0))
    return (2147483647 - (n_features - 1)) % n_features if h == -(2**31) else abs(h) % n_features
