"""Evaluation: metrics of a scored, labeled set, an HTML report of them, and the no-regression gate.

* :func:`evaluate` turns labels and calibrated P(reliable) into plain JSON values, rounded to fixed
  precision so that the same inputs always give the same bytes (:func:`metrics_json`).
* :func:`write_report` writes them as one self-contained HTML page (plots embedded as PNG data,
  no network, no external CSS or JavaScript), optionally beside a base model's metrics and the gate.
* :func:`gate` decides whether a new model may replace a base one: both are scored on the same
  held-out documents, and the new one is refused when it is worse beyond noise, i.e. when the 95%
  paired-bootstrap confidence interval of ΔROC AUC (new − base) lies entirely below 0 or that of
  ΔBrier lies entirely above 0.

``y`` is 1 for reliable and 0 for unreliable; ``p`` is P(reliable) in [0, 1]; a score is ``100·p``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from training.corrupt import Example

__all__ = ["evaluate", "metrics_json", "write_report", "gate", "gate_against_reference", "paired_bootstrap",
           "BaseOverlap", "base_overlap"]

LABELS = ("reliable", "unreliable")
MIN_TAG_EXAMPLES = 3
CALIBRATION_BINS = 10
HISTOGRAM_BINS = 20  # of 5 score points
TOP_FEATURES = 10
WORST = 20
TOP_REASONS = 3
CONFIDENCE = 0.95
_DIGITS = 4  # metrics, scores and contributions
_CI_DIGITS = 6  # gate deltas and confidence bounds (bootstrap differences can be small)


# --------------------------------------------------------------------------------------------- helpers


def _r(x: Any, digits: int = _DIGITS) -> float | None:
    """A plain, rounded float; None for a missing or non-finite value; never -0.0."""
    if x is None:
        return None
    v = float(x)
    if not math.isfinite(v):
        return None
    return round(v, digits) + 0.0


def _check_inputs(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y)
    p_arr = np.asarray(p, dtype=np.float64)
    if y_arr.ndim != 1 or p_arr.ndim != 1:
        raise ValueError("y and p must be one-dimensional")
    if len(y_arr) != len(p_arr):
        raise ValueError(f"y has {len(y_arr)} values but p has {len(p_arr)}")
    if len(y_arr) == 0:
        raise ValueError("nothing to evaluate: no examples")
    if not np.isin(y_arr, (0, 1)).all():
        raise ValueError("y must hold only 0 (unreliable) and 1 (reliable)")
    if not np.isfinite(p_arr).all() or (p_arr < 0).any() or (p_arr > 1).any():
        raise ValueError("p must be probabilities in [0, 1]")
    return y_arr.astype(np.int64), p_arr


def _verdict_bands(score: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """"reliable" at or above the reliable threshold, "unreliable" below the suspect one, else "suspect"
    (the same rule as ``service.scoring.verdict_for``)."""
    return np.where(
        score >= thresholds["reliable"], "reliable", np.where(score >= thresholds["suspect"], "suspect", "unreliable")
    )


def _label_name(yi: int) -> str:
    return "reliable" if yi == 1 else "unreliable"


# -------------------------------------------------------------------------------------------- evaluate


def evaluate(
    y: np.ndarray,
    p: np.ndarray,
    examples: Sequence[Example],
    *,
    thresholds: dict[str, float],
    weights: np.ndarray | None = None,
    reasons: Sequence[list[dict[str, Any]]] | None = None,
    feature_names: Sequence[str] | None = None,
    contributions: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of P(reliable) ``p`` against labels ``y`` (1 reliable, 0 unreliable) for ``examples``.

    ``weights`` (sample weights) apply to ROC AUC, PR AUC and Brier, as in training; the accuracies,
    recalls, curves and histograms count documents. ``reasons``: each example's reasons as
    :func:`service.scoring.score_text` returns them (shown for the worst-scored documents).
    ``contributions``: the classifier's per-feature log-odds contributions, one row per example
    (``ReliabilityModel.contributions``), named by ``feature_names``.

    Every value is plain JSON (floats rounded to 4 digits, None where undefined); the top-level keys
    of the training metrics (``roc_auc``, ``verdict_accuracy``, ``recall_by_tag``…) keep their meaning.
    """
    y, p = _check_inputs(y, p)
    n = len(y)
    if len(examples) != n:
        raise ValueError(f"{len(examples)} examples for {n} scores")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be one finite, non-negative value per example")
    if reasons is not None and len(reasons) != n:
        raise ValueError(f"{len(reasons)} reason lists for {n} examples")
    score = 100.0 * p
    notes: list[str] = []
    n_rel = int(y.sum())
    two_classes = 0 < n_rel < n
    if two_classes:
        roc_auc = _r(roc_auc_score(y, p, sample_weight=w))
        pr_auc = _r(average_precision_score(y, p, sample_weight=w))
    else:
        roc_auc = pr_auc = None
        only = _label_name(int(y[0]))
        notes.append(f"Only {only} documents: ROC AUC and PR AUC are undefined (null).")
    brier = _r(np.sum(w * (p - y) ** 2) / np.sum(w)) if np.sum(w) > 0 else None
    if weights is not None:
        notes.append("ROC AUC, PR AUC and Brier are weighted by the example weights; the rest counts documents.")

    correct_50 = (p >= 0.5) == (y == 1)
    bands = _verdict_bands(score, thresholds)
    verdict_ok = np.where(y == 1, bands == "reliable", bands == "unreliable")
    by_label: dict[str, dict[str, Any]] = {}
    for label, mask in (("reliable", y == 1), ("unreliable", y == 0)):
        k = int(mask.sum())
        by_label[label] = {
            "documents": k,
            **{band: (_r(np.mean(bands[mask] == band)) if k else None) for band in ("reliable", "suspect", "unreliable")},
        }
    decided = bands != "suspect"

    metrics: dict[str, Any] = {
        "documents": n,
        "reliable": n_rel,
        "unreliable": n - n_rel,
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "brier": brier,
        "accuracy_at_50": _r(np.mean(correct_50)),
        "verdict_accuracy": _r(np.mean(verdict_ok)),
        "verdicts": {
            "thresholds": {k: _r(v) for k, v in sorted(thresholds.items())},
            "rule": "A reliable document counts as right when its score is at or above the reliable threshold, an "
            "unreliable one when below the suspect threshold; the suspect band counts as wrong for both",
            "accuracy": _r(np.mean(verdict_ok)),
            "accuracy_outside_suspect": _r(np.mean(verdict_ok[decided])) if decided.any() else None,
            "suspect_share": {label: by_label[label]["suspect"] for label in LABELS},
            "by_label": by_label,
        },
    }
    metrics.update(_tags(y, score, correct_50, examples))
    metrics["calibration"] = _calibration(y, p)
    metrics["histogram"] = _histogram(y, score)
    if contributions is not None:
        metrics["influential_features"] = _influential(y, contributions, feature_names)
    metrics["worst"] = _worst(y, p, examples, reasons)
    metrics["notes"] = notes
    return metrics


