"""Labeled fixtures: the project's own (``training/fixtures``) and a user's JSONL files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from training.corrupt import Example, generate, load_pool

__all__ = ["FIXTURES_DIR", "FixtureError", "read_jsonl", "builtin_examples", "fixture_hash", "LABELS"]

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
LABELS = ("reliable", "unreliable")
RELIABLE_FILES = tuple(f"reliable_{k}.jsonl" for k in "abcdefghi")
UNRELIABLE_FILES = ("unreliable_written.jsonl",)
POOL_FILE = "boilerplate_pool.jsonl"


class FixtureError(ValueError):
    """Raised when a fixture file cannot be read or a row is unusable."""


def read_jsonl(path: Path, *, skipped: list[dict[str, object]] | None = None) -> list[Example]:
    """Rows with ``text`` and ``label`` (``reliable``/``unreliable``); optional ``id``, ``tags``, ``weight``.

    Unusable rows are appended to ``skipped`` with a reason when given, else raise :class:`FixtureError`.
    """
    out: list[Example] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(f"cannot open fixtures {path}: {exc}") from exc
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(raw)
                if not isinstance(row, dict):
                    raise ValueError("a row must be a JSON object")
                text, label = row.get("text"), row.get("label")
                if not isinstance(text, str) or not text.strip():
                    raise ValueError("'text' must be a non-empty string")
                if label not in LABELS:
                    raise ValueError(f"'label' must be one of {LABELS}, got {label!r}")
                weight = float(row.get("weight", 1.0))
                if not weight > 0:
                    raise ValueError(f"'weight' must be positive, got {weight}")
            except (ValueError, TypeError) as exc:
                if skipped is None:
                    raise FixtureError(f"{where}: {exc}") from exc
                skipped.append({"where": where, "reason": str(exc)})
                continue
            ex_id = str(row.get("id") or where)
            out.append(
                Example(
                    id=ex_id,
                    text=text,
                    label=label,
                    tags=[str(t) for t in row.get("tags", [])] if isinstance(row.get("tags"), list) else [],
                    origin=str(row.get("origin", path.name)),
                    source_id=ex_id,
                    weight=weight,
                )
            )
    return out


def builtin_examples(*, seed: int = 0, per_article: int = 4, fixtures_dir: Path = FIXTURES_DIR) -> list[Example]:
    """The project's written fixtures plus the seeded generator's variants of every reliable article."""
    reliable = [ex for name in RELIABLE_FILES for ex in read_jsonl(fixtures_dir / name)]
    unreliable = [ex for name in UNRELIABLE_FILES for ex in read_jsonl(fixtures_dir / name)]
    for ex in reliable:
        ex.line_labels = None
    pool = load_pool(fixtures_dir / POOL_FILE)
    from training.vocabulary import COMMON_ZIPF, general_vocabulary

    vocab = general_vocabulary("en")
    common = sorted(w for w, z in vocab.zipf.items() if z >= COMMON_ZIPF + 0.5 and 4 <= len(w) <= 8 and w.isalpha())
    # Articles in other languages get no spun copy: the synonym spinner and the misspelling signals are
    # English (a "spun" German article would be a reliable text labeled unreliable).
    other = {ex.id for ex in reliable if any(t.startswith("lang-") and t != "lang-en" for t in ex.tags)}
    generated = generate(
        [(ex.id, ex.text) for ex in reliable], pool, seed=seed, per_article=per_article, common_words=common,
        other_language=other,
    )
    return reliable + unreliable + generated


def fixture_hash(paths: Iterable[Path]) -> str:
    """sha256 over the fixture files' bytes, in the given order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()
