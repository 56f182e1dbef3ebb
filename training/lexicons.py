"""Small hand-written keyword lexicons. They are *features* of the learned line model, never rules alone."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from functools import lru_cache
from itertools import accumulate, compress, count, repeat

import numpy as np

# Boilerplate categories, in a fixed order: the line model's classes are ("content", *CATEGORIES).
CATEGORIES: tuple[str, ...] = (
    "cookie",
    "related",
    "comments",
    "share",
    "newsletter",
    "author",
    "navigation",
    "legal",
    "ads",
    "caption",
    "title_site",
    "meta",
    "spam",
)

CATEGORY_LABELS: dict[str, str] = {
    "cookie": "cookie or consent banner",
    "related": "related or recommended links",
    "comments": "comment form",
    "share": "share or social bar",
    "newsletter": "newsletter or subscription prompt",
    "author": "author box",
    "navigation": "navigation or breadcrumb",
    "legal": "copyright or legal footer",
    "ads": "advertisement",
    "caption": "image caption or credit",
    "title_site": "site name in a title line",
    "meta": "page metadata (timestamps, tags, counters)",
    "spam": "promotional or spam line",
}

_KEYWORDS: dict[str, tuple[str, ...]] = {
    "cookie": (
        "cookie", "cookies", "consent", "gdpr", "opt-out", "opt out", "privacy settings", "accept all",
        "reject all", "manage preferences", "your experience", "tracking", "personalised ads",
        "personalized ads", "we and our partners", "accept", "preferences",
    ),
    "related": (
        "related", "more articles", "read more", "read next", "must read", "check also", "you may also like",
        "recommended", "latest", "trending", "popular", "don't miss", "more from", "more stories",
        "also read", "see also", "top stories", "more news", "what to read next", "up next", "editor's picks",
    ),
    "comments": (
        "comment", "comments", "reply", "leave a reply", "email address will not be published",
        "required fields", "post a comment", "join the discussion", "name *", "website", "log in to",
        "notify me", "discussion", "cancel reply",
    ),
    "share": (
        "share", "facebook", "twitter", "tweet", "whatsapp", "pinterest", "linkedin", "reddit", "telegram",
        "copy link", "follow us", "instagram", "tiktok", "youtube", "opens in new window", "email this",
    ),
    "newsletter": (
        "newsletter", "subscribe", "subscription", "sign up", "inbox", "enter your email", "subscriber",
        "unsubscribe", "daily briefing", "delivered to", "continue reading", "log in", "free trial",
    ),
    "author": (
        "about the author", "view all posts", "posts by", "contact the author", "is a reporter",
        "is a senior", "is a staff", "covers", "correspondent", "writes about", "follow @", "more from this author",
        "about ", "bio",
    ),
    "navigation": (
        "home", "menu", "skip to", "search", "sign in", "login", "next article", "previous", "back to top",
        "toggle", "navigation", "sections", "page ", "›", "»", "main content", "go to", "close", "open",
    ),
    "legal": (
        "©", "copyright", "all rights reserved", "privacy policy", "terms of use", "terms of service",
        "terms and conditions", "contact us", "about us", "advertise", "do not sell", "may not be published",
        "redistributed", "accessibility", "sitemap", "careers",
    ),
    "ads": (
        "advertisement", "sponsored", "advertising", "promoted", "partner content", "paid content",
        "affiliate", "commission", "ad choices", "continues below",
    ),
    "caption": (
        "photo", "image", "credit", "getty", "file photo", "pictured", "illustration", "photograph",
        "(photo", "/ ", "images)", "caption",
    ),
    "title_site": (" | ", " - ", " — ", ".com", ".net", ".org", ".co.uk", "news", "daily", "times"),
    "meta": (
        "min read", "updated", "published", "posted", "tags:", "views", "listen to this", "print",
        "font size", "ago", "am edt", "pm edt", "am et", "pm et", "gmt", "utc", "filed under", "category",
    ),
    "spam": (
        "free", "click here", "buy", "cheap", "order now", "limited offer", "discount", "casino", "crypto",
        "bitcoin", "guaranteed", "earn", "win", "deal", "weird trick", "viagra", "loan", "bonus", "!!!",
    ),
}


# Fast path for the line model: one-word keywords by set lookup, the rest by substring search.
_WORD_KEYWORDS: dict[str, list[int]] = {}
_PHRASE_KEYWORDS: list[tuple[str, int]] = []
for _j, _cat in enumerate(CATEGORIES):
    for _kw in _KEYWORDS[_cat]:
        if re.fullmatch(r"[a-z0-9']+", _kw):
            _WORD_KEYWORDS.setdefault(_kw, []).append(_j)
        else:
            _PHRASE_KEYWORDS.append((_kw, _j))
_WORD_KEYWORD_SET = frozenset(_WORD_KEYWORDS)


class _PhraseFilter:
    """Which of a fixed list of phrases can occur in a text, all tested at once: a phrase occurs only
    where each of its runs of 4 consecutive bytes (UTF-8) occurs, so one pass over the text's own
    4-byte runs (hashed into a table of 2**16 bits) rules out most absent phrases; the rest are then
    searched for as before (``phrase in text``). A necessary condition only: what ``may_hold`` leaves
    in is confirmed, and a hash collision only costs a search. A hundred substring searches of the
    whole text (a sixth of the line model's time) become two or three."""

    GRAM = 4
    MIN_CHARS = 600  # shorter texts: the searches cost less than the table

    def __init__(self, phrases: tuple[str, ...] | list[str]) -> None:
        self.phrases = tuple(phrases)
        grams: list[np.ndarray] = []
        offsets: list[int] = []
        self.long: list[int] = []  # indices of the phrases with at least one 4-byte run
        at = 0
        for i, phrase in enumerate(self.phrases):
            g = self._hashes(phrase.encode("utf-8"))
            if len(g):
                self.long.append(i)
                offsets.append(at)
                grams.append(g)
                at += len(g)
        self.grams = np.concatenate(grams) if grams else np.zeros(0, dtype=np.intp)
        self.offsets = np.asarray(offsets, dtype=np.intp)

    @classmethod
    def _hashes(cls, data: bytes) -> np.ndarray:
        """A 16-bit hash of every run of 4 consecutive bytes of ``data``, in order."""
        a = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
        if len(a) < cls.GRAM:
            return np.zeros(0, dtype=np.intp)
        g = (a[:-3] << 24) | (a[1:-2] << 16) | (a[2:-1] << 8) | a[3:]
        g *= np.uint32(0x9E3779B1)  # wraps at 32 bits: a multiplicative hash, its high bits kept
        return (g >> 16).astype(np.intp)

    def may_hold(self, text: str) -> list[bool]:
        """Per phrase, False where it certainly does not occur in ``text``."""
        if len(text) < self.MIN_CHARS or not len(self.grams):
            return [True] * len(self.phrases)
        seen = np.zeros(1 << 16, dtype=bool)
        # surrogatepass: a lone surrogate (JSON allows "\udcff") is a character like any other
        seen[self._hashes(text.encode("utf-8", "surrogatepass"))] = True
        out = [True] * len(self.phrases)
        for i, ok in zip(self.long, np.logical_and.reduceat(seen[self.grams], self.offsets).tolist(), strict=True):
            out[i] = ok
        return out


_PHRASES = _PhraseFilter([kw for kw, _ in _PHRASE_KEYWORDS])
_TOKEN_RE = re.compile(r"[a-z0-9']+")
_TOKEN_OR_NEWLINE_RE = re.compile(r"[a-z0-9']+|\n")
_WORD_KEYWORD_OR_NEWLINE = _WORD_KEYWORD_SET | {"\n"}
# keyword_hits_lines finds a phrase in the joined lines: one that held a newline could span two of them.
assert not any("\n" in kw for kw, _ in _PHRASE_KEYWORDS), "a keyword phrase holds a newline"


def keyword_hits_lines(lowered: list[str]) -> np.ndarray:
    """Keyword-lexicon hits per category (in :data:`CATEGORIES` order) for every line of a document,
    given its lines in lower case; shape ``(len(lines), len(CATEGORIES))``. A one-word keyword counts
    at each occurrence as a token, a phrase once per line that holds it.

    One tokenisation of the whole document (newlines kept as tokens, to know the line), of which only
    the keywords and the newlines are visited; phrases absent from the whole document are not looked
    for, and those present are found in it by ``str.find``, a line at a time (after a hit, the search
    goes on at the next line's start).
    """
    out = np.zeros((len(lowered), len(CATEGORIES)))
    if not lowered:
        return out
    hits: Counter[tuple[int, int]] = Counter()  # (line, category) -> hits
    whole = "\n".join(lowered)
    toks = _TOKEN_OR_NEWLINE_RE.findall(whole)
    if not _WORD_KEYWORD_SET.isdisjoint(toks):
        if whole.count("\n") == len(lowered) - 1:
            i = 0
            for tok in map(toks.__getitem__, compress(count(), map(_WORD_KEYWORD_OR_NEWLINE.__contains__, toks))):
                if tok == "\n":
                    i += 1
                else:
                    hits.update(zip(repeat(i), _WORD_KEYWORDS[tok]))
        else:  # a line holds a newline itself: count line by line
            for i, low in enumerate(lowered):
                for tok in _TOKEN_RE.findall(low):
                    hits.update(zip(repeat(i), _WORD_KEYWORDS.get(tok, ())))
    may_hold = _PHRASES.may_hold(whole)  # only the phrases it leaves in are searched for
    phrases = [(kw, j) for (kw, j), maybe in zip(_PHRASE_KEYWORDS, may_hold, strict=True) if maybe and kw in whole]
    if phrases:
        # where the line after each line starts in ``whole`` (a line's own newlines included)
        next_start = list(accumulate(map((1).__add__, map(len, lowered))))
        for kw, j in phrases:
            at = whole.find(kw)
            while at >= 0:
                i = bisect_right(next_start, at)  # the line of the match
                hits[i, j] += 1
                at = whole.find(kw, next_start[i])
    for (i, j), n in hits.items():
        out[i, j] = n
    return out


STOP_WORDS: frozenset[str] = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    said says would could may might must shall""".split()
)

# Function words of other major languages written with spaces: a line of German or Spanish prose is
# prose, not a menu. Used only by the line model's stop-word density, never by English-only signals.
FUNCTION_WORDS: frozenset[str] = STOP_WORDS | frozenset(
    """der die das und ist nicht mit von den zu ein eine auf für sich dem des im auch als wie bei nach
    el la los las de del y en que por con para una un es se al lo su más como pero sus le les et est dans
    pour pas sur qui une avec ce il elle ne sont du au aux il di che non per nel della delle alla sono
    gli da come anche o do da em os as um uma não com por para mais foi ao dos das het een van en de
    dat niet op te zijn voor met als ook aan er bij и в не на что с по как это из за от для то""".split()
)

# Another language's function words: its most frequent words in wordfreq (offline data). The top 150
# cover as much of English news as FUNCTION_WORDS does (42-43 % of the fixtures' words), the top 100 as
# much as STOP_WORDS (40 %).
FUNCTION_WORDS_TOP_N = 150
STOP_WORDS_TOP_N = 100


@lru_cache(maxsize=64)
def _top_list(language: str) -> tuple[str, ...]:
    """The language's most frequent words in wordfreq, most frequent first (empty for English and for
    languages wordfreq does not know)."""
    # wordfreq's top_n_list reads the language's whole list (~110 ms) and keeps it in an unbounded
    # cache (tens of MiB per language, in every worker). Read it here once, keep only the top words.
    from wordfreq import available_languages, read_cBpack
    from wordfreq.numbers import has_digit_sequence

    code = {"zh-cn": "zh", "zh-tw": "zh", "no": "nb", "tl": "fil"}.get(language, language.split("-")[0])
    path = available_languages().get(code)
    if code == "en" or path is None:
        return ()
    n = max(FUNCTION_WORDS_TOP_N, STOP_WORDS_TOP_N)
    words: list[str] = []
    for bucket in read_cBpack(path):  # buckets of words of equal frequency, most frequent first
        words += (w for w in bucket if not has_digit_sequence(w))  # as top_n_list: no "000"
        if len(words) >= n:
            break
    return tuple(w.lower() for w in words[:n])


@lru_cache(maxsize=64)
def function_words(language: str) -> frozenset[str]:
    """The function words the line model's stop-word density counts for a text in ``language``:
    FUNCTION_WORDS, plus the language's most frequent words when it is not English."""
    top = _top_list(language)
    return FUNCTION_WORDS | frozenset(top[:FUNCTION_WORDS_TOP_N]) if top else FUNCTION_WORDS


