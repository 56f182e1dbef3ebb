"""Text → parsed document: lines, tokens and paragraphs, computed once and shared by every feature family."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Document", "Line", "parse", "EmptyDocumentError", "WORD_RE", "CJK_WORD_RE", "has_cjk", "count_cjk", "word_pattern", "split_cjk"]

# A word: letters (any script), with inner apostrophes or hyphens ("don't", "Russia-Ukraine").
WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
# Chinese and Japanese put no spaces between words: in a text with their characters (Han, kana), each of
# them counts as a word (a real word is one to three of them), so that a sentence of theirs is as long as
# anyone's, not one "word" between two punctuation marks. Other texts keep WORD_RE's words, unchanged.
# Hiragana and katakana letters (with the prolonged-sound and iteration marks, not the combining sound
# marks, ゠ or the middle dot ・ that kaomoji use too), and Han.
_CJK = "\u3040-\u3098\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
CJK_WORD_RE = re.compile(f"[{_CJK}]|[^\\W\\d_{_CJK}]+(?:['’\\-][^\\W\\d_{_CJK}]+)*")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese or Japanese character (its words are then :data:`CJK_WORD_RE`'s)."""
    return _CJK_RE.search(text) is not None


def word_pattern(text: str) -> re.Pattern[str]:
    """The pattern of ``text``'s words as :func:`parse` finds them: :data:`CJK_WORD_RE` in a text with a
    Chinese or Japanese character, :data:`WORD_RE` in any other."""
    return CJK_WORD_RE if has_cjk(text) else WORD_RE


_CJK_PIECES_RE = re.compile(f"[{_CJK}]|[^{_CJK}]+")


def split_cjk(token: str) -> list[str]:
    """``token`` with each Chinese or Japanese character apart: "2025年3月" -> ["2025", "年", "3", "月"]."""
    return _CJK_PIECES_RE.findall(token)


def count_cjk(text: str) -> int:
    """How many Chinese or Japanese characters ``text`` holds."""
    return len(_CJK_RE.findall(text))


_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
# Control characters, and the invisible format characters that carry nothing a reader sees: word
# joiner, byte-order mark / zero-width no-break space, soft hyphen. (Zero-width joiners and non-joiners
# stay: Persian, Indic scripts and emoji sequences need them; a zero-width space becomes a space.) A
# page whose blank lines hold a zero-width space would otherwise have dozens of "lines" with nothing on them.
# A vertical tab (a word processor's line break) and a form feed (a page break) separate what they stand
# between: a line break and a paragraph break, as U+2028 and U+2029 are, not nothing ("here\vstill" once read
# as "herestill").
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f\u00ad\u2060\ufeff]")


class EmptyDocumentError(ValueError):
    """Raised when a text has no visible characters to score."""


class Line(NamedTuple):
    """One non-blank line of the document; ``number`` is 1-based in the original text.

    ``span``: how many lines of the original text it joins (more than one only for a hard-wrapped
    paragraph, see :func:`logical_lines`), ``number`` being the first of them.
    (A named tuple: a page has hundreds of lines, and a tuple is built several times faster than a
    frozen dataclass.)"""

    number: int
    text: str
    words: tuple[str, ...]
    span: int = 1


@dataclass(slots=True)
class Document:
    """A text parsed once: every feature family reads these fields and never re-splits the text."""

    text: str
    lines: list[Line]
    words: list[str]
    paragraphs: list[str]
    sentences: list[str]
    title: str | None = None
    url: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    # Lines put above the text by parse(): 2 when a separate title was added (the title and a blank line).
    # Line numbers count them (they index ``text``); what is shown to a user subtracts them.
    title_lines: int = 0

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_chars(self) -> int:
        return sum(len(line.text) for line in self.lines)


def normalise(text: str) -> str:
    """NFC, unified newlines, control and invisible format characters removed, non-breaking spaces made plain."""
    # Invisible characters first: a soft hyphen between a letter and its accent would keep NFC from
    # composing them. A zero-width space becomes a space (Thai, Khmer and Burmese separate words with it).
    text = _CONTROL_RE.sub("", text.replace("\u200b", " "))
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n").replace("\x0c", "\n\n")
    return text.replace("\u00a0", " ").replace("\u2028", "\n").replace("\u2029", "\n\n")


