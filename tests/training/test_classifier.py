"""The document classifier's logistic regression with sign constraints."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from training.classifier import ReliabilityModel, SignedLogisticRegression
from training.features import FEATURE_DIRECTIONS, FEATURE_NAMES


def _data(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    logit = 1.5 * X[:, 0] - 2.0 * X[:, 1] + 0.5 * X[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_without_signs_it_is_scikit_learns_logistic_regression():
    X, y = _data()
    y[:60] = 0  # unbalanced classes: the balanced class weights matter
    ours = SignedLogisticRegression(C=0.5).fit(X, y)
    ref = LogisticRegression(C=0.5, class_weight="balanced", max_iter=5000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    assert (ours.predict(X) == ref.predict(X)).all()


def test_a_held_sign_is_kept_and_the_other_weights_still_learn():
    X, y = _data()
    free = SignedLogisticRegression(C=1.0).fit(X, y)
    assert free.coef_[0, 0] > 1.0  # the data say: feature 0 raises P(class 1)
    held = SignedLogisticRegression(C=1.0, signs=[-1, 0, 0, +1]).fit(X, y)
    assert held.coef_[0, 0] == 0.0  # held at its bound, not pushed past it
    assert held.coef_[0, 1] < -1.0  # the free feature still learns its (negative) weight
    assert held.coef_[0, 3] >= 0.0


def test_sample_weight_counts_like_repeated_rows():
    X, y = _data(n=120)
    twice = SignedLogisticRegression(C=0.3).fit(X, y, sample_weight=np.full(len(y), 2.0))
    repeated = SignedLogisticRegression(C=0.3).fit(np.r_[X, X], np.r_[y, y])
    np.testing.assert_allclose(twice.coef_, repeated.coef_, atol=1e-6)
    uneven = SignedLogisticRegression(C=0.3).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    assert uneven.intercept_[0] > twice.intercept_[0] + 0.5  # weight on class 1 moves the boundary


def test_bad_signs_weights_and_one_class_are_refused():
    X, y = _data(n=50)
    for bad in (np.full(len(y), np.nan), -np.ones(len(y)), np.ones(3)):
        with pytest.raises(ValueError, match="sample_weight"):
            SignedLogisticRegression().fit(X, y, sample_weight=bad)
    with pytest.raises(ValueError, match="signs has 2 entries for 4 features"):
        SignedLogisticRegression(signs=[1, -1]).fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        SignedLogisticRegression().fit(X, np.ones(len(y), dtype=int))


def test_reliability_model_contributions_respect_the_signs():
    """A feature declared "more is worse" never adds to the score because a text has more of it."""
    X, y = _data(seed=1)
    model = ReliabilityModel(cv=3, random_state=0, signs=[-1, 0, 0, 0]).fit(X, y)
    _, contrib = model.contributions(X)
    above = X[:, 0] > model.reference_raw_[0]
    assert (contrib[above, 0] <= 0).all()


def test_every_feature_declares_a_direction_in_range():
    from training.features import FAMILIES

    for fam in FAMILIES:
        assert set(fam.DIRECTIONS) <= set(fam.FEATURES), f"{fam.NAME}: a direction for an unknown feature"
    assert len(FEATURE_DIRECTIONS) == len(FEATURE_NAMES)
    assert set(FEATURE_DIRECTIONS) <= {-1, 0, 1}
    named = dict(zip(FEATURE_NAMES, FEATURE_DIRECTIONS, strict=True))
    assert named["boilerplate_urls_per_1k"] == -1
    assert named["entity_misspelled_per_1k"] == -1
    assert named["readability_flesch_reading_ease"] == 0  # two-sided


def test_the_shipped_model_keeps_every_declared_direction():
    from service.model import DEFAULT_MODEL_DIR, load_model

    clf = load_model(DEFAULT_MODEL_DIR).classifier
    coef = clf.pipeline_.named_steps["clf"].coef_[0]
    for name, sign, w in zip(FEATURE_NAMES, FEATURE_DIRECTIONS, coef, strict=True):
        assert sign * w >= 0, f"{name}: weight {w:+.3f} against its declared direction {sign:+d}"


def test_the_shipped_model_reads_the_declared_rates_in_log_scale():
    from service.model import DEFAULT_MODEL_DIR, load_model
    from training.features import FEATURE_LOG_SCALED

    clf = load_model(DEFAULT_MODEL_DIR).classifier
    assert tuple(clf.log_scaled) == FEATURE_LOG_SCALED, "retrain with `make model`"


def test_log_scaled_features_are_read_as_log1p_and_contributions_stay_exact():
    rng = np.random.default_rng(3)
    X, y = _data(seed=2)
    X[:, 0] = rng.exponential(20.0, size=len(y)) * (1 + y)  # a rate per 1,000 words, larger for class 1
    X[::17, 0] = np.nan  # "not applicable" stays not applicable
    logged = ReliabilityModel(cv=3, random_state=0, log_scaled=[True, False, False, False]).fit(X, y)
    manual = X.copy()
    manual[:, 0] = np.log1p(manual[:, 0])
    plain = ReliabilityModel(cv=3, random_state=0).fit(manual, y)
    np.testing.assert_allclose(logged.predict_proba(X), plain.predict_proba(manual), atol=1e-10)
    base, contrib = logged.contributions(X)
    np.testing.assert_allclose(base + contrib.sum(axis=1), logged.logit(X))
    # diminishing returns: going from 0 to 10 moves the score more than going from 100 to 110
    probe = np.zeros((4, 4))
    probe[:, 0] = [0.0, 10.0, 100.0, 110.0]
    c0 = logged.contributions(probe)[1][:, 0]
    assert abs(c0[1] - c0[0]) > 3 * abs(c0[3] - c0[2])


def test_the_declared_log_scaled_features_exist_and_are_rates():
    from training.features import FEATURE_LOG_SCALED, LOG_SCALED

    assert LOG_SCALED <= set(FEATURE_NAMES)
    assert all(name.endswith("_per_1k") for name in LOG_SCALED)
    assert sum(FEATURE_LOG_SCALED) == len(LOG_SCALED)


def test_a_model_pickled_without_log_scaling_still_scores():
    X, y = _data(seed=4)
    model = ReliabilityModel(cv=3, random_state=0).fit(X, y)
    before = model.predict_proba(X)
    del model.log_scaled  # as a model saved before the option existed
    np.testing.assert_array_equal(model.predict_proba(X), before)
    with pytest.raises(ValueError, match="log_scaled has 2 entries for 4 features"):
        ReliabilityModel(cv=3, log_scaled=[True, False]).fit(X, y)