def _tags(y: np.ndarray, score: np.ndarray, correct: np.ndarray, examples: Sequence[Example]) -> dict[str, Any]:
    rows: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        for tag in sorted(set(ex.tags)):
            rows.setdefault(tag, []).append(i)
    recall: dict[str, float | None] = {}
    detail: dict[str, dict[str, Any]] = {}
    for tag in sorted(rows):
        idx = np.array(rows[tag])
        if len(idx) < MIN_TAG_EXAMPLES:
            continue
        recall[tag] = _r(np.mean(correct[idx]))
        detail[tag] = {
            "documents": len(idx),
            "reliable": int(y[idx].sum()),
            "unreliable": int(len(idx) - y[idx].sum()),
            "recall": recall[tag],
            "mean_score": _r(np.mean(score[idx])),
        }
    return {"recall_by_tag": recall, "tags": detail}


def _calibration(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Equal-width bins of P(reliable): mean predicted, observed share reliable, count; and the ECE."""
    idx = np.clip(np.floor(p * CALIBRATION_BINS).astype(np.int64), 0, CALIBRATION_BINS - 1)
    bins = []
    ece = 0.0
    for b in range(CALIBRATION_BINS):
        mask = idx == b
        k = int(mask.sum())
        mean_p = float(np.mean(p[mask])) if k else None
        observed = float(np.mean(y[mask])) if k else None
        if mean_p is not None and observed is not None:
            ece += k / len(y) * abs(mean_p - observed)
        bins.append({
            "lower": _r(b / CALIBRATION_BINS),
            "upper": _r((b + 1) / CALIBRATION_BINS),
            "count": k,
            "mean_predicted": _r(mean_p),
            "observed_rate": _r(observed),
        })
    return {"bins": bins, "ece": _r(ece)}


def _histogram(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    width = 100 // HISTOGRAM_BINS
    idx = np.clip(np.floor(score / width).astype(np.int64), 0, HISTOGRAM_BINS - 1)  # 100 joins the top bin
    out: dict[str, Any] = {"edges": [b * width for b in range(HISTOGRAM_BINS + 1)]}
    for label, mask in (("reliable", y == 1), ("unreliable", y == 0)):
        out[label] = [int(c) for c in np.bincount(idx[mask], minlength=HISTOGRAM_BINS)]
    return out


def _influential(y: np.ndarray, contributions: np.ndarray, feature_names: Sequence[str] | None) -> list[dict[str, Any]]:
    c = np.asarray(contributions, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != len(y):
        raise ValueError(f"contributions must have one row per example; got shape {c.shape} for {len(y)} examples")
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(c.shape[1])]
    if len(names) != c.shape[1]:
        raise ValueError(f"{len(names)} feature names for {c.shape[1]} contribution columns")
    c = np.where(np.isfinite(c), c, 0.0)
    mean_abs = np.abs(c).mean(axis=0)
    rel, unrel = y == 1, y == 0
    mean_rel = c[rel].mean(axis=0) if rel.any() else np.full(c.shape[1], np.nan)
    mean_unrel = c[unrel].mean(axis=0) if unrel.any() else np.full(c.shape[1], np.nan)
    # Rank on the rounded value, then the name: ties cannot depend on the last bits of a float.
    order = sorted(range(len(names)), key=lambda j: (-(_r(mean_abs[j]) or 0.0), names[j]))[:TOP_FEATURES]
    return [
        {
            "feature": names[j],
            "mean_abs": _r(mean_abs[j]),
            "mean_reliable": _r(mean_rel[j]),
            "mean_unreliable": _r(mean_unrel[j]),
        }
        for j in order
    ]


def _worst(
    y: np.ndarray, p: np.ndarray, examples: Sequence[Example], reasons: Sequence[list[dict[str, Any]]] | None
) -> list[dict[str, Any]]:
    err = np.abs(y - p)
    order = sorted(range(len(y)), key=lambda i: (-(_r(err[i], 6) or 0.0), examples[i].id, i))[:WORST]
    out = []
    for i in order:
        row: dict[str, Any] = {
            "id": examples[i].id,
            "label": _label_name(int(y[i])),
            "score": _r(100.0 * p[i]),
            "tags": sorted(set(examples[i].tags)),
        }
        if reasons is not None:
            top = sorted(reasons[i], key=lambda r: (-abs(float(r.get("contribution", 0.0))), str(r.get("code"))))
            row["reasons"] = [
                {
                    "code": str(r.get("code")),
                    "contribution": _r(r.get("contribution", 0.0)),
                    "message": str(r.get("message", "")),
                }
                for r in top[:TOP_REASONS]
            ]
        out.append(row)
    return out


def metrics_json(metrics: dict[str, Any]) -> str:
    """The metrics as JSON text: sorted keys, fixed indent, no NaN (same metrics, same bytes)."""
    return json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------------ gate


def _auc_resampled(idx: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC AUC of every row of ``idx`` (indices of the examples drawn), ties counted half.

    The Mann-Whitney statistic on each resample, without sorting it: the distinct scores are ranked
    once, one ``bincount`` tallies how many positives and negatives of each resample sit at each
    distinct score, and each positive earns the negatives below it plus half of those tied with it.
    NaN where a resample lacks a class.
    """
    k = idx.shape[0]
    _, grp = np.unique(p, return_inverse=True)
    u = int(grp.max()) + 1
    key = ((np.arange(k, dtype=np.int64) * u)[:, None] + grp[idx]) * 2 + y[idx]
    tab = np.bincount(key.ravel(), minlength=k * u * 2).reshape(k, u, 2).astype(np.float64)
    neg, pos = tab[:, :, 0], tab[:, :, 1]
    neg_below = np.cumsum(neg, axis=1) - neg
    num = np.sum(pos * (neg_below + 0.5 * neg), axis=1)
    denom = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, num / np.where(denom > 0, denom, 1.0), np.nan)