@lru_cache(maxsize=64)
def stop_words(language: str) -> frozenset[str]:
    """STOP_WORDS for English and unknown languages; the language's most frequent words otherwise."""
    top = _top_list(language)
    return frozenset(top[:STOP_WORDS_TOP_N]) if top else STOP_WORDS


PROMO_PHRASES: tuple[str, ...] = (
    "click here", "buy now", "order now", "free shipping", "limited time", "limited offer", "best price",
    "act now", "don't miss out", "100% free", "risk-free", "money back", "earn money", "work from home",
    "lose weight", "cheap", "discount code", "promo code", "casino", "bonus", "sign up now", "call now",
    "weird trick", "doctors hate", "you won't believe", "miracle", "guaranteed", "best deals", "special offer",
    "subscribe now", "free trial", "make money",
)
_PROMO = _PhraseFilter(PROMO_PHRASES)


def promo_hits(text: str) -> list[str]:
    """Promotional phrases found in ``text`` (lower case), one entry per occurrence; substring search."""
    low = text.lower()
    may_hold = _PROMO.may_hold(low)
    return [p for p, maybe in zip(PROMO_PHRASES, may_hold, strict=True) if maybe for _ in range(low.count(p))]

# Titles and roles after which a capitalised word is a person's name.
NAME_TITLES: frozenset[str] = frozenset(
    """president secretary senator sen rep representative minister chancellor governor mayor prime general
    gen envoy ambassador judge justice chief director chairman chairwoman chair speaker leader king queen prince
    princess pope dr mr mrs ms professor prof commissioner spokesman spokeswoman spokesperson adviser advisor
    mp deputy lt col sgt captain capt coach""".split()
)

# Runs bounded (a local part of 64 characters and a label of 63, as the standards have it; 16 labels): an
# unbounded run is tried from every position of a long line to its end, quadratic time ("@" followed by
# 100,000 letters took 18 s).
EMAIL_RE = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,16}")
URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w-]{1,63}(?:\.[\w-]{1,63}){0,16}\.(?:com|net|org|io|co|info|biz|news|uk|de)\b", re.I
)
PHONE_RE = re.compile(r"(?<!\d)(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{3,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})?(?!\d)")