def split_sentences(text: str) -> list[str]:
    """A cheap sentence splitter: terminal punctuation followed by space and a capital or digit."""
    out: list[str] = []
    for block in text.split("\n"):
        block = block.strip()
        if block:
            out.extend(s for s in _SENTENCE_END_RE.split(block) if s.strip())
    return out


# Hard-wrapped text (html2text, lynx or e-mail style, lines broken at a fixed width) -------------
# A line ends in a wrap when the next line's first word would not have fitted on it: the width being
# the longest line of its block of consecutive lines. The whole text counts as hard-wrapped only when
# such breaks are common and look like breaks inside sentences: most end without a full stop and many
# next lines start in lower case. Lists, tables, code and one-sentence-per-line texts fail that test.
_ITEM_RE = re.compile(r"(?:[*+•·▪►–-]\s|\d{1,3}[.)]\s|#{1,6}\s|[>|])")
_WRAP_END = tuple(".!?:;…\"”’)»›。！？")
_WRAP_OK = tuple(",;:–—-\"'”’)»›")  # besides a letter or a digit, what a line broken inside a sentence ends with
_NOT_PROSE_RE = re.compile(r"#|//|/\*|\$ |[a-z][\w+.-]*://|<|\{")
WRAP_MIN_WIDTH = 40  # a block narrower than this is a list or a poem, not wrapped prose
# A markdown heading's or quote's marker that a converter repeats on each line it wraps ("## ... at the
# tech" / "## giant."): the lines are compared, and joined, without it.
_CARRIED_RE = re.compile(r"(?:#{1,6} |(?:> ?)+)")
WRAP_MIN_BREAKS = 3


def _continues(prev: str, line: str, in_item: bool) -> bool:
    """Can ``line`` go on with what ``prev`` wrote? Not a new list item, heading, quote or table row,
    indented only inside a list item (a markdown item's wrapped text), and not a capital after a full
    stop: that may be a new paragraph as well as a wrap, and keeping it apart loses nothing."""
    body = line.lstrip()
    if _ITEM_RE.match(body) or (line[:1].isspace() and not in_item):
        return False
    if prev.endswith(_WRAP_END) and not body[:1].islower():
        return False
    # Prose on both sides: words before the break (not a URL, a path or a code comment), and a word
    # or an opening quote after it.
    if len(prev.split()) < 3 or _NOT_PROSE_RE.match(prev.lstrip()) or not (prev[-1:].isalnum() or prev[-1:] in _WRAP_OK):
        return False
    if body[:1] in "[*_":  # a markdown link or emphasis going on with the sentence
        return bool(_MD_LINK_START_RE.match(body) or _MD_EMPHASIS_START_RE.match(body))
    return body[:1].isalnum() or body[:1] in "\"“‘'(«„‚‹"


def _wraps(cur: str, nxt: str, width: int, item_block: bool) -> bool:
    """Is ``nxt`` the rest of ``cur``, broken at ``width``? Its first word would not have fitted, and it
    goes on with the sentence. Two lines with the same heading or quote marker are compared without it."""
    a, b = _CARRIED_RE.match(cur), _CARRIED_RE.match(nxt)
    if a and b and a.group().replace(" ", "") == b.group().replace(" ", ""):
        cur_body, nxt_body = cur[a.end() :], nxt[b.end() :]
        if not nxt_body.strip():
            return False
        return len(cur) + 1 + len(nxt_body.split()[0]) > width and _continues(cur_body, nxt_body, item_block)
    return len(cur) + 1 + len(nxt.split()[0]) > width and _continues(cur, nxt, item_block)


def _wrap_breaks(physical: list[str]) -> set[int]:
    """Indices of the physical lines (stripped on the right) that continue the line before them."""
    if not any(line.lstrip()[:1].islower() for line in physical):
        return set()  # the test below needs some breaks before a lower-case letter: most texts stop here
    breaks: list[int] = []
    block: list[int] = []
    for i in range(len(physical) + 1):
        if i < len(physical) and physical[i].strip():
            block.append(i)
            continue
        if len(block) >= 2:
            width = max(len(physical[k]) for k in block)
            if width >= WRAP_MIN_WIDTH:
                item_block = _ITEM_RE.match(physical[block[0]]) is not None
                full = [
                    nxt for cur, nxt in zip(block, block[1:], strict=False)
                    if _wraps(physical[cur], physical[nxt], width, item_block)
                ]
                if 2 * len(full) >= len(block) - 1:  # most of the block's lines are full: wrapped prose
                    breaks += full
        block = []
    if len(breaks) < WRAP_MIN_BREAKS:
        return set()
    if 10 * sum(not physical[k - 1].endswith(_WRAP_END) for k in breaks) < 6 * len(breaks):
        return set()
    if 10 * sum(physical[k].lstrip()[:1].islower() for k in breaks) < 3 * len(breaks):
        return set()
    return set(breaks)


