"""Puts this folder on sys.path, so that test modules here can ``from crawlfolder import build_crawl``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(scope="session")
def crawl_folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The test crawl folder (every format, every kind of bad file), built once per session: the dict
    that :func:`crawlfolder.build_crawl` returns. Read-only: tests that change files build their own."""
    from crawlfolder import build_crawl

    return build_crawl(tmp_path_factory.mktemp("crawl") / "crawl")
