"""The shipped model on the five seed documents in ../shared/seeds (skips when either is absent).

Seeds are read here only; nothing from them is copied into the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# Not imported from conftest: several conftest modules exist (tests/, tests/service/, ...) and which one
# `import conftest` finds depends on the order pytest loaded them.
REPO = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO.parent / "shared" / "seeds"
SHIPPED_MODEL_DIR = REPO / "models" / "default"

pytestmark = pytest.mark.seeds

SEED_KEYS = ("000", "001", "002", "003", "004")


def _seed_files() -> dict[str, object]:
    if not SEEDS_DIR.is_dir():
        pytest.skip(f"seeds not available: {SEEDS_DIR} is absent")
    found = {}
    for key in SEED_KEYS:
        pattern = re.compile(rf"(?<!\d){key}(?!\d)")
        matches = sorted(
            (p.suffix != ".txt", p.name)
            for p in SEEDS_DIR.iterdir()
            if p.is_file() and pattern.search(p.name)
        )
        matches = [SEEDS_DIR / name for _, name in matches]
        if not matches:
            pytest.skip(f"seed {key} not found in {SEEDS_DIR}")
        found[key] = matches[0]
    return found


@pytest.fixture(scope="module")
def seed_results():
    files = _seed_files()
    if not (SHIPPED_MODEL_DIR / "manifest.json").is_file():
        pytest.skip(f"no shipped model: {SHIPPED_MODEL_DIR / 'manifest.json'} is absent")
    from service.model import load_model
    from service.scoring import score_text

    model = load_model(SHIPPED_MODEL_DIR)
    return {
        k: score_text(p.read_text(encoding="utf-8"), model=model, doc_id=p.name) for k, p in files.items()
    }


def _codes(result) -> set[str]:
    return {r["code"] for r in result["reasons"]}


def test_reliable_seeds_score_high(seed_results):
    assert seed_results["004"]["score"] >= 70, seed_results["004"]["score"]
    assert seed_results["003"]["score"] >= 70, seed_results["003"]["score"]


def test_spun_seed_scores_low(seed_results):
    assert seed_results["002"]["score"] < 40, seed_results["002"]["score"]


def test_seed_order(seed_results):
    s = {k: r["score"] for k, r in seed_results.items()}
    assert min(s["004"], s["003"]) > s["000"] > s["001"] > s["002"], s


def test_spun_seed_misspelled_entities(seed_results):
    reasons = {r["code"]: r for r in seed_results["002"]["reasons"]}
    assert "misspelled_entities" in reasons
    ev = reasons["misspelled_entities"]["evidence"]
    assert len(ev) >= 6, ev
    assert all(e.get("intended") and e["intended"] != e["found"] for e in ev)


def test_scraped_seed_boilerplate_reasons(seed_results):
    codes = _codes(seed_results["001"])
    assert {"boilerplate_cookie", "boilerplate_related", "title_repeated"} <= codes, codes


def test_seed_000_related_reason(seed_results):
    assert "boilerplate_related" in _codes(seed_results["000"]), _codes(seed_results["000"])
