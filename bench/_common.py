"""Shared helpers for the benchmark scripts: the dev sets and datatrove's filter stack."""

from __future__ import annotations

import collections
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


# -------------------------------------------------------------------------------------- process trees


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int] | None:
    """Child pids from /proc/PID/task/*/children, or None when the kernel does not provide that file."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except FileNotFoundError:
            if not (task / "stat").exists():
                continue  # the thread ended
            return None
        except OSError:
            continue
    return out


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc/PID/task/*/children; else from every process's
    parent pid in /proc)."""
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = _children(pid)
        if kids is None:
            break
        if proc_stat(pid) is not None:  # still running
            tree.append(pid)
            todo += kids
    else:
        return tree
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = proc_stat(int(entry.name))
            if fields is not None:
                children[int(fields[1])].append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if proc_stat(pid) is not None:
            tree.append(pid)
            todo += children.get(pid, [])
    return tree
