"""Seeded generator of degraded variants of reliable articles, with a label for every line.

Each variant is what crawls really hold: a scrape wrapped in page chrome, boilerplate stitched into
the article, a full-page dump, a machine-spun copy with mangled names, a truncated teaser, keyword
stuffing, duplicated paragraphs. Boilerplate comes from the project-written pool
(``fixtures/boilerplate_pool.jsonl``). Benign variants stay ``reliable``: the same article laid out
differently, the article with the few tail lines almost every real article page ends with (an author
box, a comment prompt), and the article with a timestamp or photo credit under its headline, since a
reader would still call that text reliable.

Same input and seed, same output: every random choice comes from one ``random.Random`` per variant,
seeded from the seed and the article's id.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from training.document import WORD_RE, split_sentences
from training.lexicons import STOP_WORDS
from training.linemodel import BULLET_RE

__all__ = ["Example", "load_pool", "variants", "generate", "UNRELIABLE_KINDS", "RELIABLE_KINDS", "ENGLISH_ONLY_KINDS",
           "EXTRA_UNRELIABLE_KINDS", "EXTRA_RELIABLE_KINDS", "GENERATED_ORIGIN"]

GENERATED_ORIGIN = "generated:"  # a generated variant's origin: this, then its kind ("generated:spun")

UNRELIABLE_KINDS = (
    "scraped", "inline", "inline_light", "dump", "flattened", "spun", "truncated", "stuffed", "repeated",
)
RELIABLE_KINDS = ("reformat", "light_tail", "light_tail_2", "light_head", "typo")
# Drawn apart from the others (so adding it left every other article's kinds as they were): about half
# of the articles also give a fragment.
FRAGMENT_SHARE = 0.5
# Drawn apart too, each for about a fifth of the articles: the article's words replaced by made-up ones
# (random letters, or syllables that read like a language: keyboard mash, lorem ipsum, a broken cipher), and
# (English only) its words shuffled into sentences of no grammatical order (the word salad spam sites
# publish). Every other signal passed both: the words family needs examples to weigh them.
GIBBERISH_SHARE = 0.2
WORD_SALAD_SHARE = 0.2
EXTRA_UNRELIABLE_KINDS = ("fragment", "gibberish", "word_salad")
# Drawn apart too, for about a quarter of the English articles: the article ending on a list written
# without full stops. Real clean articles end without a full stop about once in fifty (a list, a
# signature); with none among the reliable fixtures, the model took every such ending for a cut-off text.
LIST_END_SHARE = 0.25
# Drawn apart too, for about half of the articles: one of its sentences repeated a few paragraphs on as a
# line of its own (a pull quote). Two in five real clean articles repeat some 8-word run (a pull quote, a
# summary or a contents list above the sections, the lede again as a video's caption); almost no reliable
# fixture did, so the model took any repeated run for a page repeating itself.
PULL_QUOTE_SHARE = 0.5
EXTRA_RELIABLE_KINDS = ("list_end", "pull_quote")
# Kinds that only make sense for an English article (the spinner; a tail or header from the English pool).
ENGLISH_ONLY_KINDS = ("spun", "light_tail", "light_tail_2", "light_head", "typo", "word_salad")

_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[^\W\d_])")
_SECTIONS = ("World", "Politics", "Business", "Local", "Sport", "Opinion", "Tech", "Health", "Culture")
_DOMAINS = (
    "harbor-daily-news.example.com", "newswire24.example.net", "the-morning-ledger.example.org",
    "metro-post.preview-site.example.com", "globalnewsdesk.example.info", "riverbend-times.example.com",
)
_SYNONYMS = {
    "said": "stated", "says": "expresses", "war": "battle", "talks": "discussions", "meeting": "assembly",
    "president": "head of state", "government": "administration", "announced": "declared",
    "officials": "authorities", "support": "backing", "weapons": "armaments", "agreement": "accord",
    "country": "nation", "people": "individuals", "week": "seven days", "help": "aid", "big": "large",
    "city": "metropolis", "police": "law enforcement", "company": "firm", "market": "marketplace",
    "rose": "climbed", "fell": "dropped", "increase": "boost", "plan": "scheme", "vote": "ballot",
    "leader": "chief", "warned": "cautioned", "killed": "slain", "attack": "assault", "deal": "bargain",
    "report": "account", "study": "examine", "children": "youngsters", "water": "aqua", "fire": "blaze",
    "home": "residence", "school": "academy", "team": "squad", "game": "match", "record": "file",
    "price": "value", "money": "funds", "economy": "financial system", "minister": "secretary",
    "court": "tribunal", "judge": "adjudicator", "law": "regulation", "election": "poll",
}
_KEYWORDS = (
    "best cheap car insurance", "buy gold online", "top crypto signals", "cheap flights deals",
    "fast weight loss pills", "online casino bonus", "payday loans near me", "best vpn 2025",
)
_CONTACTS = (
    "newsdesk.tips{n}@gmail.com", "editor{n}@mailbox.example.com", "Call us: +1 555-01{n:02d}",
    "WhatsApp +44 7700 900{n:03d}", "reporter.{n}@outlook.example.com",
)


@dataclass
class Example:
    """One labeled document. ``line_labels`` aligns with the text's non-blank lines."""

    id: str
    text: str
    label: str
    tags: list[str]
    origin: str
    source_id: str
    line_labels: list[str] | None = None
    weight: float = 1.0
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "label": self.label, "tags": self.tags, "origin": self.origin}


