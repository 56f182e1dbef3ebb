"""Misspelled known entities and garbled words: the trace a spinner or a bad OCR leaves.

A token is suspicious when it is *not* a word of the language (unknown to wordfreq and to the entity
lexicon) and yet a small edit away from one that is known: a name in the lexicon, another spelling in
the same document, or a common word. Rare but real names (a small town, a new minister) are unknown
too, but they are near no known word, or the text spells them the same way several times; neither is
flagged. Nor are shapes a spinner or a typo does not make: acronyms and products with capitals inside
("PKIs", "SwiftUI"), names with letters outside English's alphabet ("Kristrún"), and two frequent words
run together ("Workfront"). Spinners also swap a name for a real word ("Scott Scent"): a common word right after a known
first name, close in spelling to that first name's known surname (the lexicon's, or the text's own full
name elsewhere), is flagged as a name-slot swap.

A clean text has a few such near-misses (rare names that happen to sit a letter from a common word); a
spun copy has many for its length. The values say both how many and how surprising that many is for a
text of this length (:func:`misspelling_evidence`), and how many the text itself spells right elsewhere.

Only for English text: on other languages every value is NaN ("not applicable").
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from itertools import accumulate, compress
from operator import or_

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from training.document import Document, word_pattern
from training.features import Context, FamilyOutput
from training.lexicons import STOP_WORDS
from training.vocabulary import COMMON_ZIPF, EntityLexicon, strip_possessive

NAME = "entity"
FEATURES = (
    "entity_misspelled_per_1k",
    "entity_misspelled_log_count",
    "entity_misspelled_evidence",
    "entity_respelled_log_count",
    "entity_name_slot_per_1k",
    "entity_oov_rate",
)
# Misspelled names, words in a name's slot and garbled words can only lower the score.
DIRECTIONS = dict.fromkeys(FEATURES, -1)

MIN_TOKEN_LEN = 4  # shorter tokens are too often abbreviations or legitimately odd
CONSISTENT_SPELLING = 3  # an unknown token spelled this way this many times is taken as a real name
KNOWN_ZIPF = 1.0  # wordfreq zipf at or above which a token is a word of the language
NAME_SLOT_SIMILARITY = 60.0  # rapidfuzz ratio between the word and the first name's known surname
MAX_CANDIDATES = 40  # unknown tokens examined per document at most
MAX_TOKEN_LEN = 40  # a longer run of letters is no misspelled word or name (and its edits cost its length squared)
COMPOUND_PART_ZIPF = 3.5  # each part of a word written as two known words is at least this frequent
COMPOUND_MIN_PART = 3  # letters in each part of such a compound at least
# How often a misspelling is flagged, per 1,000 words: in clean text (a rare real name that happens to be
# a letter or two from a known word, about once in 2,000 words) and in a spun copy (a light spinner's
# touch: three in 1,000 words; heavier ones give more evidence still).
CLEAN_RATE_PER_1K = 0.5
SPUN_RATE_PER_1K = 3.0


def misspelling_evidence(n_flagged: int, n_words: int) -> float:
    """How much better a spun copy's rate of misspellings explains ``n_flagged`` in ``n_words`` than a
    clean text's: the log-likelihood ratio of two Poisson rates (SPUN_RATE_PER_1K against
    CLEAN_RATE_PER_1K), held at 0 when the clean rate explains them better.

    A count alone grows with length: a long clean article with five rare names a letter from common
    words is not a spun copy, while a 1,000-word copy with nine is. The ratio weighs the count against
    what a clean text of that length would have: 9 in 1,000 words gives 13.6; 4 in 3,000 words gives 0."""
    expected_clean = CLEAN_RATE_PER_1K * n_words / 1000.0
    expected_spun = SPUN_RATE_PER_1K * n_words / 1000.0
    llr = n_flagged * math.log(SPUN_RATE_PER_1K / CLEAN_RATE_PER_1K) - (expected_spun - expected_clean)
    return max(0.0, llr)


def _inflected(word: str, zipf: Callable[[str, float], float], names: Collection[str]) -> bool:
    """A known word or name with a plural "s"/"es" (or a possessive's "s" without its apostrophe):
    "dicts", "Goyas", "Kazakhstans" inflect a word, they do not misspell one."""
    for cut in (1, 2):
        if word.endswith("es"[2 - cut :]) and len(word) - cut >= MIN_TOKEN_LEN:
            stem = word[:-cut]
            if stem in names or zipf(stem, 0.0) >= KNOWN_ZIPF:
                return True
    return False


# Affixes English builds new words with: a known word with one of them is a derived word ("retiling",
# "unmodelled", "hammockers", "tokenizer", "burliest"), however rare, and no spinner's or typo's trace.
DERIVING_PREFIXES = ("anti", "counter", "micro", "multi", "non", "over", "out", "pre", "re", "semi", "sub", "un", "under")
DERIVING_SUFFIXES = (
    "ization", "izers", "izer", "ize", "ings", "ing", "iest", "est", "ers", "er", "ed", "ists", "ist", "ism",
    "ness", "less", "ful", "ly", "able",
)
DERIVED_STEM_ZIPF = 2.0  # the stem under a suffix is a word at least this frequent ("backspace" 2.2)
DERIVED_REST_ZIPF = 2.7  # the word after a prefix is at least this frequent ("tiling" 2.9, not "Moria" 2.6)
DERIVED_MIN_STEM = 4  # letters in the stem or in the word after a prefix, at least ("Worly" is no wor + ly)
DOUBLED_STEM_MAX = 4  # a doubled last consonant before a suffix belongs to a short stem ("zip", "zipping")


def _derived(word: str, zipf: Callable[[str, float], float]) -> bool:
    """A known word with a prefix or suffix that derives new words: "retiling" (re + tiling),
    "unmodelled", "hammockers" (hammock + ers), "canoers" (canoe), "backspacing" (backspace), "zipping"
    (zip), "burliest" (burly), "tokenizer" (token + izer). Users coin such words freely; a spinner's or a
    typo's edit ("Atterition", "Resefire", "tomowawks") rarely leaves a known word beside a whole affix.

    The stem must be a word in its own right (``DERIVED_STEM_ZIPF``; after a prefix the stricter
    ``DERIVED_REST_ZIPF``), so "reportt" + "ing" is no derivation of "report": a doubled consonant is
    undone only for short stems, as English doubles it ("zip" → "zipping")."""
    for prefix in DERIVING_PREFIXES:
        rest = word[len(prefix) :]
        if word.startswith(prefix) and len(rest) >= DERIVED_MIN_STEM and zipf(rest, 0.0) >= DERIVED_REST_ZIPF:
            return True
    for suffix in DERIVING_SUFFIXES:
        if not word.endswith(suffix):
            continue
        base = word[: -len(suffix)]
        if len(base) < DERIVED_MIN_STEM:
            continue  # "rik" + "ing": too short to be sure of
        stems = [base]
        if suffix[0] in "aeiou":
            stems.append(base + "e")  # backspac + ing: backspace
            if base[-1] == base[-2] and base[-1] not in "aeiou" and len(base) - 1 <= DOUBLED_STEM_MAX:
                stems.append(base[:-1])  # zipp + ing: zip (three letters, but the doubling says so)
        if base.endswith("i"):
            stems.append(base[:-1] + "y")  # burli + est: burly
        if any(zipf(s, 0.0) >= DERIVED_STEM_ZIPF for s in stems):
            return True
    return False


def _plural_pair(a: str, b: str) -> bool:
    """One of two words is the other with a plural's "s" or "es" ("xenobot", "Xenobots"; "Agrivoltaics",
    "agrivoltaic"): a rare word in both numbers, not a misspelling of either."""
    a, b = a.lower(), b.lower()
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return long in (short + "s", short + "es")


def _not_misspelled_shape(token: str) -> bool:
    """A token that a spinner or a typo does not make in English text, however near a known word it is: a
    capital after the first letter (an acronym "DOCN", "PKIs", a product "SwiftUI", "iSpring",
    "PartnerRe") or a letter outside English's alphabet (a name "Kristrún", "Löbel", a word of another
    script)."""
    return token[1:] != token[1:].lower() or not token.isascii()


def _compound(word: str, zipf: dict[str, float]) -> bool:
    """Two frequent words run together ("notebank", "workfront", "offboarding"): a brand or a coinage,
    not "Jemenskyy". Not a misspelling of a common word, nor of another spelling in the text; but
    :func:`extract` still takes it for a name the lexicon knows one letter away ("Starmar" reads as
    "star" + "mar", and is one letter from Starmer)."""
    for i in range(COMPOUND_MIN_PART, len(word) - COMPOUND_MIN_PART + 1):
        if zipf.get(word[:i], 0.0) >= COMPOUND_PART_ZIPF and zipf.get(word[i:], 0.0) >= COMPOUND_PART_ZIPF:
            return True
    return False


def _match_case(word: str, like: str, first_at: dict[str, int], words: Sequence[str]) -> str:
    """The intended word as the text first writes it (``words[first_at[word]]``), else in the case of the
    suspect token."""
    if word in first_at:
        return words[first_at[word]]
    return word.capitalize() if like[:1].isupper() else word


def _max_distance(token: str) -> int:
    """Edits allowed for a token of this length: 1 up to 6 letters, 2 from 7 letters on."""
    return 1 if len(token) <= 6 else 2


def _deletions(word: str, max_d: int) -> list[set[str]]:
    """``word`` with exactly 0, 1, ..., ``max_d`` of its characters deleted, in every way: one set per count."""
    levels = [{word}]
    for _ in range(max_d):
        levels.append({w[:i] + w[i + 1 :] for w in levels[-1] for i in range(len(w))})
    return levels


class _DeletionIndex:
    """A list of names indexed by their deletions (as SymSpell does), for :meth:`within`."""

    MAX_D = 2

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.longest = max(map(len, names), default=0)
        # index[d]: each text made by deleting at most d characters of a name -> the names' positions
        self.index: list[dict[str, list[int]]] = [{} for _ in range(self.MAX_D + 1)]
        for i, name in enumerate(names):
            variants: set[str] = set()
            for d, level in enumerate(_deletions(name, self.MAX_D)):
                variants |= level
                for variant in variants:
                    self.index[d].setdefault(variant, []).append(i)

    def within(self, word: str, max_d: int) -> list[str]:
        """The names, in their order, that have a deletion of at most ``max_d`` characters in common with a
        deletion of at most ``max_d`` characters of ``word``: every name within ``max_d`` edits (insertion,
        deletion, substitution, transposition of neighbours) is one of them. Each edit shortens the longest
        common subsequence of ``word`` and the edited text by one character at most, so after ``max_d``
        edits the two have one of at least ``len(word) - max_d`` characters, and the name one of at least
        ``len(name) - max_d`` characters in the same way."""
        if len(word) > self.longest + max_d:
            return []  # no name is near: and a word of thousands of letters has millions of deletions
        index = self.index[max_d]
        found: set[int] = set()
        for variant in set().union(*_deletions(word, max_d)):
            hit = index.get(variant)
            if hit is not None:
                found.update(hit)
        return [self.names[i] for i in sorted(found)]


_NAME_INDEX: dict[int, _DeletionIndex] = {}


def index_names(lexicon: EntityLexicon) -> None:
    """Build the lexicon's name index now (about 0.2 s), not on the first English document: a server or
    a forked worker calls it once at start-up."""
    _lexicon_pool(lexicon, "", 1)


def _lexicon_pool(lexicon: EntityLexicon, word: str, max_d: int) -> list[str]:
    """The lexicon's names (sorted) that may be within ``max_d`` edits of ``word``: the nearest name in
    it is the nearest in the whole list, and the first of equally near ones as well (the order is kept),
    so ``process.extractOne`` with ``score_cutoff=max_d`` answers the same name and distance, faster."""
    names = lexicon.sorted_names()
    table = _NAME_INDEX.get(id(lexicon))
    if table is None or table.names is not names:  # a lexicon extended since, or another one
        if len(_NAME_INDEX) >= 16:
            _NAME_INDEX.clear()
        table = _NAME_INDEX[id(lexicon)] = _DeletionIndex(names)
    return table.within(word, max_d) if max_d <= _DeletionIndex.MAX_D else names


def _word_line_numbers(doc: Document) -> list[int]:
    """The original line of every word of ``doc`` (a hard-wrapped paragraph is one parsed line that
    spans several of the text's lines: its words are counted out line by line)."""
    if all(ln.span == 1 for ln in doc.lines):
        return [ln.number for ln in doc.lines for _ in ln.words]
    physical = doc.text.split("\n")
    findall = word_pattern(doc.text).findall  # the pattern parse() counted the words with
    out: list[int] = []
    for ln in doc.lines:
        if ln.span == 1:
            out += [ln.number] * len(ln.words)
            continue
        parts = [len(findall(physical[ln.number - 1 + k])) for k in range(ln.span)]
        if sum(parts) != len(ln.words):  # cannot happen (joined with a space); the first line then
            parts = [len(ln.words)]
        for k, count in enumerate(parts):
            out += [ln.number + k] * count
    return out


_POSSESSIVE = ("'s", "’s")  # the endings strip_possessive removes

OWN_SURNAMES_MAX = 2  # a first name the text uses with more surnames than this is a title ("Mr", "Dr")


def _own_full_names(
    line_words: Sequence[Sequence[str]], zipf: dict[str, float], names: Collection[str], first_names: Collection[str]
) -> dict[str, set[str]]:
    """The text's own full names: a first name followed by a capitalised word that is no common word
    (or is a lexicon name): "Morwenna Trevaskis". First word lower-cased -> its surnames lower-cased.

    A first name is one the lexicon knows, or a capitalised word that is no common word itself: "New
    Zealander", "Hong Kongers", "Mr Pellow" name no person called New, Hong or Mr. A first word with more
    than OWN_SURNAMES_MAX surnames is left out (a title before many names)."""
    out: dict[str, set[str]] = {}
    for words in line_words:
        for a, b in itertools.pairwise(words):
            if (
                b[:1].isupper() and a[:1].isupper() and len(b) >= MIN_TOKEN_LEN
                and a[1:].islower() and b[1:].islower() and a.isalpha() and b.isalpha()
            ):
                la, lb = a.lower(), b.lower()
                if la in STOP_WORDS or (la not in first_names and zipf.get(la, 0.0) >= COMMON_ZIPF):
                    continue  # "The Trevaskis family", "New Zealander": no first name
                if zipf.get(lb, 0.0) < COMMON_ZIPF or lb in names:
                    out.setdefault(la, set()).add(lb)
    return {a: s for a, s in out.items() if len(s) <= OWN_SURNAMES_MAX}


def _surnames(lexicon: EntityLexicon, own: dict[str, set[str]], first: str) -> list[str]:
    """The rare surnames known after ``first``: the lexicon's, and the text's own."""
    known = lexicon.rare_surnames(first) if first in lexicon.full_names else []  # no cache entry for other words
    mine = own.get(first)
    return sorted(set(known) | mine) if mine else known


def extract(doc: Document, *, context: Context) -> FamilyOutput:
    if not context.english:
        nan = math.nan
        return FamilyOutput(values=dict.fromkeys(FEATURES, nan), evidence={"misspellings": []})
    vocab = context.resources.vocabulary
    lexicon = context.resources.lexicon
    names = lexicon.names

    # Possessives stripped once per line: "Netanyahu's" is the name itself (only lines with one change).
    line_words = [
        [strip_possessive(w) if w.endswith(_POSSESSIVE) else w for w in ln.words]
        if ("'s" in ln.text or "’s" in ln.text) else ln.words
        for ln in doc.lines
    ]
    flat = list(itertools.chain.from_iterable(line_words))  # all the lines' words, in order
    lowered = list(map(str.lower, flat))
    line_ends = list(accumulate(map(len, line_words)))  # where each line's words end in ``flat``
    is_alpha = [len(w) >= 3 and w.isalpha() for w in flat]  # letter-only tokens of three letters or more
    alpha_lowered = list(compress(lowered, is_alpha))
    counts = Counter(alpha_lowered)
    zipf = vocab.zipf.get
    # The tokens that are no word of the language: neither a lexicon name nor KNOWN_ZIPF frequent.
    oov = {w for w in counts if w not in names and zipf(w, 0.0) < KNOWN_ZIPF}

    found: dict[str, dict[str, object]] = {}
    # First occurrence of each word, its place in ``flat``: for its line, and its spelling as the text
    # first writes it ("Jemenskyy", not "jemenskyy"). Built from the end, so that the first occurrence
    # is the one that stays.
    first_at: dict[str, int] = dict(zip(reversed(lowered), range(len(lowered) - 1, -1, -1), strict=True))
    numbers: list[int] = []  # the original line of every word, only if a hard-wrapped line needs it

    def first_line(w: str) -> int:
        """The original line where ``w`` is first written (as :func:`_word_line_numbers` counts)."""
        p = first_at[w]
        ln = doc.lines[bisect_right(line_ends, p)]
        if ln.span == 1:
            return ln.number
        if not numbers:
            numbers.extend(_word_line_numbers(doc))
        return numbers[p]

    def surface(w: str) -> str:
        return flat[first_at[w]]

    # Bound the cost on pages full of unknown tokens (product names, code): the first ones in text order,
    # after the cheap shape tests, so that words no spinner or typo makes do not take the places.
    # A compound ("Notebank") is examined only against the lexicon's names one edit away ("Starmar").
    compound_names: dict[str, list[str]] = {}

    def examined(w: str) -> bool:
        if not (MIN_TOKEN_LEN <= len(w) <= MAX_TOKEN_LEN and counts[w] < CONSISTENT_SPELLING):
            return False
        if _not_misspelled_shape(surface(w)) or _inflected(w, zipf, names) or _derived(w, zipf):
            return False
        if _compound(w, vocab.zipf):
            compound_names[w] = _lexicon_pool(lexicon, w, 1)
            return bool(compound_names[w])
        return True

    candidates = sorted(filter(examined, oov), key=lambda w: (first_line(w), w))[:MAX_CANDIDATES]
    doc_pools: dict[int, list[str]] = {}
    if candidates:
        # Other spellings in this document: capitalised tokens that are known, or that the text uses
        # more often than the suspect token (Zelenskyy six times against Jemenskyy once): those a
        # candidate may be compared with (it is used fewer than CONSISTENT_SPELLING times).
        capitalised = {w.lower() for w in compress(flat, is_alpha) if w[0].isupper()}
        doc_pools = {
            n: sorted(c for c in capitalised if c not in oov or counts[c] > n) for n in range(1, CONSISTENT_SPELLING)
        }
    for w in candidates:
        max_d = _max_distance(w)
        intended: tuple[str, int, str] | None = None
        compound = w in compound_names
        pools: list[tuple[str, list[str] | None]]
        if compound:  # a coinage, unless it is a letter from a name the lexicon knows
            max_d, pools = 1, [("lexicon", compound_names[w])]
        else:  # the document's names never hold w itself: w is unknown and not more frequent than w
            pools = [("document", doc_pools[counts[w]]), ("lexicon", None)]
        plural = False  # "xenobot" beside the text's "xenobots": one word, in the singular and the plural
        for source, pool in pools:
            if pool is None:
                pool = _lexicon_pool(lexicon, w, max_d)
            hit = process.extractOne(w, pool, scorer=DamerauLevenshtein.distance, score_cutoff=max_d)
            if hit is not None and hit[1] > 0 and len(hit[0]) >= MIN_TOKEN_LEN:
                plural = _plural_pair(w, hit[0])
                intended = None if plural else (hit[0], int(hit[1]), source)
                break
        if intended is None and not compound and not plural:
            common = vocab.nearest_common(w, max_distance=max_d if len(w) >= 8 else 1)
            if common is not None and vocab.zipf.get(common[0], 0.0) >= COMMON_ZIPF:
                intended = (common[0], common[1], "vocabulary")
        if intended is not None:
            shown = surface(w)
            found[w] = {
                "found": shown,
                "intended": _match_case(intended[0], shown, first_at, flat),
                "distance": intended[1],
                "source": intended[2],
                "count": counts[w],
                "line": first_line(w),
            }

    # Name-slot swaps: "Scott Scent" where the lexicon knows "Scott Bessent", or the text itself writes
    # "Morwenna Trevaskis" elsewhere: its own full names are a first name and a rare capitalised word.
    slots: list[dict[str, object]] = []
    seen_slots: set[tuple[str, str]] = set()
    own = _own_full_names(line_words, vocab.zipf, names, lexicon.full_names)

    # The capitalised words after a known first name (the lexicon's or the text's own) on the same line:
    # positions in ``lowered`` (all the lines' words, in order), looked for in one pass (membership tests
    # mapped over the words, no Python call per word), then taken line by line.
    is_first_name = map(lexicon.full_names.__contains__, lowered)
    if own:
        is_first_name = map(or_, is_first_name, map(own.__contains__, lowered))
    after: dict[int, list[int]] = {}
    for p in compress(itertools.count(), is_first_name):
        if p + 1 == len(flat):
            break
        cur = flat[p + 1]
        if not (cur[:1].isupper() and cur[1:].islower()):
            continue  # most first names the lexicon knows are common words too ("new", "two", "state")
        k = bisect_right(line_ends, p)  # the line of word p
        if p + 1 < line_ends[k]:  # not the line's last word
            after.setdefault(k, []).append(p + 1 - (line_ends[k] - len(line_words[k])))
    surnames_of: dict[str, list[str]] = {}
    for k in sorted(after):
        ln, words = doc.lines[k], line_words[k]
        for i in after[k]:
            prev, cur = words[i - 1].lower(), words[i]
            lc = cur.lower()
            if (prev, lc) in seen_slots or lc in lexicon.full_names.get(prev, ()) or lc in names:
                continue
            if vocab.zipf.get(lc, 0.0) < COMMON_ZIPF:
                continue
            # Only rare surnames (the lexicon's names, the text's own rare ones) count: "San Francisco" is no
            # person. A surname that starts with the word is its derived form ("Zealand", "Zealander").
            if prev not in surnames_of:
                surnames_of[prev] = _surnames(lexicon, own, prev)
            surnames = [s for s in surnames_of[prev] if not s.startswith(lc)]
            best = process.extractOne(lc, surnames, scorer=fuzz.ratio, score_cutoff=NAME_SLOT_SIMILARITY)
            seen_slots.add((prev, lc))
            if best is None:
                continue
            from_lexicon = prev in lexicon.full_names and best[0] in lexicon.rare_surnames(prev)
            slots.append(
                {
                    "found": f"{words[i - 1]} {cur}",
                    "intended": f"{words[i - 1]} {best[0].capitalize()}",
                    "line": ln.number,
                    "source": "lexicon" if from_lexicon else "document",
                }
            )

    n_words = max(doc.n_words, 50)
    n_miss = sum(int(f["count"]) for f in found.values())  # type: ignore[call-overload]
    values = {
        "entity_misspelled_per_1k": 1000.0 * n_miss / n_words,
        "entity_misspelled_log_count": math.log1p(len(found)),
        "entity_misspelled_evidence": misspelling_evidence(n_miss, n_words),
        # names and words the text itself spells right elsewhere (Jemenskyy beside Zelenskyy)
        "entity_respelled_log_count": math.log1p(sum(1 for f in found.values() if f["source"] == "document")),
        "entity_name_slot_per_1k": 1000.0 * len(slots) / n_words,
        "entity_oov_rate": sum(counts[w] for w in oov) / max(len(alpha_lowered), 1),
    }
    evidence = {
        "misspellings": sorted(found.values(), key=lambda f: (int(f["line"]), str(f["found"]))),  # type: ignore[call-overload]
        "name_slots": slots,
    }
    return FamilyOutput(values=values, evidence=evidence)
