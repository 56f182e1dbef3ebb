"""What words are known: a general vocabulary (wordfreq) and an entity lexicon learned from reliable text.

The general vocabulary is loaded once per process. Its fast candidate index is a deletion index of
distance 1 over common words (zipf >= ``COMMON_ZIPF``) plus length buckets searched with rapidfuzz's
bit-parallel Levenshtein for the longer tokens that may sit at distance 2.
"""

from __future__ import annotations

import json
import math
import re
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
    _windows: dict[int, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _memo: dict[tuple[str, int], tuple[str, int] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
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

    def _window(self, length: int) -> list[str]:
        """Common words of length ``length`` ± 2, built once per length."""
        if length not in self._windows:
            self._windows[length] = [c for n in range(length - 2, length + 3) for c in self.by_length.get(n, ())]
        return self._windows[length]

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
        best: tuple[str, int] | None = None
        cands: set[str] = set(self.delete_index.get(w, ()))
        for d in _deletes(w):
            cands.update(self.delete_index.get(d, ()))
        for c in cands:
            dist = DamerauLevenshtein.distance(w, c)
            if 0 < dist <= 1 and (best is None or self.zipf[c] > self.zipf[best[0]]):
                best = (c, dist)
        if best is not None or max_distance < 2:
            return best
        pool = self._window(len(w))
        hits = process.extract(w, pool, scorer=Levenshtein.distance, score_cutoff=2, limit=None)
        hits = [h for h in hits if h[1] > 0]
        if not hits:
            return None
        # Nearest first; among equally near words the most frequent one is the likely intent.
        c, dist, _ = min(hits, key=lambda h: (h[1], -self.zipf[h[0]]))
        return (c, int(dist))


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
        """A user's extra names: a UTF-8 text file, one name per line, '#' starts a comment."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise LexiconError(f"cannot read names file {path}: {exc}") from exc
        return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]
