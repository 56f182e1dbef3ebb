from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np
import pytest

from training.classifier import ReliabilityModel
from training.corrupt import Example
from training.features import FEATURE_NAMES
from training.linemodel import CLASSES, NotFittedError
from training.train import DEFAULT_THRESHOLDS, train


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_contributions_sum_exactly_to_the_logit(tiny_training):
    result, _ = tiny_training
    clf = result.classifier
    base, contrib = clf.contributions(result.X)
    assert contrib.shape == result.X.shape
    logit = clf.logit(result.X)
    np.testing.assert_allclose(base + contrib.sum(axis=1), logit, rtol=0, atol=1e-9)
    np.testing.assert_allclose(_sigmoid(logit), clf.predict_proba(result.X), rtol=0, atol=1e-12)


def test_contributions_agree_with_the_fitted_pipeline(tiny_training):
    """The decomposition is the model itself: calibration applied to the pipeline's decision values."""
    result, _ = tiny_training
    clf = result.classifier
    assert any(clf.log_scaled)  # the declared rates reach the pipeline in log scale
    # NaN ("not applicable": a text too short to count its articles) is the reliable reference value
    assert np.isnan(result.X).any()
    decision = clf.pipeline_.decision_function(clf._fill(clf._transform(result.X)))
    expected = clf.calibration_slope_ * decision + clf.calibration_intercept_
    np.testing.assert_allclose(clf.logit(result.X), expected, rtol=0, atol=1e-9)


def test_not_applicable_feature_contributes_nothing(tiny_training):
    result, _ = tiny_training
    row = result.X[:1].copy()
    j = FEATURE_NAMES.index("readability_flesch_reading_ease")
    row[0, j] = np.nan
    _, contrib = result.classifier.contributions(row)
    assert abs(contrib[0, j]) < 1e-9


def test_single_row_vector_is_accepted(tiny_training):
    result, _ = tiny_training
    base, contrib = result.classifier.contributions(result.X[0])
    assert contrib.shape == (1, len(FEATURE_NAMES))
    assert base + contrib.sum() == pytest.approx(float(result.classifier.logit(result.X[:1])[0]), abs=1e-9)


def test_synthetic_fit_contributions_and_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    model = ReliabilityModel(cv=4, random_state=0)
    with pytest.raises(NotFittedError):
        model.contributions(X)
    model.fit(X, y, feature_names=["a", "b", "c", "d"])
    base, contrib = model.contributions(X)
    np.testing.assert_allclose(base + contrib.sum(axis=1), model.logit(X), atol=1e-12)
    # the informative feature dominates and pushes towards its label
    assert np.abs(contrib[:, 0]).mean() > np.abs(contrib[:, 1:]).mean(axis=0).max()
    assert np.corrcoef(contrib[:, 0], X[:, 0])[0, 1] > 0.99
    assert list(model.get_feature_names_out()) == ["a", "b", "c", "d"]
    p = model.predict_proba(X)
    assert ((p > 0.5) == (y == 1)).mean() > 0.8


def test_metrics_present_and_sane(tiny_training):
    result, model_dir = tiny_training
    m = result.metrics
    assert m["documents"] == len(result.examples) == len(result.y)
    assert m["reliable"] + m["unreliable"] == m["documents"]
    assert m["reliable"] == int(result.y.sum())
    for key in ("roc_auc", "pr_auc", "brier", "accuracy_at_50", "verdict_accuracy"):
        assert 0.0 <= m[key] <= 1.0, key
    assert m["roc_auc"] > 0.7  # even the tiny model separates its own cross-validated folds
    lm = m["line_model"]
    assert lm["lines"] > 0 and 0.0 <= lm["accuracy"] <= 1.0 and 0.0 <= lm["macro_f1"] <= 1.0
    assert set(m["recall_by_tag"]) >= {"scraped", "spun"}
    assert json.loads((model_dir / "metrics.json").read_text()) == m