def load_pool(path: Path) -> dict[str, list[str]]:
    """Boilerplate lines by category from a JSONL file of ``{"category", "text"}``."""
    pool: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                pool.setdefault(row["category"], []).append(row["text"])
    return pool


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(zlib.crc32("\x1f".join((str(seed), *parts)).encode()))


def _lines(text: str) -> list[str]:
    return [" ".join(x.split()) for x in text.split("\n") if x.strip()]


def _render(lines: Sequence[str], rng: random.Random) -> str:
    return ("\n\n" if rng.random() < 0.5 else "\n").join(lines)


class _Page:
    """Lines with their labels, built up by the variant functions."""

    def __init__(self, lines: Iterable[str] = (), label: str = "content", *, labeled: bool = True) -> None:
        self.lines: list[str] = []
        self.labels: list[str] = []
        self.labeled = labeled  # False: the lines' labels are not meaningful (a flattened page)
        self.add(lines, label)

    def add(self, lines: Iterable[str], label: str) -> _Page:
        for ln in lines:
            ln = " ".join(ln.split())
            if ln:
                self.lines.append(ln)
                self.labels.append(label)
        return self

    def extend(self, other: _Page) -> _Page:
        self.lines += other.lines
        self.labels += other.labels
        return self


def _pick(pool: dict[str, list[str]], cat: str, rng: random.Random, k: int) -> list[str]:
    items = pool.get(cat, [])
    return [rng.choice(items) for _ in range(k)] if items else []


def _block(pool: dict[str, list[str]], rng: random.Random, cats: Sequence[str], lo: int, hi: int) -> _Page:
    page = _Page()
    for cat in cats:
        page.add(_pick(pool, cat, rng, rng.randint(lo, hi)), cat)
    return page


def _related_block(pool: dict[str, list[str]], rng: random.Random, lo: int, hi: int) -> _Page:
    related = pool.get("related", [])
    labels = [r for r in related if len(r.split()) <= 4] or related
    teasers = [r for r in related if len(r.split()) > 4] or related
    page = _Page([rng.choice(labels)], "related")
    return page.add(rng.sample(teasers, min(len(teasers), rng.randint(lo, hi))), "related")