# Markdown (what many crawlers and converters write now) -------------------------------------------
# Its syntax is formatting, not text: a link's target, emphasis marks, heading and quote markers and
# rules are taken out, and the words stay (a link's text, an image's alt text). List markers stay:
# the line model reads them. Only for texts that show markdown syntax (a link, inline or by reference,
# bold, a fence, a quote, or a heading in capitals). A reference's definition line ("[1]: https://...")
# stays: it is in the text a user keeps, and it is not article.
# A reference-style link counts by its definition line ("[1]: https://..."): "[1][2]" alone is citations.
_MD_HINT_RE = re.compile(r"\]\(|\*\*|__|^#{1,6} [^\W_a-z]|^```|^> |^\[[^\]\n]+\]:[ \t]*\S", re.M)  # "# a comment" is code
# A line that opens with a link ("[text](url)", "[text][1]") or an emphasis closed on the same line
# ("*word*", "__words__"); not a caption in brackets, a "[1] Smith ..." reference or a "***" rule.
_MD_LINK_START_RE = re.compile(r"\[[^\]\n]+\][(\[]")
_MD_EMPHASIS_START_RE = re.compile(r"([*_]{1,2})(?=[^\s*_]).*?[^\s*_]\1(?![*_])")
# A link's text and an image's alt text hold no "[", and a bold span is at most 300 characters: an
# unbounded run is tried from every "[" or "**" of a long line to its end, quadratic time (100,000 "["
# took minutes).
_MD_IMAGE_RE = re.compile(r"!\[([^\[\]\n]*)\]\([^)\n]*\)")
_MD_LINK_RE = re.compile(r"\[([^\[\]\n]+)\]\([^)\s]*(?:\s+\"[^\"\n]*\")?\)|\[([^\[\]\n]+)\]\[[^\]\n]*\]")
_MD_STRONG_RE = re.compile(r"(\*\*|__)(?=\S)(.{1,300}?)(?<=\S)\1")
_MD_HEADING_RE = re.compile(r"^#{1,6}\s+")
_MD_QUOTE_RE = re.compile(r"^(?:>\s?)+")
_MD_RULE_RE = re.compile(r"^(?:(?:[-*_]\s*){3,}|```.*|\|?(?:\s*:?-{3,}:?\s*\|)+\s*(?::?-{3,}:?)?\s*\|?)$")


def _looks_like_markdown(text: str) -> bool:
    """Substring tests first (fast), the regular expression only when one of them passes."""
    if "](" in text or "**" in text or "__" in text or "```" in text:
        return True
    if "]:" in text:  # a reference-style link's definition, "[1]: https://..."
        return _MD_HINT_RE.search(text) is not None
    if "\n#" not in text and "\n>" not in text and text[:1] not in "#>":
        return False
    return _MD_HINT_RE.search(text) is not None


def _plain(line: str) -> str:
    """One line of markdown as the text a reader sees."""
    if _MD_RULE_RE.match(line):
        return ""
    line = _MD_QUOTE_RE.sub("", _MD_HEADING_RE.sub("", line))
    if "](" in line or "][" in line:
        line = _MD_LINK_RE.sub(lambda m: m.group(1) or m.group(2), _MD_IMAGE_RE.sub(r"\1", line))
    if "**" in line or "__" in line:
        line = _MD_STRONG_RE.sub(r"\2", line)
    return " ".join(line.split())


def logical_lines(text: str) -> list[tuple[int, int, str]]:
    """``(first line number, lines joined, text)`` for every non-blank line of ``text``, whitespace
    collapsed; the lines of a hard-wrapped paragraph are joined into one; markdown syntax is taken out."""
    return _logical_lines(text)[0]


