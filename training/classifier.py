"""The document classifier: a calibrated linear model whose score splits exactly into feature contributions.

log1p for the rates named in ``training.features.LOG_SCALED`` → NaN ("not applicable") → the reliable reference
value, clip to the training range → standard scaler →
logistic regression whose weights keep the signs the features declare (``signs``: -1, +1, 0 for free),
then a sigmoid (Platt) calibration fitted on out-of-fold decision values (to Platt's smoothed targets
when those separate the labels perfectly, which would otherwise send its slope towards infinity).
Because every step after the clip is affine, the calibrated log-odds of "reliable" are exactly::

    logit P(reliable | x) = base + Σ_i contribution_i(x)

with ``contribution_i = slope · w_i · (z_i − ref_i)``: ``ref`` is the mean reliable training
document, so a typical reliable article has contributions near zero and ``base`` is its log-odds.
The reasons in the API are sums of these terms, so they cannot disagree with the score. With the
signs held, a feature that can only count faults (URLs, repeated lines, misspelled names) never
contributes a positive term because a text has more of it than the reference: an unconstrained fit
over correlated features gave, for instance, URLs a positive weight.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from training.linemodel import NotFittedError

__all__ = ["ReliabilityModel", "SignedLogisticRegression"]


class SignedLogisticRegression(ClassifierMixin, BaseEstimator):
    """L2-regularised logistic regression (scikit-learn's objective: ``0.5·|w|² + C·Σ weight·log-loss``,
    balanced class weights) whose weight ``i`` is held ``<= 0`` where ``signs[i] == -1`` and ``>= 0``
    where ``signs[i] == +1``; ``0`` leaves it free. Fitted with L-BFGS-B and bounds; deterministic.
    Without signs it is plain logistic regression."""

    def __init__(self, *, C: float = 1.0, signs: Sequence[int] | None = None, max_iter: int = 5000) -> None:
        self.C = C
        self.signs = signs
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> SignedLogisticRegression:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"two classes are needed, got {len(self.classes_)}")
        t = (y == self.classes_[1]).astype(np.float64)
        n, d = X.shape
        counts = np.bincount(t.astype(int), minlength=2)
        class_weight = n / (2.0 * counts)  # scikit-learn's "balanced"
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if sw.shape != (n,) or not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError("sample_weight must hold one finite, non-negative weight per row")
        s = self.C * sw * class_weight[t.astype(int)]
        sign = 2.0 * t - 1.0

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:-1], theta[-1]
            z = X @ w + b
            loss = float(s @ np.logaddexp(0.0, -sign * z)) + 0.5 * float(w @ w)
            r = s * (expit(z) - t)
            return loss, np.r_[X.T @ r + w, r.sum()]

        signs = np.zeros(d, dtype=int) if self.signs is None else np.asarray(self.signs, dtype=int)
        if signs.shape != (d,):
            raise ValueError(f"signs has {signs.size} entries for {d} features")
        bounds = [(None, 0.0) if g < 0 else (0.0, None) if g > 0 else (None, None) for g in signs]
        res = minimize(
            objective,
            np.zeros(d + 1),
            jac=True,
            method="L-BFGS-B",
            bounds=[*bounds, (None, None)],
            options={"maxiter": self.max_iter, "ftol": 1e-12, "gtol": 1e-8},
        )
        if not res.success:
            warnings.warn(f"SignedLogisticRegression did not converge: {res.message}", ConvergenceWarning, stacklevel=2)
        self.coef_ = res.x[:-1].reshape(1, -1)
        self.intercept_ = res.x[-1:].copy()
        self.n_iter_ = np.array([res.nit])
        self.n_features_in_ = d
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(X, dtype=np.float64) @ self.coef_[0] + self.intercept_[0])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_[(self.decision_function(X) > 0).astype(int)])


def _separation_targets(oof: np.ndarray, y: np.ndarray, sw: np.ndarray) -> tuple[float, float] | None:
    """Platt's smoothed calibration targets ``((N+ + 1)/(N+ + 2), 1/(N- + 2))`` when the out-of-fold
    decisions of the weighted rows separate the two labels (every reliable one at or above every
    unreliable one); ``None`` when they overlap, i.e. when the calibration's likelihood has a finite
    maximum."""
    pos, neg = oof[(y == 1) & (sw > 0)], oof[(y == 0) & (sw > 0)]
    if len(pos) == 0 or len(neg) == 0 or pos.min() < neg.max():
        return None
    return (len(pos) + 1.0) / (len(pos) + 2.0), 1.0 / (len(neg) + 2.0)


class ReliabilityModel:
    """Binary classifier for P(reliable); ``y`` is 1 for reliable, 0 for unreliable.

    ``C``: inverse L2 regularisation (default 0.5). ``cv``: folds for the out-of-fold calibration
    (default 5). ``random_state``: seed of the fold split. ``signs``: per feature, -1 / +1 to hold its
    weight's sign, 0 to leave it free (``training.features.FEATURE_DIRECTIONS``); None: all free.
    ``log_scaled``: per feature, True to read it as ``log1p(x)`` (``training.features.FEATURE_LOG_SCALED``);
    the reference and the training range are then in that scale too.
    """

    def __init__(
        self,
        *,
        C: float = 0.5,
        cv: int = 5,
        random_state: int = 0,
        signs: Sequence[int] | None = None,
        log_scaled: Sequence[bool] | None = None,
    ) -> None:
        self.C = C
        self.cv = cv
        self.random_state = random_state
        self.signs = signs
        self.log_scaled = log_scaled

    def _transform(self, X: np.ndarray) -> np.ndarray:
        """The features marked ``log_scaled`` read as ``log1p(x)`` (x >= 0): the tenth exclamation mark
        per 1,000 words says less than the first. Monotone, per feature: contributions stay exact."""
        mask = getattr(self, "log_scaled", None)  # models pickled before this option have none
        if mask is None or not any(mask):
            return X
        cols = np.asarray(mask, dtype=bool)
        out = np.array(X, dtype=np.float64, copy=True)
        with np.errstate(invalid="ignore"):
            out[:, cols] = np.log1p(np.maximum(out[:, cols], 0.0))  # NaN stays NaN
        return out

    def _pipeline(self) -> Pipeline:
        return Pipeline(
            [
                ("impute", SimpleImputer(strategy="mean", keep_empty_features=True)),
                ("scale", StandardScaler()),
                ("clf", SignedLogisticRegression(C=self.C, signs=self.signs)),
            ]
        )

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        groups: Sequence[str] | np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> ReliabilityModel:
        X = np.asarray(X, dtype=np.float64)
        if self.log_scaled is not None and len(self.log_scaled) != X.shape[1]:
            raise ValueError(f"log_scaled has {len(self.log_scaled)} entries for {X.shape[1]} features")
        X = self._transform(X)
        y = np.asarray(y, dtype=int)
        groups_arr = np.asarray(groups if groups is not None else np.arange(len(y)))
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        # Reference point: the mean of the reliable training documents. "Not applicable" (NaN) values
        # are filled with it, and contributions are measured from it, so a typical reliable article
        # has contributions near zero and a reason says how far this text is from one.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanmean(np.where(np.isfinite(X[y == 1]), X[y == 1], np.nan), axis=0)
        self.reference_raw_ = np.where(np.isnan(ref), 0.0, ref)
        X = self._fill(X)
        oof = np.zeros(len(y))
        splitter = StratifiedGroupKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        for train_idx, test_idx in splitter.split(X, y, groups_arr):
            pipe = self._pipeline().fit(X[train_idx], y[train_idx], clf__sample_weight=sw[train_idx])
            # As at scoring time: held-out rows are clipped to the range their model was trained on, or
            # one group outside the others' range would blow up the decision values and the calibration.
            lo, hi = self._range(X[train_idx])
            oof[test_idx] = pipe.decision_function(self._clip_to(X[test_idx], lo, hi))
        targets = _separation_targets(oof, y, sw)
        if targets is None:
            calib = LogisticRegression(C=1e4, max_iter=1000).fit(oof.reshape(-1, 1), y, sample_weight=sw)
        else:
            # The out-of-fold decisions separate the labels perfectly (tiny or too easy data): the
            # calibration's maximum-likelihood slope is infinite, and the nearly unregularised fit
            # returns a huge one (slope 34, base 62 log-odds, every text ~100 on 24 documents). Platt's
            # own remedy: fit to the smoothed targets (N+ + 1)/(N+ + 2) and 1/(N- + 2) instead of 1 and
            # 0, as soft labels (each row twice, weighted t and 1 - t). Never reached by data whose
            # labels overlap out of fold, so such a model is fitted exactly as before.
            t = np.where(y == 1, targets[0], targets[1])
            calib = LogisticRegression(C=1e4, max_iter=1000).fit(
                np.r_[oof, oof].reshape(-1, 1), np.r_[np.ones(len(y)), np.zeros(len(y))],
                sample_weight=np.r_[sw * t, sw * (1.0 - t)],
            )
            self.calibration_targets_ = targets  # set only here: other fits pickle as before
        self.calibration_slope_ = float(calib.coef_[0, 0])
        self.calibration_intercept_ = float(calib.intercept_[0])
        self.oof_decision_ = oof
        self.pipeline_ = self._pipeline().fit(X, y, clf__sample_weight=sw)
        self.feature_min_, self.feature_max_ = self._range(X)
        self.reference_z_ = self._scaled(self.reference_raw_.reshape(1, -1))[0]
        self.feature_names_in_ = np.array(
            feature_names if feature_names is not None else [f"x{i}" for i in range(X.shape[1])], dtype=object
        )
        return self

    def _check(self) -> None:
        if not hasattr(self, "pipeline_"):
            raise NotFittedError("ReliabilityModel is not fitted; call fit() or load a trained model")

    def get_feature_names_out(self) -> np.ndarray:
        self._check()
        return self.feature_names_in_.copy()

    def _fill(self, X: np.ndarray) -> np.ndarray:
        """NaN ("not applicable") → the reliable reference value: it then contributes nothing."""
        return np.where(np.isnan(X), self.reference_raw_, X)

    @staticmethod
    def _range(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature min and max over the finite values (NaN where a column has none)."""
        finite = np.where(np.isfinite(X), X, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: its range stays NaN
            return np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)

    @staticmethod
    def _clip_to(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Clip to a range; a column with no range (all NaN in training) is left as it is."""
        lo = np.where(np.isnan(lo), -np.inf, lo)
        hi = np.where(np.isnan(hi), np.inf, hi)
        return np.clip(X, lo, hi)

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        # Values beyond anything seen in training say no more than the extreme seen: clip them, so one
        # unusual count cannot swamp the score. Contributions are computed on the clipped values.
        X = self._clip_to(self._fill(self._transform(X)), self.feature_min_, self.feature_max_)
        # The pipeline's imputer and scaler, applied with plain numpy (the same arithmetic as their
        # transform(), without scikit-learn's per-call input checks, which cost more than the maths).
        impute, scale = self.pipeline_.named_steps["impute"], self.pipeline_.named_steps["scale"]
        X = np.where(np.isnan(X), impute.statistics_, X)
        return np.asarray((X - scale.mean_) / scale.scale_)

    def contributions(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        """``(base, C)``: calibrated log-odds of reliable = base + C[row].sum().

        ``base`` is the log-odds of the reference (the mean reliable training document); ``C`` says how
        much each feature moves this text away from it.
        """
        self._check()
        z = self._scaled(X)
        clf = self.pipeline_.named_steps["clf"]
        w = clf.coef_[0]
        a, b = self.calibration_slope_, self.calibration_intercept_
        base = a * (float(clf.intercept_[0]) + float(w @ self.reference_z_)) + b
        return base, a * w * (z - self.reference_z_)

    def logit(self, X: np.ndarray) -> np.ndarray:
        base, contrib = self.contributions(X)
        return base + contrib.sum(axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(reliable) per row (one column: the positive class only)."""
        return np.asarray(expit(self.logit(X)))

    def calibrate_decision(self, decision: np.ndarray) -> np.ndarray:
        """Map raw decision values (e.g. the out-of-fold ones) through the fitted calibration."""
        self._check()
        return np.asarray(expit(self.calibration_slope_ * np.asarray(decision) + self.calibration_intercept_))