def _nav_run(pool: dict[str, list[str]], rng: random.Random, lo: int, hi: int) -> _Page:
    nav = pool.get("navigation", [])
    short = [n for n in nav if len(n.split()) <= 3] or nav
    items = rng.sample(short, min(len(short), rng.randint(lo, hi)))
    items += rng.sample(_SECTIONS, rng.randint(0, 4))
    rng.shuffle(items)
    return _Page(items, "navigation")


def _split(lines: list[str]) -> tuple[list[str], list[str]]:
    """Headline (first line when it looks like one) and body lines."""
    if lines and len(lines[0].split()) <= 20 and not lines[0].endswith("."):
        return lines[:1], lines[1:]
    return [], lines


def _interleave(body: list[str], inserts: list[tuple[str, str]], rng: random.Random) -> _Page:
    page = _Page()
    slots = sorted(rng.randrange(1, max(len(body), 2)) for _ in inserts)
    it = iter(zip(slots, inserts, strict=True))
    nxt = next(it, None)
    for i, ln in enumerate(body):
        while nxt is not None and nxt[0] == i:
            page.add([nxt[1][1]], nxt[1][0])
            nxt = next(it, None)
        page.add([ln], "content")
    while nxt is not None:
        page.add([nxt[1][1]], nxt[1][0])
        nxt = next(it, None)
    return page


def _site_title(headline: str, rng: random.Random) -> str:
    site = rng.choice(_DOMAINS)
    styles = (
        f"{headline} | {rng.choice(_SECTIONS)} | {site}",
        f"{headline} - {site.split('.')[0].replace('-', ' ').title()}",
        f"{headline} | {site}",
        f"{headline} — {site.split('.')[0].replace('-', ' ').title()}",
    )
    return rng.choice(styles)


# --- unreliable variants -------------------------------------------------------------------------


