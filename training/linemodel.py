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

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from training.document import WORD_RE
from training.lexicons import (
    CATEGORIES,
    EMAIL_RE,
    FUNCTION_WORDS,
    PHONE_RE,
    URL_RE,
    keyword_hits,
)

__all__ = ["LineModel", "CLASSES", "line_layout_features", "DENSE_FEATURE_NAMES", "NotFittedError"]

CLASSES: tuple[str, ...] = ("content", *CATEGORIES)
_TERMINAL_RE = re.compile(r"[.!?…][\"'”’)\]]*$")
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


def _line_stats(line: str, words: Sequence[str] | None = None) -> tuple[int, Sequence[str], bool]:
    if words is None:
        words = WORD_RE.findall(line)
    return len(line), words, bool(_TERMINAL_RE.search(line))


_SENT_END_RE = re.compile(r"[.!?](?:\s|$)")


def line_layout_features(lines: Sequence[str], words: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """Dense features for every line of one document, shape ``(len(lines), len(DENSE_FEATURE_NAMES))``.

    ``words``: the lines' word tokens when the caller has them already (a parsed document does).
    """
    n = len(lines)
    out = np.zeros((n, len(DENSE_FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return out
    stats = [_line_stats(line, words[i] if words is not None else None) for i, line in enumerate(lines)]
    lowered = [line.lower() for line in lines]
    counts = Counter(lowered)
    first = lowered[0]
    short_nonterm = [len(w) < _SHORT_WORDS and not t for (_, w, t) in stats]
    log_doc_lines = math.log1p(n)
    log_chars = [math.log1p(c) for (c, _, _) in stats]
    for i, line in enumerate(lines):
        n_chars, toks, terminal = stats[i]
        nw = len(toks)
        low = lowered[i]
        letters = sum(map(str.isalpha, line)) or 1
        row = out[i]
        row[0] = log_chars[i]
        row[1] = math.log1p(nw)
        row[2] = terminal
        row[3] = line.endswith(":")
        row[4] = line.endswith("…") or line.endswith("...")
        row[5] = bool(_BULLET_RE.match(line))
        row[6] = sum(map(str.isupper, line)) / letters
        if nw:
            row[7] = sum(1 for w in toks if w[0].isupper()) / nw
            row[8] = sum(1 for w in toks if w.lower() in FUNCTION_WORDS) / nw
        row[9] = sum(map(str.isdigit, line)) / max(n_chars, 1)
        has_dot = "." in line
        row[10] = has_dot and bool(URL_RE.search(line))
        row[11] = "@" in line and bool(EMAIL_RE.search(line))
        row[12] = row[9] > 0 and bool(PHONE_RE.search(line))
        row[13] = min(sum(line.count(s) for s in _SEPARATORS), 5)
        row[14] = i / (n - 1) if n > 1 else 0.0
        row[15] = i == 0
        row[16] = i == n - 1
        row[17] = i < 3
        row[18] = i >= n - 3
        row[19] = min(n - 1 - i, 10) / 10
        row[20] = counts[low] > 1
        row[21] = log_chars[i - 1] if i > 0 else 0.0
        row[22] = log_chars[i + 1] if i < n - 1 else 0.0
        row[23] = stats[i - 1][2] if i > 0 else 1.0
        row[24] = stats[i + 1][2] if i < n - 1 else 1.0
        lo, hi = max(0, i - 3), min(n, i + 4)
        row[25] = (sum(short_nonterm[lo:hi]) - short_nonterm[i]) / 6
        n_sent = max(1, len(_SENT_END_RE.findall(line))) if has_dot or "!" in line or "?" in line else 1
        row[26] = min(nw / n_sent, 60) / 60
        row[27] = i > 0 and (low == first or (len(first) > 20 and first in low))
        row[28] = log_doc_lines
        row[29] = '"' in line or "“" in line or "”" in line
        row[30] = line[:1].isupper()
        row[31] = short_nonterm[i]
        for j, hits in enumerate(keyword_hits(line)):
            row[32 + j] = min(hits, 3)
    return out


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
    ) -> sparse.csr_matrix:
        """Features of every line of ``docs``; ``words``: per document, its lines' tokens when known."""
        flat = [line for doc in docs for line in doc]
        per_doc_words = words if words is not None else [None] * len(docs)
        blocks = [line_layout_features(d, w) for d, w in zip(docs, per_doc_words, strict=True) if len(d)]
        dense = np.vstack(blocks) if blocks else np.zeros((0, len(DENSE_FEATURE_NAMES)))
        if fit:
            self.scaler_ = StandardScaler().fit(dense)
        dense = self.scaler_.transform(dense)
        hashed = self.hasher_.transform(flat)
        return sparse.hstack([sparse.csr_matrix(dense), hashed], format="csr")

    def fit(self, docs: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> LineModel:
        y = [lab for doc in labels for lab in doc]
        unknown = set(y) - set(CLASSES)
        if unknown:
            raise ValueError(f"unknown line labels {sorted(unknown)}; expected one of {CLASSES}")
        self.hasher_ = self._hasher()
        X = self._matrix(docs, fit=True)
        clf = LogisticRegression(C=self.C, max_iter=3000, random_state=self.random_state)
        clf.fit(X, y)
        self.classifier_ = clf
        # Columns of predict_proba in CLASSES order, whichever classes the training data had.
        self.class_index_ = [list(clf.classes_).index(c) if c in clf.classes_ else -1 for c in CLASSES]
        return self

    def predict_proba(self, lines: Sequence[str], *, words: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """Probabilities per line, columns in :data:`CLASSES` order (``words``: tokens per line, optional)."""
        if not hasattr(self, "classifier_"):
            raise NotFittedError("LineModel is not fitted; call fit() or load a trained model")
        if not lines:
            return np.zeros((0, len(CLASSES)))
        raw = self.classifier_.predict_proba(self._matrix([list(lines)], fit=False, words=[words]))
        out = np.zeros((len(lines), len(CLASSES)))
        for j, k in enumerate(self.class_index_):
            if k >= 0:
                out[:, j] = raw[:, k]
        return out

    def predict(self, lines: Sequence[str]) -> list[str]:
        proba = self.predict_proba(lines)
        return [CLASSES[k] for k in proba.argmax(axis=1)]