def paired_bootstrap(
    y: np.ndarray, p_new: np.ndarray, p_base: np.ndarray, *, seed: int = 0, n_boot: int = 1000
) -> dict[str, np.ndarray]:
    """Per-resample ROC AUC and Brier of both models on the same resampled examples (paired).

    Resamples are drawn in blocks (their size depends only on the number of examples) from
    ``numpy.random.default_rng(seed)``: the same inputs, seed and ``n_boot`` give the same values.
    Returns arrays of length ``n_boot``: ``auc_new``, ``auc_base``, ``brier_new``, ``brier_base``.
    """
    y, p_new = _check_inputs(y, p_new)
    _, p_base = _check_inputs(y, p_base)
    n = len(y)
    rng = np.random.default_rng(seed)
    sq_new, sq_base = (p_new - y) ** 2, (p_base - y) ** 2
    block = max(1, 1_000_000 // n)  # bounds memory: a block holds block × n indices
    parts: dict[str, list[np.ndarray]] = {"auc_new": [], "auc_base": [], "brier_new": [], "brier_base": []}
    done = 0
    while done < n_boot:
        k = min(block, n_boot - done)
        idx = rng.integers(0, n, size=(k, n))
        parts["auc_new"].append(_auc_resampled(idx, y, p_new))
        parts["auc_base"].append(_auc_resampled(idx, y, p_base))
        parts["brier_new"].append(sq_new[idx].mean(axis=1))
        parts["brier_base"].append(sq_base[idx].mean(axis=1))
        done += k
    return {key: np.concatenate(v) for key, v in parts.items()}


def _ci(d: np.ndarray) -> list[float | None] | None:
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return None
    alpha = (1.0 - CONFIDENCE) / 2
    lo, hi = np.percentile(d, [100 * alpha, 100 * (1 - alpha)])
    return [_r(lo, _CI_DIGITS), _r(hi, _CI_DIGITS)]


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.4f}"


