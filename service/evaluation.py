"""Evaluate a model on labeled examples through the one scoring function, :func:`service.scoring.score_text`.

What ``thresher eval`` and the training report use for a model that is already trained: every example
is scored exactly as the CLI, the API and the scan would score it, and the reasons' contributions
(grouped by reason code) say which signals moved the scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from service.model import Model
from service.scoring import score_text, warm_up
from training.corrupt import Example
from training.document import EmptyDocumentError
from training.evaluation import evaluate
from training.parallel import fork_map

__all__ = ["ScoredSet", "score_examples", "evaluate_model"]


class ScoredSet:
    """Examples with their labels, probabilities, reasons and per-reason-code contributions."""

    def __init__(self, examples: list[Example], y: np.ndarray, p: np.ndarray, reasons: list[list[dict[str, Any]]],
                 codes: list[str], contributions: np.ndarray, skipped: list[dict[str, str]]) -> None:
        self.examples, self.y, self.p, self.reasons = examples, y, p, reasons
        self.codes, self.contributions, self.skipped = codes, contributions, skipped


def score_examples(model: Model, examples: Sequence[Example], *, workers: int = 1) -> ScoredSet:
    """Score every example with :func:`score_text` (on ``workers`` processes; same answers)."""

    def one(i: int) -> dict[str, Any] | str:
        try:
            return score_text(examples[i].text, model=model, doc_id=examples[i].id, explain=False)
        except (EmptyDocumentError, ValueError) as exc:
            return str(exc)

    if workers > 1:
        warm_up(model)  # load the vocabulary and dictionaries once, before forking
    kept: list[Example] = []
    probs: list[float] = []
    reasons: list[list[dict[str, Any]]] = []
    skipped: list[dict[str, str]] = []
    for ex, r in zip(examples, fork_map(one, len(examples), workers=workers), strict=True):
        if isinstance(r, str):
            skipped.append({"id": ex.id, "reason": r})
            continue
        kept.append(ex)
        probs.append(r["score"] / 100.0)
        reasons.append(r["reasons"])
    codes = sorted({x["code"] for rs in reasons for x in rs})
    index = {c: i for i, c in enumerate(codes)}
    contrib = np.zeros((len(kept), len(codes)))
    for row, rs in enumerate(reasons):
        for x in rs:
            contrib[row, index[x["code"]]] += x["contribution"]
    y = np.array([1 if ex.label == "reliable" else 0 for ex in kept])
    return ScoredSet(kept, y, np.clip(np.array(probs, dtype=float), 0.0, 1.0), reasons, codes, contrib, skipped)


def evaluate_model(model: Model, examples: Sequence[Example], *, workers: int = 1) -> tuple[dict[str, Any], ScoredSet]:
    scored = score_examples(model, examples, workers=workers)
    if len(scored.examples) == 0:
        raise ValueError("no example could be scored")
    weights = np.array([ex.weight for ex in scored.examples])
    metrics = evaluate(scored.y, scored.p, scored.examples, thresholds=model.thresholds, weights=weights,
                       reasons=scored.reasons, feature_names=scored.codes, contributions=scored.contributions)
    metrics["model"] = {"name": model.name, "version": model.version}
    if scored.skipped:
        metrics["skipped"] = scored.skipped
    return metrics, scored
