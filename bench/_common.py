"""Shared helpers for the benchmark scripts: the dev sets and datatrove's filter stack."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXTRACTIONS = SHARED / "eval" / "extractions-dev.jsonl.gz"
WCXB = SHARED / "eval" / "wcxb-dev.jsonl.gz"
sys.path.insert(0, str(ROOT))


def read_gz_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def require(path: Path) -> None:
    if not path.exists():
        sys.exit(f"{path} is missing: the benchmarks need ../shared beside the project")


class DatatroveStack:
    """datatrove's Gopher repetition, Gopher quality, C4 and FineWeb filters, configured as FineWeb's
    pipeline runs them. Filters answer keep or drop; as a ranking score we count how many of the four a
    text passes (0-4): ties are many, which is part of why a keep/drop stack ranks poorly.
    """

    def __init__(self) -> None:
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
            GopherQualityFilter,
            GopherRepetitionFilter,
        )

        self.filters = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter()]

    def score(self, text: str) -> float:
        from datatrove.data import Document

        passed = 0
        for f in self.filters:
            doc = Document(text=text, id="x", metadata={})
            out = f.filter(doc)
            ok = out[0] if isinstance(out, tuple) else bool(out)
            passed += int(ok)
        return float(passed)
