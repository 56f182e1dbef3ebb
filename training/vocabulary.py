"""What words are known: a general vocabulary (wordfreq) and an entity lexicon learned from reliable text.

The general vocabulary is loaded once per process. Its fast candidate index is a deletion index of
distance 1 over common words (zipf >= ``COMMON_ZIPF``) plus, for the longer tokens that may sit at
distance 2, an index of each common word's three pieces (two edits leave one piece intact), whose few
candidates rapidfuzz's Levenshtein then checks.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Levenshtein

from training.document import WORD_RE
from training.lexicons import STOP_WORDS

__all__ = [
    "Vocabulary", "EntityLexicon", "general_vocabulary", "COMMON_ZIPF", "LexiconError", "strip_possessive",
]

COMMON_ZIPF = 3.0  # once per million words: common enough to be an intended spelling
_NAME_RE = re.compile(r"^[A-Z][a-z]+(?:['’-][A-Za-z]+)*$")


class LexiconError(ValueError):
    """Raised when a lexicon file cannot be read."""


def strip_possessive(word: str) -> str:
    """ "Netanyahu's" -> "Netanyahu": a possessive is the name itself."""
    return word[:-2] if len(word) > 3 and word[-2:] in ("'s", "’s") else word


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass
class Vocabulary:
    """General English vocabulary with zipf frequencies and a fast near-word lookup."""

    zipf: dict[str, float]
    delete_index: dict[str, list[str]] = field(default_factory=dict)
    by_length: dict[int, list[str]] = field(default_factory=dict)
    _memo: dict[tuple[str, int], tuple[str, int] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _pieces: dict[tuple[int, int], dict[str, list[int]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @classmethod
    def from_wordfreq(cls, lang: str = "en") -> Vocabulary:
        import wordfreq

        freqs = wordfreq.get_frequency_dict(lang)
        zipf = {w: round(math.log10(f * 1e9), 2) for w, f in freqs.items() if f > 0}
        common = [w for w, z in zipf.items() if z >= COMMON_ZIPF and len(w) >= 4 and w.isalpha()]
        delete_index: dict[str, list[str]] = defaultdict(list)
        by_length: dict[int, list[str]] = defaultdict(list)
        for w in common:
            delete_index[w].append(w)
            for d in _deletes(w):
                delete_index[d].append(w)
            by_length[len(w)].append(w)
        return cls(zipf=zipf, delete_index=dict(delete_index), by_length=dict(by_length))

    def zipf_of(self, word: str) -> float:
        return self.zipf.get(word.lower(), 0.0)

    def nearest_common(self, word: str, *, max_distance: int) -> tuple[str, int] | None:
        """The most frequent common word within ``max_distance`` edits of ``word`` (lower case).

        Answers are memoised per process: crawls repeat their unknown tokens.
        """
        key = (word.lower(), max_distance)
        if key not in self._memo:
            if len(self._memo) > 200_000:
                self._memo.clear()
            self._memo[key] = self._nearest_common(*key)
        return self._memo[key]

    def _nearest_common(self, w: str, max_distance: int) -> tuple[str, int] | None:
        if len(w) > max(self.by_length, default=0) + max_distance:
            return None  # no common word is within reach (and a long word's deletions cost its length squared)
        best: tuple[str, int] | None = None
        cands: set[str] = set(self.delete_index.get(w, ()))
        for d in _deletes(w):
            cands.update(self.delete_index.get(d, ()))
        # In alphabetical order, so that of equally frequent words the first wins whatever the process's
        # hash seed (a set's order is not: "aurl" gave "aura" or "curl" from one process to the next).
        for c in sorted(cands):
            dist = DamerauLevenshtein.distance(w, c)
            if 0 < dist <= 1 and (best is None or self.zipf[c] > self.zipf[best[0]]):
                best = (c, dist)
        if best is not None or max_distance < 2:
            return best
        hits = self._within_two(w)
        if not hits:
            return None
        # Nearest first; among equally near words the most frequent one is the likely intent (and
        # among those, the first in the length window, as a scan of the window would find it).
        c, dist, _ = min(hits, key=lambda h: (h[1], -self.zipf[h[0]], h[2]))
        return (c, dist)

    def _within_two(self, w: str) -> list[tuple[str, int, int]]:
        """Common words 1 or 2 edits (Levenshtein) from ``w``, with their position in the window of common words of ``len(w)`` ± 2 letters (``by_length`` in length order).

        A pigeonhole filter: each common word is cut into three pieces, and two edits leave at least
        one piece intact, at most two characters from where it was. So only words sharing such a piece
        with ``w`` are compared (about a hundred look-ups instead of tens of thousands of comparisons).
        """
        index = self.piece_index()
        m = len(w)
        offset = 0
        found: dict[str, int] = {}
        for n in range(m - 2, m + 3):
            words = self.by_length.get(n, ())
            if not words:
                continue
            for k, (start, size) in enumerate(_pieces(n)):
                bucket = index.get((n, k))
                if bucket is None:
                    continue
                for s in range(-2, 3):
                    pos = start + s
                    if pos < 0 or pos + size > m:
                        continue
                    for i in bucket.get(w[pos : pos + size], ()):
                        found.setdefault(words[i], offset + i)
            offset += len(words)
        near = process.extract(w, list(found), scorer=Levenshtein.distance, score_cutoff=2, limit=None)
        return [(c, int(dist), found[c]) for c, dist, _ in near if dist > 0]

    def piece_index(self) -> dict[tuple[int, int], dict[str, list[int]]]:
        """(length, piece number) → piece text → positions in ``by_length[length]``; built once, on the
        first word of 8+ letters that needs it (about 0.3 s) unless a server or a scan's parent process
        builds it first (:func:`service.scoring.warm_up`), so that its forked workers share it."""
        if self._pieces is None:
            index: dict[tuple[int, int], dict[str, list[int]]] = {}
            for n, words in self.by_length.items():
                for k, (start, size) in enumerate(_pieces(n)):
                    bucket = index.setdefault((n, k), {})
                    for i, c in enumerate(words):
                        bucket.setdefault(c[start : start + size], []).append(i)
            self._pieces = index
        return self._pieces


def _pieces(length: int) -> tuple[tuple[int, int], ...]:
    """A word of ``length`` letters cut into three pieces as even as can be: (start, size) of each."""
    a = length // 3
    b = (length - a) // 2
    return ((0, a), (a, b), (a + b, length - a - b))


@lru_cache(maxsize=2)
def general_vocabulary(lang: str = "en") -> Vocabulary:
    """The process-wide vocabulary for ``lang`` (built once: about a second)."""
    return Vocabulary.from_wordfreq(lang)


@dataclass
class EntityLexicon:
    """Names seen capitalised in reliable text, and which surnames follow which first names."""

    names: set[str] = field(default_factory=set)
    full_names: dict[str, set[str]] = field(default_factory=dict)
    _sorted: list[str] | None = field(default=None, init=False, repr=False, compare=False)
    _rare: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def sorted_names(self) -> list[str]:
        """The names, sorted; computed once (scoring reads it for every document)."""
        if self._sorted is None:
            self._sorted = sorted(self.names)
        return self._sorted

    def rare_surnames(self, first: str) -> list[str]:
        """Surnames seen after ``first`` that are themselves names (rare words), sorted; cached."""
        if first not in self._rare:
            self._rare[first] = sorted(
                s for s in self.full_names.get(first, ()) if s in self.names and s.isalpha()
            )
        return self._rare[first]

    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int = 1) -> EntityLexicon:
        """Learn the lexicon from reliable texts: capitalised tokens not at a sentence start."""
        counts: Counter[str] = Counter()
        pairs: dict[str, set[str]] = defaultdict(set)
        vocab = general_vocabulary("en")
        for text in texts:
            for raw_line in text.split("\n"):
                words = [strip_possessive(w) for w in WORD_RE.findall(raw_line)]
                for i, w in enumerate(words):
                    if _NAME_RE.match(w) and len(w) >= 3 and w.lower() not in STOP_WORDS:
                        counts[w.lower()] += 1
                        nxt = words[i + 1] if i + 1 < len(words) else ""
                        if _NAME_RE.match(nxt) and nxt.lower() not in STOP_WORDS:
                            pairs[w.lower()].add(nxt.lower())
        # Names are the capitalised tokens that are not common words: "Zelenskyy", "Knesset", "Bessent";
        # a capitalised common word ("Auction" in a headline) is known through the vocabulary anyway.
        names = {w for w, c in counts.items() if c >= min_count and vocab.zipf_of(w) < COMMON_ZIPF}
        return cls(names=names, full_names={k: v for k, v in pairs.items()})

    def extend(self, names: Iterable[str]) -> None:
        """Add user-supplied names ("Scott Bessent" adds both tokens and the first-name link)."""
        self._sorted = None
        self._rare = {}
        for name in names:
            parts = [p.lower() for p in WORD_RE.findall(name)]
            self.names.update(p for p in parts if len(p) >= 3)
            for a, b in zip(parts, parts[1:], strict=False):
                self.full_names.setdefault(a, set()).add(b)

    def to_json(self) -> dict[str, object]:
        return {
            "names": sorted(self.names),
            "full_names": {k: sorted(v) for k, v in sorted(self.full_names.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> EntityLexicon:
        names = data.get("names", [])
        full = data.get("full_names", {})
        if not isinstance(names, list) or not isinstance(full, dict):
            raise LexiconError("lexicon JSON must have a 'names' list and a 'full_names' object")
        return cls(names=set(map(str, names)), full_names={str(k): set(v) for k, v in full.items()})

    @classmethod
    def read(cls, path: Path) -> EntityLexicon:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise LexiconError(f"cannot read entity lexicon {path}: {exc}") from exc

    @staticmethod
    def read_user_names(path: Path) -> list[str]:
        """A user's extra names: a text file, one name per line, '#' starts a comment. Its encoding is found
        as a crawl file's is (UTF-8, a byte-order mark, UTF-16 without one, else detected); a binary file
        (NUL bytes) or a line with control characters is refused, not read as names."""
        from service.scan.sources import ReadProblem, decode_text

        try:
            text, _ = decode_text(path.read_bytes())
        except OSError as exc:
            raise LexiconError(f"cannot read names file {path}: {exc.strerror or exc}") from exc
        except ReadProblem as exc:
            raise LexiconError(f"cannot read names file {path}: it {exc}") from exc
        names: list[str] = []
        for number, line in enumerate(text.splitlines(), 1):
            name = line.split("#", 1)[0].strip()
            if any(unicodedata.category(c) == "Cc" for c in name):
                raise LexiconError(f"names file {path}, line {number}: a control character in {name!r}; "
                                   "expected one name per line")
            if name:
                names.append(name)
        return names