def _logical_lines(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """:func:`logical_lines`, and whether any line differs from the text's own (joined or markdown)."""
    physical = [raw.rstrip() for raw in text.split("\n")]
    breaks = _wrap_breaks(physical) if len(physical) > WRAP_MIN_BREAKS else set()
    out: list[tuple[int, int, str]] = []
    for i, raw in enumerate(physical):
        stripped = " ".join(raw.split())
        if not stripped:
            continue
        if i in breaks and out:
            number, span, joined = out[-1]
            carried = _CARRIED_RE.match(stripped)  # a break never starts a line with a marker of its own
            out[-1] = (number, span + 1, f"{joined} {stripped[carried.end():] if carried else stripped}")
        else:
            out.append((i + 1, 1, stripped))
    markdown = _looks_like_markdown(text)
    if markdown:
        plain = [(number, span, p) for number, span, line in out if (p := _plain(line))]
        if plain:  # a text that is nothing but markdown syntax ("```") is read as written
            out = plain
        else:
            markdown = False
    return out, markdown or bool(breaks)


_HEADLINE_MAX_WORDS = 20
_HEADLINE_MAX_CHARS = 160  # a CJK paragraph is one "word"
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", ": ", " · ")
_SENTENCE_END = (".", "!", "?", ",", ";", ":", "…", "。", "！", "？", "，", "；", "：")
_CLOSERS = "\"'”’»)]」』】"
_NOT_A_HEADLINE_RE = re.compile(
    r"^(?:by\s|photo\b|image\b|credit\b|updated\b|published\b|posted\b|"
    r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d|\d{1,4}[./-]\d{1,2}[./-]\d{1,4})",
    re.IGNORECASE,
)


def _has_headline(clean: str, title: str) -> bool:
    """Whether the text already starts with a headline, so that ``title`` is not added above it: its first
    line is the title (or the title followed by a separator and a site name, "Title | Site"), or is
    itself headline-like: at most 20 words and 160 characters, not ending as a sentence or a clause does
    (closing quotes and brackets looked through), not a byline, a photo credit or a date, and not the
    first line of a hard-wrapped paragraph (a line right below it that goes on in lower case)."""
    lines = clean.split("\n")
    i = next((k for k, ln in enumerate(lines) if ln.strip()), None)
    if i is None:
        return False
    first = " ".join(lines[i].split())
    a, b = first.casefold(), title.casefold()
    if a == b or a.startswith(tuple(b + sep.casefold() for sep in _TITLE_SEPARATORS)):
        return True
    if len(first.split()) > _HEADLINE_MAX_WORDS or len(first) > _HEADLINE_MAX_CHARS:
        return False
    if first.rstrip(_CLOSERS).endswith(_SENTENCE_END) or _NOT_A_HEADLINE_RE.match(first):
        return False
    below = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return not (below[:1].islower())


def parse(text: str, *, title: str | None = None, url: str | None = None) -> Document:
    """Parse ``text`` into a :class:`Document`.

    ``title`` (a page's title or headline, given apart from the text) is added as the first line when the
    text does not start with a headline of its own (see :func:`_has_headline`), above a blank line;
    ``title_lines`` then says so (2), and the scorer shows the title as line 0 and the text's lines with
    their own numbers.

    Raises :class:`EmptyDocumentError` when nothing visible remains after normalisation.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    clean = normalise(text)
    titled = False
    if title:
        title = " ".join(normalise(title).split()) or None
        if title and not _has_headline(clean, title):
            clean, titled = f"{title}\n\n{clean}", True
    findall = word_pattern(clean).findall
    logical, rewritten = _logical_lines(clean)
    lines = [Line(number, line, tuple(findall(line)), span) for number, span, line in logical]
    if not lines:
        raise EmptyDocumentError("the text is empty or only whitespace; expected at least one visible character")
    words = [w for line in lines for w in line.words]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", clean) if p.strip()]
    return Document(
        text=clean,
        lines=lines,
        words=words,
        paragraphs=paragraphs,
        # Sentences of a hard-wrapped or markdown text from its lines as read: a wrap is no sentence
        # boundary, and "**" or a link's target is no part of a sentence.
        sentences=split_sentences("\n".join(ln.text for ln in lines) if rewritten else clean),
        title=title,
        url=url,
        title_lines=2 if titled else 0,
    )
