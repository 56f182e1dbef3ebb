"""Text → parsed document: lines, tokens and paragraphs, computed once and shared by every feature family."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Document", "Line", "parse", "EmptyDocumentError", "WORD_RE"]

# A word: letters (any script), with inner apostrophes or hyphens ("don't", "Russia-Ukraine").
WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class EmptyDocumentError(ValueError):
    """Raised when a text has no visible characters to score."""


class Line(NamedTuple):
    """One non-blank line of the document; ``number`` is 1-based in the original text.
    (A named tuple: a page has hundreds of lines, and a tuple is built several times faster than a
    frozen dataclass.)"""

    number: int
    text: str
    words: tuple[str, ...]


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

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_chars(self) -> int:
        return sum(len(line.text) for line in self.lines)


def normalise(text: str) -> str:
    """NFC, unified newlines, control characters removed, non-breaking spaces made plain."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u2028", "\n").replace("\u2029", "\n\n")
    return _CONTROL_RE.sub("", text)


def split_sentences(text: str) -> list[str]:
    """A cheap sentence splitter: terminal punctuation followed by space and a capital or digit."""
    out: list[str] = []
    for block in text.split("\n"):
        block = block.strip()
        if block:
            out.extend(s for s in _SENTENCE_END_RE.split(block) if s.strip())
    return out


def parse(text: str, *, title: str | None = None, url: str | None = None) -> Document:
    """Parse ``text`` into a :class:`Document`.

    Raises :class:`EmptyDocumentError` when nothing visible remains after normalisation.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    clean = normalise(text)
    if title:
        title = normalise(title).strip() or None
        if title and not clean.lstrip().startswith(title):
            clean = f"{title}\n\n{clean}"
    lines: list[Line] = []
    for number, raw in enumerate(clean.split("\n"), start=1):
        stripped = " ".join(raw.split())
        if stripped:
            lines.append(Line(number, stripped, tuple(WORD_RE.findall(stripped))))
    if not lines:
        raise EmptyDocumentError("the text is empty or only whitespace; expected at least one visible character")
    words = [w for line in lines for w in line.words]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", clean) if p.strip()]
    return Document(
        text=clean,
        lines=lines,
        words=words,
        paragraphs=paragraphs,
        sentences=split_sentences(clean),
        title=title,
        url=url,
    )