def scraped(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    head, body = _split(lines)
    headline = head[0] if head else body[0][:80]
    page = _Page([_site_title(headline, rng)], "title_site")
    if rng.random() < 0.5:
        page.extend(_nav_run(pool, rng, 3, 10))
    page.add([headline] * rng.randint(1, 3), "content")
    page.extend(_interleave(body, [(c, rng.choice(pool[c])) for c in rng.sample(["ads", "caption", "share"], rng.randint(0, 2))], rng))
    page.extend(_related_block(pool, rng, 2, 5))
    if rng.random() < 0.7:
        page.add([rng.choice(_CONTACTS).format(n=rng.randint(1, 99))], "meta")
    page.extend(_block(pool, rng, ["cookie"], 1, 2))
    if rng.random() < 0.5:
        page.extend(_block(pool, rng, ["legal"], 1, 3))
    return page


def inline(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    head, body = _split(lines)
    page = _Page(head, "content")
    head_cats = ["related", "ads", "share", "meta", "newsletter"]
    page.add(_pick(pool, rng.choice(head_cats), rng, 1), "")
    page.labels[-1:] = [c for c in head_cats if page.lines[-1] in pool.get(c, [])][:1] or ["related"]
    cats = ["ads", "caption", "related", "newsletter", "share", "spam"]
    inserts = [(c, rng.choice(pool[c])) for c in (rng.choice(cats) for _ in range(rng.randint(2, 5)))]
    page.extend(_interleave(body, inserts, rng))
    tail_cats = rng.sample(["related", "comments", "author", "share", "newsletter", "legal", "meta"], rng.randint(2, 4))
    page.extend(_block(pool, rng, tail_cats, 1, 3))
    return page


def inline_light(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """A teaser or widget line between the headline and the first paragraph, a few at the end."""
    head, body = _split(lines)
    page = _Page(head, "content")
    cat = rng.choice(["related", "related", "ads", "share", "newsletter"])
    labels = [r for r in pool[cat] if len(r.split()) <= 4] or pool[cat]
    page.add([rng.choice(labels)], cat)
    page.add(body, "content")
    return page.extend(_block(pool, rng, rng.sample(["related", "newsletter", "share", "navigation"], 2), 1, 2))


def dump(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    head, body = _split(lines)
    page = _Page()
    if rng.random() < 0.6:
        page.add(["Skip to content" if rng.random() < 0.5 else rng.choice(pool["navigation"])], "navigation")
    page.extend(_nav_run(pool, rng, 6, 25))
    page.extend(_block(pool, rng, ["meta"], 0, 2))
    page.add(head, "content")
    page.extend(_block(pool, rng, ["meta", "share"], 1, 3))
    inserts = [(c, rng.choice(pool[c])) for c in (rng.choice(["ads", "caption", "related", "newsletter"]) for _ in range(rng.randint(1, 4)))]
    page.extend(_interleave(body, inserts, rng))
    page.extend(_block(pool, rng, ["share", "author"], 0, 2))
    page.extend(_related_block(pool, rng, 3, 8))
    page.extend(_block(pool, rng, ["newsletter", "comments"], 1, 3))
    page.extend(_nav_run(pool, rng, 3, 10))
    page.extend(_block(pool, rng, ["legal"], 2, 6))
    page.extend(_block(pool, rng, ["cookie"], 1, 3))
    return page


def flattened(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """A page dump with its line breaks lost: menus, article and footer run together on one line."""
    page = dump(lines, pool, rng)
    return _Page([" ".join(page.lines)], "navigation", labeled=False)


_VOWELS = "aeiou"
_CONSONANTS = "bcdfghjklmnprstvwz"


def mangle(word: str, rng: random.Random) -> str:
    """One or two character edits a spinner or bad transliteration makes; keeps the first letter's case."""
    w = list(word)
    for _ in range(1 if len(word) <= 6 else rng.randint(1, 2)):
        i = rng.randrange(1 if len(w) > 3 else 0, len(w))
        op = rng.random()
        if op < 0.55:
            pool = _VOWELS if w[i].lower() in _VOWELS else _CONSONANTS
            ch = rng.choice([c for c in pool if c != w[i].lower()])
            w[i] = ch.upper() if w[i].isupper() else ch
        elif op < 0.75 and len(w) > 4:
            del w[i]
        elif op < 0.9:
            w.insert(i, w[i].lower())
        elif i + 1 < len(w):
            w[i], w[i + 1] = w[i + 1], w[i]
    out = "".join(w)
    return out if out.lower() != word.lower() else word[:-1] + ("y" if word[-1] != "y" else "i")


def _name_like(word: str) -> bool:
    """A word a spinner or a slip may garble as a name: capitalised, 5+ letters, the rest lower case."""
    return word[:1].isupper() and len(word) >= 5 and word[1:].islower()


def _long_word(word: str) -> bool:
    """A word a spinner or a slip may garble as a word: lower case, 7+ letters."""
    return word.islower() and len(word) >= 7


def _garble_at(text: str, pos: int, word: str, rng: random.Random) -> str:
    """``text`` with the occurrence of ``word`` at ``pos`` mangled."""
    return text[:pos] + mangle(word, rng) + text[pos + len(word) :]


def spun(
    lines: list[str], pool: dict[str, list[str]], rng: random.Random, *, common_words: Sequence[str] = ()
) -> _Page:
    text = "\n".join(lines)
    words = WORD_RE.findall(text)
    names = sorted({w for w in words if _name_like(w)})
    long_words = sorted({w for w in words if _long_word(w)})
    # The spinner garbles occurrences, not words: a name the article uses five times is five times as
    # likely to be hit, and usually still spelled right elsewhere (Jemenskyy beside Zelenskyy).
    spots: list[tuple[int, str]] = []
    for group, k in ((set(names), rng.randint(3, 8)), (set(long_words), rng.randint(2, 6))):
        found = [(m.start(), m.group(0)) for m in WORD_RE.finditer(text) if m.group(0) in group]
        spots += rng.sample(found, min(len(found), k))
    for pos, t in sorted(spots, reverse=True):  # from the end, so that earlier positions stay valid
        text = _garble_at(text, pos, t, rng)
    # A surname swapped for a common word after a first name ("Scott Scent").
    pairs = re.findall(r"\b([A-Z][a-z]+) ([A-Z][a-z]{3,})\b", text)
    if pairs and common_words:
        for first, last in rng.sample(pairs, min(len(pairs), rng.randint(1, 2))):
            cands = [c for c in common_words if c[:1] == last[:1].lower() or c[-3:] == last[-3:].lower()]
            if cands:
                text = text.replace(f"{first} {last}", f"{first} {rng.choice(cands).capitalize()}", 1)
    # Synonym spinning of a share of the common words.
    rate = rng.uniform(0.3, 0.8)

    def swap(m: re.Match[str]) -> str:
        w = m.group(0)
        rep = _SYNONYMS.get(w.lower())
        if rep is None or rng.random() > rate:
            return w
        return rep.capitalize() if w[0].isupper() else rep

    text = re.sub(r"\b[A-Za-z]+\b", swap, text)
    page = _Page(_lines(text), "content")
    if rng.random() < 0.5:
        page.extend(_block(pool, rng, rng.sample(["related", "comments", "share", "navigation"], 2), 1, 2))
    return page


def truncated(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    text = "\n".join(lines)
    cut = int(len(text) * rng.uniform(0.2, 0.55))
    cut = text.rfind(" ", 0, cut) if " " in text[:cut] else cut
    page = _Page(_lines(text[:cut]), "content")
    if rng.random() < 0.6:
        page.add(_pick(pool, "newsletter", rng, rng.randint(1, 3)), "newsletter")
    if rng.random() < 0.5:
        page.extend(_related_block(pool, rng, 1, 4))
    return page


def stuffed(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    kw = rng.choice(_KEYWORDS)
    out = []
    for ln in lines:
        if len(ln.split()) > 12 and rng.random() < 0.6:
            ln = f"{ln} {kw.capitalize()} – {kw}!"
        out.append(ln)
    page = _Page(out, "content")
    inserts = [("spam", rng.choice(pool["spam"])) for _ in range(rng.randint(2, 5))]
    return _interleave(page.lines, inserts, rng).add([f"{kw.upper()} {kw.upper()} {kw}"], "spam")


def fragment(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """A few words of the article where the article should be: its headline alone, a sentence or two (a
    teaser, a snippet), sometimes under a "Read more" line; what a crawl holds when extraction fails."""
    head, body = _split(lines)
    sentences = [s for ln in body for s in _SENTENCE_SPLIT_RE.split(ln) if s.strip()]
    roll = rng.random()
    if roll < 0.3 and head:
        out = [head[0]]
    else:
        start = rng.randrange(max(1, len(sentences)))
        out = [" ".join(sentences[start : start + rng.randint(1, 2)])] if sentences else list(lines[:1])
        if rng.random() < 0.4 and head:
            out.insert(0, head[0])
    words = " ".join(out).split()
    if len(words) > 30 or len(" ".join(out)) > 170:  # a fragment: a few words, far short of an article
        out = [" ".join(words[: rng.randint(8, 30)])[: rng.randint(80, 170)].rsplit(" ", 1)[0]]
    page = _Page(out, "content")
    if rng.random() < 0.3:
        page.add(_pick(pool, "related", rng, 1), "related")
    return page


def repeated(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    head, body = _split(lines)
    dupes = rng.sample(body, min(len(body), rng.randint(2, 4)))
    out = list(body)
    for d in dupes:
        out.insert(rng.randrange(len(out) + 1), d)
    return _Page(head + out, "content")


# --- reliable variants ---------------------------------------------------------------------------


def reformat(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    head, body = _split(lines)
    if head and rng.random() < 0.3:
        head = []
    return _Page(head + body, "content")


def light_tail(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """The article, then what article pages end with: an author box, a "read next" teaser, a comment prompt."""
    page = _Page(lines, "content")
    cats = rng.sample(["author", "comments", "share", "meta", "related", "legal"], rng.randint(1, 4))
    page.extend(_block(pool, rng, cats, 1, 2))
    if rng.random() < 0.4:
        page.extend(_related_block(pool, rng, 1, 2))
    if rng.random() < 0.5:
        page.extend(_block(pool, rng, ["comments"], 1, 1))
    return page


def light_head(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """The article as a news page's main text often starts: the headline, then a line or two of what
    stands above a story (a timestamp, a reading time, a photo credit), then the story."""
    head, body = _split(lines)
    page = _Page(head, "content")
    for cat in rng.sample(["meta", "caption"], rng.randint(1, 2)):
        page.add(_pick(pool, cat, rng, 1), cat)
    return page.add(body, "content")


# A sentence does not end on an abbreviation: "Dr.", "St.", "Mrs.", "N.", "p.m.", "U.S." (a short capitalised
# word, or letters between dots). A sentence that ends on "May." is kept whole with the next one: no harm.
_ABBREVIATION_RE = re.compile(r"(?:^|\s)[\"'“‘(«„]?(?:[A-Z][a-z]{0,2}|[A-Za-z](?:\.[A-Za-z])+)\.$")


def _merge_abbreviations(pieces: Iterable[str]) -> list[str]:
    out: list[str] = []
    for piece in pieces:
        if out and _ABBREVIATION_RE.search(out[-1]):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


def _sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences, not split after an abbreviation."""
    return _merge_abbreviations(_SENTENCE_SPLIT_RE.split(paragraph))


def list_end(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """The article ending on a list written without full stops, as many real ones do (what to bring, the
    key dates, where to go next): the sentences of its last paragraph become the items, each on its own
    line, with a bullet or without, their full stops dropped. Nothing is added or lost; the last line stops
    on a word unless it ends on a quote. The headline never becomes an item."""
    if not lines:
        return _Page()
    *rest, last = lines
    items = _sentences(last)
    if len(items) < 2 and len(rest) >= 2:  # a one-sentence paragraph: the last two paragraphs' sentences
        *rest, before = rest
        items = _sentences(before) + items
    marker = rng.choice(("", "- ", "• ", "* "))
    items = [
        ("" if BULLET_RE.match(item) else marker) + (item[:-1] if item.endswith(".") else item) for item in items
    ]
    return _Page(rest, "content").add(items, "content")


# A pull quote is a sentence a reader notices: long enough to say something, short enough to stand alone.
PULL_QUOTE_WORDS = (8, 40)
_QUOTES = (("", ""), ("“", "”"), ('"', '"'))
_QUOTE_MARKS = frozenset('"“”‘«»„‚‹›')  # not ' and ’: they are apostrophes too
_SENTENCE_DONE_RE = re.compile(r"[.!?…][\"'”’»)]*$")


def _quotable(sentence: str) -> bool:
    """A whole sentence (it ends on its mark; a table row or a list item does not) whose quotation marks,
    if it has any, open and close within it: not one sentence of a quotation that runs on into the next."""
    if not _SENTENCE_DONE_RE.search(sentence):
        return False
    return (
        sentence.count('"') % 2 == 0
        and sentence.count("“") == sentence.count("”")
        and sentence.count("«") == sentence.count("»")
        and "„" not in sentence  # „…“ (German) closes with “: not counted, not taken
    )


def pull_quote(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """The article with one of its sentences repeated, as a line of its own, one to three paragraphs
    after the paragraph it comes from (as far as the article goes), or just before it when that paragraph
    is the last: the pull quote of a magazine page. A sentence without quotation marks is set in “”, in
    "" or bare; one with its own is set as it is. A paragraph of one sentence, set bare, is that line
    twice: news paragraphs are often one sentence, and a text extracted from the page keeps no trace of
    the pull quote's typography. Sentences are those of :func:`training.document.split_sentences` (a
    quotation's end is one), not split after an abbreviation. Nothing else changes; an article with no
    whole sentence of 8 to 40 words stays as it is."""
    head, body = _split(lines)
    lo, hi = PULL_QUOTE_WORDS
    found = [
        (i, s)
        for i, para in enumerate(body)
        for s in _merge_abbreviations(split_sentences(para))
        if lo <= len(s.split()) <= hi and _quotable(s)
    ]
    if not found:
        return _Page(lines, "content")
    i, sentence = rng.choice(found)
    opening, closing = rng.choice(_QUOTES)
    if _QUOTE_MARKS.intersection(sentence):
        opening = closing = ""
    at = i + rng.randint(1, 3) if i + 1 < len(body) else i
    out = list(body)
    out.insert(min(at, len(out)), opening + sentence + closing)
    return _Page(head + out, "content")


def typo(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """The article with one slip of a writer's hand: one occurrence of a name the article uses again, or
    of a long word, misspelled (an article with neither is left as it is). Clean texts have such typos;
    a spinner makes many."""
    text = "\n".join(lines)
    words = WORD_RE.findall(text)
    counts = Counter(words)
    names = sorted(w for w, c in counts.items() if c >= 2 and _name_like(w))
    long_words = sorted(w for w in counts if _long_word(w))
    choices = names if names and rng.random() < 0.6 else long_words
    if choices:  # an article without a repeated name or a long word is left as it is
        t = rng.choice(choices)
        pos = rng.choice([m.start() for m in WORD_RE.finditer(text) if m.group(0) == t])
        text = _garble_at(text, pos, t, rng)
    return _Page(_lines(text), "content")


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ALPHA_RUN_RE = re.compile(r"[^\W\d_]+")


def _made_up(word: str, rng: random.Random, syllables: bool) -> str:
    """A made-up word about as long as ``word``, with its first letter's case: random letters, or
    consonant-vowel syllables."""
    n = max(1, len(word) + rng.randint(-2, 2))
    if syllables:
        out = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range((n + 1) // 2))[:n]
    else:
        out = "".join(rng.choice(_LETTERS) for _ in range(n))
    return out.capitalize() if word[:1].isupper() else out


def gibberish(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """The article with a share of its words (between a third and all) replaced by made-up words: random
    letters or syllables. Punctuation, numbers and the layout stay."""
    share = rng.uniform(0.35, 1.0)
    syllables = rng.random() < 0.5

    def swap(m: re.Match[str]) -> str:
        return _made_up(m.group(0), rng, syllables) if rng.random() < share else m.group(0)

    # Its lines are no lesson for the line model (their layout is the article's): labels not kept.
    return _Page([_ALPHA_RUN_RE.sub(swap, ln) for ln in lines], "content", labeled=False)


_STRIP = ".,;:!?\"'“”‘’()"


def word_salad(lines: list[str], pool: dict[str, list[str]], rng: random.Random) -> _Page:
    """The article's words shuffled across the whole text, in paragraphs of the same lengths, cut into
    sentences of 8-20 words that start with a capital and end with a full stop. The headline stays."""
    head, body = _split(lines)
    words = [w.strip(_STRIP) for ln in body for w in ln.split()]
    words = [w.lower() if w.lower() in STOP_WORDS else w for w in words if w]
    rng.shuffle(words)
    it = iter(words)
    out = []
    for ln in body:
        para = [w for _, w in zip(ln.split(), it, strict=False)]
        sentences, i = [], 0
        while i < len(para):
            k = rng.randint(8, 20)
            part = para[i : i + k]
            sentences.append(part[0][:1].upper() + " ".join(part)[1:] + ".")
            i += k
        if sentences:
            out.append(" ".join(sentences))
    return _Page(head + out, "content", labeled=False)  # as gibberish: no lesson for the line model


_FUNCS = {
    "scraped": scraped, "inline": inline, "inline_light": inline_light, "dump": dump, "flattened": flattened, "truncated": truncated, "stuffed": stuffed,
    "repeated": repeated, "fragment": fragment, "reformat": reformat, "light_tail": light_tail, "light_tail_2": light_tail, "light_head": light_head,
    "typo": typo, "list_end": list_end, "pull_quote": pull_quote, "gibberish": gibberish, "word_salad": word_salad,
}


def variants(
    article_id: str,
    text: str,
    pool: dict[str, list[str]],
    *,
    kinds: Sequence[str],
    seed: int = 0,
    common_words: Sequence[str] = (),
) -> list[Example]:
    """Derive one example per kind from a reliable article."""
    lines = _lines(text)
    out = []
    for kind in kinds:
        rng = _rng(seed, article_id, kind)
        page = spun(lines, pool, rng, common_words=common_words) if kind == "spun" else _FUNCS[kind](lines, pool, rng)
        label = "reliable" if kind in RELIABLE_KINDS or kind in EXTRA_RELIABLE_KINDS else "unreliable"
        out.append(
            Example(
                id=f"{article_id}~{kind}",
                text=_render(page.lines, rng),
                label=label,
                tags=[kind],
                origin=f"{GENERATED_ORIGIN}{kind}",
                source_id=article_id,
                line_labels=list(page.labels) if page.labeled else None,
            )
        )
    return out


def generate(
    articles: Iterable[tuple[str, str]],
    pool: dict[str, list[str]],
    *,
    seed: int = 0,
    per_article: int = 4,
    common_words: Sequence[str] = (),
    other_language: Collection[str] = (),
) -> list[Example]:
    """For each reliable (id, text): the benign variants, ``per_article`` corrupted ones and, each decided
    by a random stream of its own (so that one does not move the others): for about half of the articles
    (``FRAGMENT_SHARE``) a fragment of it, for about a quarter of the English ones (``LIST_END_SHARE``) an
    ending on a list, for about half of all (``PULL_QUOTE_SHARE``) a pull quote.

    ``other_language``: ids of articles not in English. They get only the kinds that do not depend on
    English: no spun copy (the spinner's synonyms and the misspelling signals are English), no English
    tail or header on a reliable variant, no list ending (its sentences are split the English way)."""
    out: list[Example] = []
    for art_id, text in articles:
        rng = _rng(seed, art_id, "kinds")
        if art_id in other_language:
            pool_kinds = [k for k in UNRELIABLE_KINDS if k not in ENGLISH_ONLY_KINDS]
            kinds = [k for k in RELIABLE_KINDS if k not in ENGLISH_ONLY_KINDS]
            kinds += rng.sample(pool_kinds, min(per_article, len(pool_kinds)))
        else:
            kinds = list(RELIABLE_KINDS) + rng.sample(UNRELIABLE_KINDS, min(per_article, len(UNRELIABLE_KINDS)))
        if _rng(seed, art_id, "fragment-share").random() < FRAGMENT_SHARE:  # not the variant's own stream
            kinds.append("fragment")
        if _rng(seed, art_id, "gibberish-share").random() < GIBBERISH_SHARE:
            kinds.append("gibberish")
        if art_id not in other_language and _rng(seed, art_id, "word-salad-share").random() < WORD_SALAD_SHARE:
            kinds.append("word_salad")
        if art_id not in other_language and _rng(seed, art_id, "list-end-share").random() < LIST_END_SHARE:
            kinds.append("list_end")
        if _rng(seed, art_id, "pull-quote-share").random() < PULL_QUOTE_SHARE:
            kinds.append("pull_quote")
        out.extend(variants(art_id, text, pool, kinds=kinds, seed=seed, common_words=common_words))
    return out