def test_manifest_describes_the_files(tiny_training):
    _, model_dir = tiny_training
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["feature_names"] == list(FEATURE_NAMES)
    assert manifest["line_classes"] == list(CLASSES)
    assert manifest["thresholds"] == DEFAULT_THRESHOLDS
    assert manifest["name"] == "tiny"
    created = datetime.fromisoformat(manifest["created"])
    assert created.tzinfo is not None and abs((datetime.now(UTC) - created).days) < 1
    counts = manifest["fixture_counts"]
    assert counts["documents"] == counts["reliable"] + counts["unreliable"] == manifest["metrics"]["documents"]
    assert set(manifest["files"]) == {"model.joblib", "lexicon.json", "metrics.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((model_dir / name).read_bytes()).hexdigest() == digest
    expected_version = hashlib.sha256(
        "".join(manifest["files"][f] for f in sorted(manifest["files"])).encode()
    )
    assert manifest["version"] == expected_version.hexdigest()[:12]


def test_lexicon_learned_from_reliable_text(tiny_training):
    result, _ = tiny_training
    assert result.lexicon.names, "the lexicon learned no names"
    assert all(n == n.lower() for n in result.lexicon.names)


def test_training_needs_both_labels():
    only = [
        Example(
            id=str(i),
            text="Some reliable text here.",
            label="reliable",
            tags=[],
            origin="written",
            source_id=str(i),
        )
        for i in range(4)
    ]
    with pytest.raises(ValueError, match="both"):
        train(only, cv=2)


def test_each_label_needs_as_many_documents_as_folds():
    """9 reliable and 1 unreliable with 5 folds: some fold could not fit (scikit-learn warned and then
    said 'two classes are needed, got 1'); now a clear error first, counting an article's variants once."""
    rel, unrel = _written("reliable", 9), _written("unreliable", 1)
    with pytest.raises(ValueError) as err:
        train(rel + unrel, cv=5)
    assert str(err.value) == ("each label needs at least 5 documents for --cv 5-fold cross-validation: unreliable "
                              "has 1; label more documents or lower --cv (at least 2)")
    variants = [Example(id=f"{rel[0].id}~{k}", text=rel[0].text + k, label="unreliable", tags=[], origin="generated:x",
                        source_id=rel[0].id) for k in ("a", "b", "c", "d")]
    with pytest.raises(ValueError, match=r"unreliable has 2 \(5 documents of 2 source article\(s\)"):
        train(rel + unrel + variants, cv=5)


@pytest.mark.slow
def test_training_twice_gives_identical_metrics(tiny_training, tiny_twin_dir):
    """The same examples and seed, trained again in another process (another hash seed): same bytes."""
    _, first_dir = tiny_training
    for name in ("metrics.json", "lexicon.json"):
        assert (tiny_twin_dir / name).read_bytes() == (first_dir / name).read_bytes(), name
    first = json.loads((first_dir / "manifest.json").read_text())
    twin = json.loads((tiny_twin_dir / "manifest.json").read_text())
    assert twin["feature_names"] == first["feature_names"]
    assert twin["files"]["metrics.json"] == first["files"]["metrics.json"]


def test_calibration_survives_a_group_outside_the_others_range():
    """One held-out group (say the only foreign-language article) with a value the other folds never saw
    must not flatten the calibrated model: scores still spread over the probability range."""
    rng = np.random.default_rng(0)
    n_groups, per = 24, 4
    groups = np.repeat([f"g{i}" for i in range(n_groups)], per)
    y = np.tile([1, 1, 0, 0], n_groups)
    X = np.column_stack(
        [
            y + rng.normal(scale=0.6, size=len(y)),  # informative
            rng.normal(size=len(y)),  # noise
            1.0 - rng.uniform(0, 1e-6, size=len(y)),  # near-constant, like P(English) on English text
        ]
    )
    X[groups == "g0", 2] = 0.0
    model = ReliabilityModel(cv=3, random_state=0).fit(X, y, groups=groups)
    p = model.predict_proba(X)
    assert p.max() - p.min() > 0.5, (model.calibration_slope_, p.min(), p.max())
    assert np.abs(model.oof_decision_).max() < 100.0


def _written(label: str, n: int) -> list[Example]:
    from training.dataset import FIXTURES_DIR, read_jsonl

    name = "reliable_c.jsonl" if label == "reliable" else "unreliable_written.jsonl"
    rows = read_jsonl(FIXTURES_DIR / name)[:n]
    # As a user's file arrives: no line labels, origin is the file's name.
    return [Example(id=r.id, text=r.text, label=r.label, tags=[], origin="user.jsonl", source_id=r.id) for r in rows]


def test_user_labels_alone_need_line_labeled_pages_for_the_line_model():
    with pytest.raises(ValueError, match="line model needs lines labeled as boilerplate"):
        train(_written("reliable", 4) + _written("unreliable", 4), cv=2)


def test_user_labels_alone_train_with_the_projects_pages_for_the_line_model(tiny_training):
    result, _ = tiny_training
    pages = [ex for ex in result.examples if ex.line_labels is not None][:40]
    out = train(_written("reliable", 4) + _written("unreliable", 4), cv=2, line_examples=pages)
    assert out.metrics["documents"] == 8
    assert {ex.origin for ex in out.examples} == {"user.jsonl"}
    assert set(out.line_model.classifier_.classes_) - {"content"}, "the line model learned no boilerplate class"


def test_reusing_a_line_model_fits_none_and_workers_change_nothing(tiny_training, monkeypatch):
    """--line-model-from: the given line model is used as it is in every fold and in the result, and
    featurising on two processes gives the very same matrix and metrics as on one."""
    import training.parallel

    monkeypatch.setattr(training.parallel, "MIN_PER_WORKER", 2)  # fork even for these few documents
    result, _ = tiny_training
    examples = _written("reliable", 20) + _written("unreliable", 20)
    one = train(examples, cv=2, line_model=result.line_model, workers=1)
    two = train(examples, cv=2, line_model=result.line_model, workers=2)
    assert one.line_model is result.line_model and two.line_model is result.line_model
    assert one.metrics["line_model"]["fitted"] is False
    assert np.array_equal(one.X, two.X)
    assert json.dumps(one.metrics, sort_keys=True) == json.dumps(two.metrics, sort_keys=True)
    assert one.metrics["documents"] == 40


def test_fork_map_keeps_order_and_answers(monkeypatch):
    import os

    import training.parallel
    from training.parallel import fork_map

    monkeypatch.setattr(training.parallel, "MIN_PER_WORKER", 2)
    got = fork_map(lambda i: (i * i, os.getpid()), 50, workers=2)
    assert [sq for sq, _ in got] == [i * i for i in range(50)]
    assert os.getpid() not in {pid for _, pid in got}, "the work did not run in forked workers"


def _separable(n: int = 12) -> list[Example]:
    """A small real set whose labels are easy to tell apart: whole articles against scraped pages and spam."""
    from training.dataset import FIXTURES_DIR, read_jsonl

    rel = read_jsonl(FIXTURES_DIR / "reliable_a.jsonl")[-n:]
    unrel = [r for r in read_jsonl(FIXTURES_DIR / "unreliable_written.jsonl")
             if set(r.tags) & {"spam", "scraped", "boilerplate"}][-n:]
    return [Example(id=r.id, text=r.text, label=r.label, tags=[], origin="user.jsonl", source_id=r.id)
            for r in rel + unrel]


def test_tiny_perfectly_separated_data_warn_and_stay_bounded(tiny_training):
    """24 documents whose out-of-fold scores separate the labels: the calibration's likelihood has no
    maximum (the plain fit's slope runs away and every text scores 0 or 100); it is fitted to Platt's
    smoothed targets instead, and the metrics say why these figures cannot be trusted."""
    from sklearn.linear_model import LogisticRegression

    result, _ = tiny_training
    out = train(_separable(), cv=3, line_model=result.line_model, workers=1)
    clf = out.classifier
    assert out.metrics["roc_auc"] == 1.0
    warnings = out.metrics["warnings"]
    assert [w.split(" (")[0] for w in warnings[:2]] == ["only 12 reliable document(s)", "only 12 unreliable document(s)"]
    assert "separate the two labels perfectly" in warnings[2] and "92.9 and 7.1" in warnings[2]
    assert clf.calibration_targets_ == (13 / 14, 1 / 14)
    runaway = LogisticRegression(C=1e4, max_iter=1000).fit(clf.oof_decision_.reshape(-1, 1), out.y)
    assert runaway.coef_[0, 0] > 3 * clf.calibration_slope_  # what the unguarded calibration would have been
    base, contrib = clf.contributions(out.X)
    assert abs(base) < 6 and np.abs(contrib).max() < 6
    p = clf.predict_proba(out.X)
    assert 0.005 < p.min() and p.max() < 0.995  # no text at 0 or 100
    assert np.all((p >= 0.5) == (out.y == 1))


def test_overlapping_labels_calibrate_as_before(tiny_training):
    """The guard is never reached when the labels overlap out of fold: the calibration is the plain fit, and
    nothing new is kept on the model (its pickle, and so a model's version, stay as they were)."""
    from sklearn.linear_model import LogisticRegression

    result, _ = tiny_training
    clf = result.classifier
    assert not hasattr(clf, "calibration_targets_")
    plain = LogisticRegression(C=1e4, max_iter=1000).fit(clf.oof_decision_.reshape(-1, 1), result.y)
    assert clf.calibration_slope_ == float(plain.coef_[0, 0])
    assert clf.calibration_intercept_ == float(plain.intercept_[0])
    assert "warnings" not in result.metrics or all("perfectly" not in w for w in result.metrics["warnings"])


def test_line_model_macro_f1_needs_lines_of_two_labels(tiny_training):
    """A user's documents without line labels give only content lines (every line of a reliable one): the
    macro F1 over that one class would always be 1.0, so it is not reported."""
    result, _ = tiny_training
    out = train(_written("reliable", 6) + _written("unreliable", 6), cv=2, line_model=result.line_model, workers=1)
    lm = out.metrics["line_model"]
    assert lm["macro_f1"] is None and lm["classes"] == ["content"] and lm["lines"] > 0
    assert 0.0 <= lm["accuracy"] <= 1.0
    multi = result.metrics["line_model"]  # the tiny model's own: generated pages with boilerplate lines
    assert multi["macro_f1"] is not None and "classes" not in multi


def test_a_base_lexicon_is_kept_beside_the_learned_one(tiny_training):
    result, _ = tiny_training
    examples = _written("reliable", 4) + _written("unreliable", 4)
    alone = train(examples, cv=2, line_model=result.line_model, workers=1)
    kept = train(examples, cv=2, line_model=result.line_model, workers=1, base_lexicon=result.lexicon)
    assert kept.lexicon.names == alone.lexicon.names | result.lexicon.names
    assert len(kept.lexicon.names) > len(alone.lexicon.names)
    first = next(iter(result.lexicon.full_names))
    assert result.lexicon.full_names[first] <= kept.lexicon.full_names[first]


def test_the_lexicon_learns_a_users_reliable_documents_but_no_generated_variant(tiny_training):
    """A user's documents carry their file or folder name as origin, not "written": their reliable ones feed
    the lexicon (with --no-builtin it knew no name at all), the generator's variants and unreliable ones
    never do."""
    result, _ = tiny_training
    rel, unrel = _written("reliable", 4), _written("unreliable", 4)
    rel[0].text += "\nThe mayor, Orlavine Quessandt, thanked the volunteers."
    unrel[0].text += "\nClick here, Brakmoothe Vellisar says, for a free prize."
    variant = Example(id=f"{rel[1].id}~typo", text=rel[1].text + "\nA word from Tindlewar Moss.", label="reliable",
                      tags=["typo"], origin="generated:typo", source_id=rel[1].id)
    folder = Example(id="reliable/x.txt", text=rel[2].text + "\nSaid Pelgrannet Ouvry.", label="reliable",
                     tags=[], origin="mylabels", source_id="reliable/x.txt")
    out = train([*rel, *unrel, variant, folder], cv=2, line_model=result.line_model, workers=1)
    names = out.lexicon.names
    assert {"orlavine", "quessandt", "pelgrannet", "ouvry"} <= names
    assert out.lexicon.full_names["orlavine"] == {"quessandt"}
    assert not {"brakmoothe", "vellisar", "tindlewar"} & names