def gate(
    new: dict[str, Any],
    base: dict[str, Any],
    *,
    y: np.ndarray,
    p_new: np.ndarray,
    p_base: np.ndarray,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """The no-regression gate: may the new model replace the base one?

    ``new`` and ``base`` are the two models' :func:`evaluate` metrics on the held-out documents ``y``
    (checked to count as many documents); ``p_new`` and ``p_base`` are their P(reliable) for the same
    documents in the same order. ROC AUC and Brier (unweighted) of both, and the paired bootstrap's
    95% percentile intervals of new − base. Refused when worse beyond noise: the ΔAUC interval lies
    entirely below 0, or the ΔBrier interval entirely above 0 (judged on the reported, rounded bounds).
    Equal models pass. Deterministic for the same inputs, ``seed`` and ``n_boot``.
    """
    y, p_new = _check_inputs(y, p_new)
    _, p_base = _check_inputs(y, p_base)
    n = len(y)
    for name, m in (("new", new), ("base", base)):
        docs = m.get("documents") if isinstance(m, dict) else None
        if docs is not None and docs != n:
            raise ValueError(f"the {name} metrics count {docs} documents, but {n} were scored: "
                             "both models must be scored on the same held-out documents")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    everything = np.arange(n)[None, :]
    auc_new_full = float(_auc_resampled(everything, y, p_new)[0])
    auc_base_full = float(_auc_resampled(everything, y, p_base)[0])
    brier_new_full = float(np.mean((p_new - y) ** 2))
    brier_base_full = float(np.mean((p_base - y) ** 2))
    boot = paired_bootstrap(y, p_new, p_base, seed=seed, n_boot=n_boot)
    d_auc = boot["auc_new"] - boot["auc_base"]
    d_brier = boot["brier_new"] - boot["brier_base"]
    two_classes = 0 < int(y.sum()) < n
    auc_ci = _ci(d_auc) if two_classes else None
    brier_ci = _ci(d_brier)
    auc = {
        "base": _r(auc_base_full) if two_classes else None,
        "new": _r(auc_new_full) if two_classes else None,
        "delta": _r(auc_new_full - auc_base_full, _CI_DIGITS) if two_classes else None,
        "ci": auc_ci,
        "worse": _lower_beyond_noise(auc_ci),
        "undefined_resamples": int(np.sum(~np.isfinite(d_auc))) if two_classes else n_boot,
    }
    brier = {
        "base": _r(brier_base_full),
        "new": _r(brier_new_full),
        "delta": _r(brier_new_full - brier_base_full, _CI_DIGITS),
        "ci": brier_ci,
        "worse": _higher_beyond_noise(brier_ci),
    }
    over = f"over {n} held-out documents and {n_boot} paired bootstrap resamples"
    undefined = "ROC AUC is undefined (the held-out documents have only one label), so the gate rests on Brier alone"
    return _gate_result(y, n_boot=n_boot, seed=seed, auc=auc, brier=brier, over=over, auc_missing=undefined)


def gate_against_reference(
    reference: dict[str, Any], *, y: np.ndarray, p_new: np.ndarray, seed: int = 0, n_boot: int = 1000
) -> dict[str, Any]:
    """The gate when the base model can only be judged by its own cross-validated figures.

    When every document of a run was in the base model's training data, the base's scores on them are
    in-sample (it has seen their labels) and a paired comparison would favour it. If the documents are
    the ones the base was trained on, its manifest holds its out-of-fold ROC AUC and Brier on them:
    ``reference``. This model's out-of-fold P(reliable) ``p_new`` on the same documents is resampled
    (``n_boot`` bootstrap resamples, ``seed``), the base's figures are taken as fixed, and the model is
    refused when the 95% interval of new − base lies entirely below 0 (ROC AUC) or above 0 (Brier).
    Same keys as :func:`gate`; ``auc["base"]`` and ``brier["base"]`` are the reference figures.
    """
    y, p_new = _check_inputs(y, p_new)
    n = len(y)
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    two_classes = 0 < int(y.sum()) < n
    ref_auc, ref_brier = _r(reference.get("roc_auc")), _r(reference.get("brier"))
    everything = np.arange(n)[None, :]
    auc_new_full = float(_auc_resampled(everything, y, p_new)[0])
    brier_new_full = float(np.mean((p_new - y) ** 2))
    boot = paired_bootstrap(y, p_new, p_new, seed=seed, n_boot=n_boot)
    auc_ok = two_classes and ref_auc is not None
    auc_ci = _ci(boot["auc_new"] - ref_auc) if auc_ok and ref_auc is not None else None
    brier_ci = _ci(boot["brier_new"] - ref_brier) if ref_brier is not None else None
    auc: dict[str, Any] = {
        "base": ref_auc if auc_ok else None,
        "new": _r(auc_new_full) if two_classes else None,
        "delta": _r(auc_new_full - ref_auc, _CI_DIGITS) if auc_ok and ref_auc is not None else None,
        "ci": auc_ci,
        "worse": _lower_beyond_noise(auc_ci),
    }
    brier: dict[str, Any] = {
        "base": ref_brier,
        "new": _r(brier_new_full),
        "delta": _r(brier_new_full - ref_brier, _CI_DIGITS) if ref_brier is not None else None,
        "ci": brier_ci,
        "worse": _higher_beyond_noise(brier_ci),
    }
    over = (f"against the base model's own cross-validated figures on the same {n} documents (its manifest; "
            f"taken as fixed, only this model's out-of-fold scores are resampled, {n_boot} bootstrap resamples)")
    return _gate_result(y, n_boot=n_boot, seed=seed, auc=auc, brier=brier, over=over, auc_missing="ROC AUC not compared")


def _lower_beyond_noise(ci: list[float | None] | None) -> bool:
    """The interval of new − base lies entirely below 0 (judged on the reported, rounded bounds)."""
    return bool(ci is not None and ci[1] is not None and ci[1] < 0)


def _higher_beyond_noise(ci: list[float | None] | None) -> bool:
    """The interval of new − base lies entirely above 0."""
    return bool(ci is not None and ci[0] is not None and ci[0] > 0)


def _gate_result(
    y: np.ndarray, *, n_boot: int, seed: int, auc: dict[str, Any], brier: dict[str, Any], over: str, auc_missing: str
) -> dict[str, Any]:
    """One gate's verdict: passed unless ROC AUC is lower or Brier higher beyond noise, and why in words."""
    passed = not (auc["worse"] or brier["worse"])
    n = len(y)
    return {
        "passed": passed,
        "documents": n,
        "reliable": int(y.sum()),
        "unreliable": int(n - y.sum()),
        "n_boot": n_boot,
        "seed": seed,
        "confidence": CONFIDENCE,
        "auc": auc,
        "brier": brier,
        "reason": _gate_reason(passed, auc, brier, over=over, auc_missing=auc_missing),
    }


def _interval(ci: list[float | None] | None) -> str:
    if ci is None:
        return "no interval"
    return f"95% CI {_signed(ci[0])} to {_signed(ci[1])}"


def _gate_reason(passed: bool, auc: dict[str, Any], brier: dict[str, Any], *, over: str, auc_missing: str) -> str:
    auc_txt = (
        f"ROC AUC {auc['base']:.4f} to {auc['new']:.4f} (change {_signed(auc['delta'])}, {_interval(auc['ci'])})"
        if auc["delta"] is not None
        else auc_missing
    )
    brier_txt = (
        f"Brier {brier['base']:.4f} to {brier['new']:.4f} (change {_signed(brier['delta'])}, "
        f"{_interval(brier['ci'])})"
        if brier["delta"] is not None
        else "Brier not compared"
    )
    if passed:
        return f"Passed: the new model is not worse beyond noise. {auc_txt}; {brier_txt}; {over}."
    why = []
    if auc["worse"]:
        why.append(f"{auc_txt}: lower, with the interval entirely below 0")
    if brier["worse"]:
        why.append(f"{brier_txt}: higher (worse), with the interval entirely above 0")
    return "Refused: the new model is worse than the base one beyond noise. " + "; ".join(why) + f"; {over}."


# ------------------------------------------------------------------------- what the base model has seen


@dataclass
class BaseOverlap:
    """Which documents of a training run a base model was trained on (see :func:`base_overlap`).

    ``seen``: per document, True when it was in the base's training data (or is a copy of one of its
    texts): the base's score on it is in-sample. ``seen_by``: how many documents each of the base's
    sources accounts for. ``same_data``: every source of the base is in this run, unchanged, and nothing of
    the base's is unaccounted for, so its manifest's cross-validated figures were measured on the documents
    marked seen. ``unknown``: the base's sources that could not be read, whose documents cannot be told
    apart. ``notes``: what the reader should know about how it was decided.
    """

    seen: list[bool]
    seen_by: dict[str, int] = field(default_factory=dict)
    same_data: bool = False
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def base_overlap(
    manifest: dict[str, Any],
    examples: Sequence[Example],
    *,
    builtin: Sequence[bool],
    run_sources: dict[str, str],
    builtin_hash: str,
) -> BaseOverlap:
    """Which of ``examples`` the model of ``manifest`` was trained on, from the fixtures its manifest lists.

    ``builtin``: per example, whether it is one of the project's fixtures (or their generated variants);
    ``run_sources``: this run's sources (``"builtin"`` or a path as given → hash, as a manifest records
    them); ``builtin_hash``: the hash of the project's fixtures now.

    * ``builtin`` in the base's fixtures: every built-in document counts as seen (their variants are
      drawn from the same articles, whatever the seed), and so does a user's copy of a built-in text.
    * A labeled file or folder: it is read again (from this run's source with the same hash, else from
      the path the manifest records), and every document of this run with the same text (same
      :func:`training.labels.text_key`) counts as seen. A source that changed since is read as it is now;
      one that cannot be read is listed in ``unknown``.
    """
    from training.dataset import FIXTURES_DIR, RELIABLE_FILES, UNRELIABLE_FILES, FixtureError, read_jsonl
    from training.labels import read_labeled, text_key

    n = len(examples)
    seen = [False] * n
    keys: dict[str, str] = {}  # text key -> which base source has it
    out = BaseOverlap(seen=seen)
    base_sources = manifest.get("fixtures")
    if not isinstance(base_sources, dict) or not base_sources:
        out.unknown.append("(the manifest lists no fixtures)")
        base_sources = {}
    exact = True
    for name, digest in base_sources.items():
        if name == "builtin":
            label = "the built-in fixtures"
            article_files = [f for f in (*RELIABLE_FILES, *UNRELIABLE_FILES) if (FIXTURES_DIR / f).is_file()]
            added = [] if digest == builtin_hash else _files_added_since(digest)
            if added:  # the base's fixtures are today's without the files added since: those it never saw
                articles = {f: read_jsonl(FIXTURES_DIR / f) for f in article_files if f not in added}
                ids = {ex.source_id for rows in articles.values() for ex in rows}
                for i in range(n):
                    if builtin[i] and examples[i].source_id in ids:
                        seen[i] = True
                out.notes.append(f"the base was trained on the built-in fixtures as they were before "
                                 f"{', '.join(added)} (added since): the documents from "
                                 f"{'it' if len(added) == 1 else 'them'} count as documents it was not trained on")
            else:
                articles = {f: read_jsonl(FIXTURES_DIR / f) for f in article_files}
                for i in range(n):
                    if builtin[i]:
                        seen[i] = True
                if digest != builtin_hash:
                    exact = False
                    out.notes.append("the base was trained on another version of the built-in fixtures: every "
                                     "built-in document is counted as seen by it")
            for rows in articles.values():
                for ex in rows:
                    keys.setdefault(text_key(ex.text), label)
            if "builtin" not in run_sources:
                exact = False
            continue
        same = [s for s, d in run_sources.items() if s != "builtin" and d == digest]
        path = Path(same[0]) if same else Path(str(name))
        if not same:
            exact = False
        if not path.exists():
            out.unknown.append(str(name))
            continue
        try:
            labeled = read_labeled([path])
        except (FixtureError, OSError):
            out.unknown.append(str(name))
            continue
        if not same:
            changed = labeled.sources.get(str(path)) != digest
            out.notes.append(f"the base was trained on {name}, which is not among these fixtures"
                             + (" and has changed since: its documents as they are now are counted as seen"
                                if changed else ": documents with the same text are counted as seen"))
        for ex in labeled.examples:
            keys.setdefault(text_key(ex.text), str(name))
    if keys:
        for i, ex in enumerate(examples):
            who = keys.get(text_key(ex.text))
            if who is not None:
                seen[i] = True
    for i in range(n):
        if seen[i]:
            who = "the built-in fixtures" if builtin[i] else keys.get(text_key(examples[i].text), "?")
            out.seen_by[who] = out.seen_by.get(who, 0) + 1
    out.same_data = exact and not out.unknown
    if out.unknown:
        out.notes.append("the base was also trained on " + ", ".join(out.unknown) + ", which cannot be read "
                         "now: documents of it among these cannot be told apart, and the base's scores on them "
                         "would be in-sample")
    return out


def _files_added_since(digest: str, max_added: int = 2) -> list[str]:
    """The built-in article files (at most ``max_added``) without which today's fixtures hash to ``digest``
    (:func:`training.dataset.fixture_hash`): those added since a model with that hash was trained. Empty
    when no such files are found (the fixtures were edited, not only added to)."""
    from itertools import combinations

    from training.dataset import FIXTURES_DIR, RELIABLE_FILES, UNRELIABLE_FILES

    paths = sorted(FIXTURES_DIR.glob("*.jsonl"))
    parts = [(p.name, p.name.encode() + p.read_bytes()) for p in paths]
    articles = [name for name, _ in parts if name in (*RELIABLE_FILES, *UNRELIABLE_FILES)]
    for k in range(1, max_added + 1):
        for dropped in combinations(articles, k):
            h = hashlib.sha256()
            for name, data in parts:
                if name not in dropped:
                    h.update(data)
            if h.hexdigest() == digest:
                return list(dropped)
    return []


# ---------------------------------------------------------------------------------------------- report


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _calibration_plot(metrics: dict[str, Any], base: dict[str, Any] | None) -> str:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    fig = Figure(figsize=(4.8, 4.2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    curves = [("this model" if base is None else "new", metrics, "#3b6ea5", "o")]
    if base is not None:
        curves.append(("base", base, "#d9822b", "s"))
    for name, m, color, marker in curves:
        bins = [b for b in (m.get("calibration") or {}).get("bins", []) if b.get("count")]
        if not bins:
            continue
        xs = [b["mean_predicted"] for b in bins]
        ys = [b["observed_rate"] for b in bins]
        ax.plot(xs, ys, color=color, linewidth=1.5, label=name)
        total = sum(b["count"] for b in bins)
        ax.scatter(xs, ys, s=[20 + 300 * b["count"] / total for b in bins], color=color, marker=marker, zorder=3)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("mean predicted P(reliable)")
    ax.set_ylabel("observed share reliable")
    ax.set_title("Calibration (marker size: documents in the bin)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _histogram_plot(metrics: dict[str, Any]) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    hist = metrics.get("histogram") or {}
    edges = hist.get("edges") or [5 * i for i in range(HISTOGRAM_BINS + 1)]
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    lefts, widths = edges[:-1], [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    for label, color in (("reliable", "#4a8f4a"), ("unreliable", "#b44")):
        counts = hist.get(label) or [0] * len(lefts)
        ax.bar(lefts, counts, width=widths, align="edge", color=color, alpha=0.5, edgecolor="white",
               label=f"labeled {label}")
    thresholds = ((metrics.get("verdicts") or {}).get("thresholds")) or {}
    for key, color in (("suspect", "#b44"), ("reliable", "#4a4")):
        if thresholds.get(key) is not None:
            ax.axvline(thresholds[key], color=color, linestyle="--", linewidth=1)
    ax.set_xlim(0, 100)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("score")
    ax.set_ylabel("documents")
    ax.set_title("Scores by label (dashed: suspect and reliable thresholds)")
    ax.legend(loc="upper center", fontsize=8)
    return _png(fig)


def _fmt(v: Any, spec: str = ".4f") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return format(v, spec)
    if isinstance(v, int):
        return format(v, "+d") if spec.startswith("+") else str(v)
    return str(v)


_SUMMARY_KEYS = (
    ("documents", "documents"),
    ("reliable", "labeled reliable"),
    ("unreliable", "labeled unreliable"),
    ("roc_auc", "ROC AUC"),
    ("pr_auc", "PR AUC (average precision)"),
    ("brier", "Brier score (lower is better)"),
    ("accuracy_at_50", "accuracy at 50"),
    ("verdict_accuracy", "verdict accuracy (suspect counts as wrong)"),
)


def _summary_value(m: dict[str, Any], key: str) -> Any:
    if key == "ece":
        return (m.get("calibration") or {}).get("ece")
    if key == "accuracy_outside_suspect":
        return (m.get("verdicts") or {}).get("accuracy_outside_suspect")
    return m.get(key)


def _comparison_html(comparison: dict[str, Any]) -> list[str]:
    esc = html.escape
    base, new, g = comparison.get("base") or {}, comparison.get("new") or {}, comparison.get("gate")
    parts = ["<h2>Comparison with the base model</h2>"]
    if g and "checks" in g:  # the training gate: one verdict over one or two fair comparisons
        judged, ok = bool(g.get("judged", True)), bool(g.get("passed"))
        word = "passed" if ok else "refused" if judged else "not judged"
        parts.append(f"<p class='{'pass' if ok or not judged else 'fail'}'><b>Gate: {word}.</b> "
                     f"{esc(str(g.get('reason', '')))}</p>")
        parts += [f"<p><i>{esc(str(note))}</i></p>" for note in g.get("notes") or []]
        sides = comparison.get("sides") or []
        for i, check in enumerate(g.get("checks") or []):
            parts.append(f"<h3>{esc(str(check.get('title', 'comparison')))}</h3>")
            parts += _gate_html(check)
            side = sides[i] if i < len(sides) else {}
            parts += _sides_html(side.get("base") or {}, side.get("new") or {})
        return parts
    if g:
        parts += _gate_html(g)
    parts += _sides_html(base, new)
    return parts


def _gate_html(g: dict[str, Any]) -> list[str]:
    esc = html.escape
    ok = bool(g.get("passed"))
    parts = [f"<p class='{'pass' if ok else 'fail'}'><b>Gate: {'passed' if ok else 'refused'}.</b> "
             f"{esc(str(g.get('reason', '')))}</p>"]
    parts.append("<table><tr><th>measure</th><th>base</th><th>new</th><th>new − base</th>"
                 "<th>95% CI of the change</th><th>worse beyond noise</th></tr>")
    for key, label in (("auc", "ROC AUC"), ("brier", "Brier score")):
        d = g.get(key) or {}
        ci = d.get("ci")
        ci_txt = "n/a" if not ci else f"{_fmt(ci[0], '+.4f')} to {_fmt(ci[1], '+.4f')}"
        parts.append(f"<tr><td>{label}</td><td class=n>{_fmt(d.get('base'))}</td>"
                     f"<td class=n>{_fmt(d.get('new'))}</td><td class=n>{_fmt(d.get('delta'), '+.4f')}</td>"
                     f"<td class=n>{esc(ci_txt)}</td><td>{_fmt(bool(d.get('worse')))}</td></tr>")
    parts.append("</table>")
    if g.get("kind") == "base_cv":
        parts.append(f"<p>Bootstrap: {esc(_fmt(g.get('n_boot')))} resamples of this model's out-of-fold scores on "
                     f"the {esc(_fmt(g.get('documents')))} documents, seed {esc(_fmt(g.get('seed')))}; the base's "
                     "figures are its own cross-validated ones, taken as fixed.</p>")
    else:
        parts.append(f"<p>Paired bootstrap: {esc(_fmt(g.get('n_boot')))} resamples of the "
                     f"{esc(_fmt(g.get('documents')))} held-out documents, seed {esc(_fmt(g.get('seed')))}.</p>")
    return parts


def _sides_html(base: dict[str, Any], new: dict[str, Any]) -> list[str]:
    esc = html.escape
    parts: list[str] = []
    if base or new:
        keys = [*_SUMMARY_KEYS, ("ece", "expected calibration error"),
                ("accuracy_outside_suspect", "accuracy outside the suspect band")]
        parts.append("<table><tr><th>metric</th><th>base</th><th>new</th><th>new − base</th></tr>")
        for key, label in keys:
            b, nv = _summary_value(base, key), _summary_value(new, key)
            delta = nv - b if isinstance(b, int | float) and isinstance(nv, int | float) else None
            spec = "d" if isinstance(b, int) and isinstance(nv, int) and not isinstance(b, bool) else ".4f"
            dspec = "+d" if spec == "d" else "+.4f"
            parts.append(f"<tr><td>{esc(label)}</td><td class=n>{_fmt(b, spec)}</td><td class=n>{_fmt(nv, spec)}</td>"
                         f"<td class=n>{_fmt(delta, dspec)}</td></tr>")
        parts.append("</table>")
        tags = sorted(set(base.get("recall_by_tag") or {}) | set(new.get("recall_by_tag") or {}))
        if tags:
            parts.append("<h3>Recall per tag</h3><table><tr><th>tag</th><th>base</th><th>new</th>"
                         "<th>new − base</th></tr>")
            for t in tags:
                b, nv = (base.get("recall_by_tag") or {}).get(t), (new.get("recall_by_tag") or {}).get(t)
                delta = nv - b if b is not None and nv is not None else None
                parts.append(f"<tr><td>{esc(t)}</td><td class=n>{_fmt(b)}</td><td class=n>{_fmt(nv)}</td>"
                             f"<td class=n>{_fmt(delta, '+.4f')}</td></tr>")
            parts.append("</table>")
    return parts


def write_report(path: Path, metrics: dict[str, Any], *, title: str, comparison: dict[str, Any] | None = None) -> None:
    """Write ``metrics`` (from :func:`evaluate`) as one self-contained HTML page, atomically.

    ``comparison``: ``{"base": metrics, "new": metrics, "gate": gate(...)}`` (any part may be left out)
    adds the gate's verdict and the two models side by side; the base model's calibration curve is
    drawn beside this one's. A gate with ``checks`` (the training gate: ``passed``, ``judged``, ``reason``,
    ``notes`` and one :func:`gate` or :func:`gate_against_reference` result per check, each with a
    ``title``) shows every check, with ``comparison["sides"][i]`` (``{"base", "new"}`` metrics) beside
    check ``i``. ``metrics["warnings"]`` (a list of sentences) are shown first.
    """
    esc = html.escape
    base_metrics = (comparison or {}).get("base") or None
    calib_png = _calibration_plot(metrics, base_metrics)
    hist_png = _histogram_plot(metrics)
    verdicts = metrics.get("verdicts") or {}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>",
        "body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}",
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:3px 8px;"
        "text-align:left;vertical-align:top}th{background:#f3f3f3}.n{text-align:right}"
        "code{background:#f5f5f5;padding:0 3px}.pass{color:#2d6a2d}.fail{color:#a22}"
        "ul.r{margin:0;padding-left:1.2em}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    warnings = metrics.get("warnings") or []
    if warnings:
        parts.append("<h2 class=fail>Warnings</h2><ul>"
                     + "".join(f"<li class=fail>{esc(str(w))}</li>" for w in warnings) + "</ul>")
    if comparison:
        parts += _comparison_html(comparison)
    parts.append("<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>")
    for key, label in _SUMMARY_KEYS:
        v = metrics.get(key)
        parts.append(f"<tr><td>{esc(label)}</td><td class=n>{esc(_fmt(v))}</td></tr>")
    parts.append(f"<tr><td>expected calibration error</td><td class=n>"
                 f"{esc(_fmt((metrics.get('calibration') or {}).get('ece')))}</td></tr>")
    parts.append(f"<tr><td>accuracy outside the suspect band</td><td class=n>"
                 f"{esc(_fmt(verdicts.get('accuracy_outside_suspect')))}</td></tr></table>")
    for note in metrics.get("notes") or []:
        parts.append(f"<p><i>{esc(str(note))}</i></p>")
    thresholds = verdicts.get("thresholds") or {}
    if verdicts.get("by_label"):
        parts.append(f"<h2>Verdicts by label</h2><p>Reliable at or above {esc(_fmt(thresholds.get('reliable'), '.0f'))}"
                     f", suspect from {esc(_fmt(thresholds.get('suspect'), '.0f'))}, unreliable below. "
                     f"{esc(str(verdicts.get('rule', '')))}.</p>")
        parts.append("<table><tr><th>label</th><th>documents</th><th>scored reliable</th><th>scored suspect</th>"
                     "<th>scored unreliable</th></tr>")
        for label, row in sorted(verdicts["by_label"].items()):
            parts.append(f"<tr><td>{esc(label)}</td><td class=n>{esc(_fmt(row.get('documents')))}</td>"
                         + "".join(f"<td class=n>{esc(_fmt(row.get(b)))}</td>"
                                   for b in ("reliable", "suspect", "unreliable")) + "</tr>")
        parts.append("</table>")
    parts += [
        "<h2>Calibration</h2>",
        f"<img alt='calibration curve' src='{calib_png}'>",
        "<table><tr><th>P(reliable)</th><th>documents</th><th>mean predicted</th><th>observed share reliable</th></tr>",
        *(f"<tr><td>{_fmt(b.get('lower'), '.1f')}–{_fmt(b.get('upper'), '.1f')}</td><td class=n>{_fmt(b.get('count'))}"
          f"</td><td class=n>{_fmt(b.get('mean_predicted'))}</td><td class=n>{_fmt(b.get('observed_rate'))}</td></tr>"
          for b in (metrics.get("calibration") or {}).get("bins", [])),
        "</table>",
        "<h2>Score distribution</h2>",
        f"<img alt='score histogram by label' src='{hist_png}'>",
    ]
    tags = metrics.get("tags") or {}
    parts.append(f"<h2>Recall per tag</h2><p>Tags with at least {MIN_TAG_EXAMPLES} documents; recall is the share "
                 "scored on the right side of 50. Lowest first.</p>")
    parts.append("<table><tr><th>tag</th><th>documents</th><th>reliable</th><th>unreliable</th><th>recall</th>"
                 "<th>mean score</th></tr>")
    for tag, d in sorted(tags.items(), key=lambda kv: (kv[1].get("recall") is None, kv[1].get("recall") or 0.0, kv[0])):
        parts.append(f"<tr><td>{esc(str(tag))}</td><td class=n>{esc(_fmt(d.get('documents')))}</td>"
                     f"<td class=n>{esc(_fmt(d.get('reliable')))}</td><td class=n>{esc(_fmt(d.get('unreliable')))}</td>"
                     f"<td class=n>{esc(_fmt(d.get('recall')))}</td>"
                     f"<td class=n>{esc(_fmt(d.get('mean_score'), '.1f'))}</td></tr>")
    parts.append("</table>")
    features = metrics.get("influential_features")
    if features:
        parts.append("<h2>Most influential features</h2><p>Mean absolute contribution to the log-odds of reliable "
                     "over the set, and the mean signed contribution per label (negative lowers the score). Contributions "
                     "are measured from the mean reliable training document, so on the training documents "
                     "themselves the reliable mean is near 0.</p>")
        parts.append("<table><tr><th>feature</th><th>mean |contribution|</th><th>mean, reliable</th>"
                     "<th>mean, unreliable</th></tr>")
        for f in features:
            parts.append(f"<tr><td><code>{esc(str(f.get('feature')))}</code></td>"
                         f"<td class=n>{esc(_fmt(f.get('mean_abs')))}</td>"
                         f"<td class=n>{esc(_fmt(f.get('mean_reliable'), '+.4f'))}</td>"
                         f"<td class=n>{esc(_fmt(f.get('mean_unreliable'), '+.4f'))}</td></tr>")
        parts.append("</table>")
    worst = metrics.get("worst") or []
    with_reasons = any("reasons" in w for w in worst)
    parts.append(f"<h2>Worst-scored documents ({len(worst)})</h2><p>Largest distance between label and "
                 "P(reliable)" + (", with each document's three largest reasons (log-odds)" if with_reasons else "")
                 + ".</p>")
    parts.append("<table><tr><th>document</th><th>label</th><th>score</th><th>tags</th>"
                 + ("<th>top reasons</th>" if with_reasons else "") + "</tr>")
    for w in worst:
        row = (f"<tr><td>{esc(str(w.get('id')))}</td><td>{esc(str(w.get('label')))}</td>"
               f"<td class=n>{esc(_fmt(w.get('score'), '.1f'))}</td>"
               f"<td>{esc(', '.join(str(t) for t in w.get('tags') or []))}</td>")
        if with_reasons:
            items = "".join(f"<li><code>{esc(str(r.get('code')))}</code> {esc(_fmt(r.get('contribution'), '+.2f'))}: "
                            f"{esc(str(r.get('message', '')))}</li>" for r in w.get("reasons") or [])
            row += f"<td><ul class=r>{items}</ul></td>"
        parts.append(row + "</tr>")
    parts.append("</table></body></html>")
    _atomic_write(path, "\n".join(parts) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    """Write to a unique temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
