from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from training.corrupt import Example
from training.evaluation import _auc_resampled, evaluate, gate, metrics_json, paired_bootstrap, write_report

THRESHOLDS = {"reliable": 70.0, "suspect": 40.0}


def _examples(y, tags=None, ids=None):
    out = []
    for i, yi in enumerate(y):
        out.append(
            Example(
                id=ids[i] if ids else f"doc-{i:04d}",
                text="text",
                label="reliable" if yi else "unreliable",
                tags=list(tags[i]) if tags else [],
                origin="written",
                source_id=f"doc-{i:04d}",
            )
        )
    return out


def _reasons(n):
    return [
        [
            {"code": "length", "contribution": 0.05 * (i % 3), "message": "words."},
            {"code": "spam_signals", "contribution": -1.5, "message": "promo <b>now</b>!", "evidence": []},
            {"code": "links", "contribution": 0.7, "message": "URLs."},
            {"code": "repetition", "contribution": -0.2, "message": "repeats."},
        ]
        for i in range(n)
    ]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _separated(n_each=50):
    y = np.array([1] * n_each + [0] * n_each)
    rng = np.random.default_rng(0)
    p = np.where(y == 1, 0.9, 0.1) + rng.uniform(-0.05, 0.05, size=len(y))
    tags = [["scraped"] if i % 2 else ["spun"] for i in range(len(y))]
    tags[0] = ["rare", "spun"]
    tags[1] = ["rare", "scraped"]
    return y, p, tags


def test_well_separated_scores_give_perfect_metrics():
    y, p, tags = _separated()
    contrib = np.zeros((len(y), 12))
    contrib[:, 3] = np.where(y == 1, 0.5, -2.0)  # the feature that decides
    contrib[:, 5] = 0.1
    names = [f"f{j:02d}" for j in range(12)]
    m = evaluate(y, p, _examples(y, tags), thresholds=THRESHOLDS, feature_names=names, contributions=contrib,
                 reasons=_reasons(len(y)))
    assert m["documents"] == 100 and m["reliable"] == 50 and m["unreliable"] == 50
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0
    assert m["accuracy_at_50"] == 1.0 and m["verdict_accuracy"] == 1.0
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-4)
    v = m["verdicts"]
    assert v["suspect_share"] == {"reliable": 0.0, "unreliable": 0.0}
    assert v["by_label"]["reliable"]["reliable"] == 1.0 and v["by_label"]["unreliable"]["unreliable"] == 1.0
    # tags: "rare" has only 2 documents, so it is not reported
    assert set(m["recall_by_tag"]) == {"scraped", "spun"}
    assert m["recall_by_tag"]["spun"] == 1.0
    assert m["tags"]["spun"]["documents"] == 50
    # calibration: 10 bins that count every document; histogram per label of 20 bins
    bins = m["calibration"]["bins"]
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 100
    assert bins[9]["observed_rate"] == 1.0 and bins[0]["observed_rate"] == 0.0 and bins[5]["count"] == 0
    assert bins[5]["mean_predicted"] is None
    h = m["histogram"]
    assert h["edges"] == list(range(0, 101, 5))
    assert len(h["reliable"]) == 20 and sum(h["reliable"]) == 50 and sum(h["unreliable"]) == 50
    assert sum(h["reliable"][17:]) == 50  # reliable ones score 85-95
    # features: top 10 by mean |contribution|, with the signed mean per label
    feats = m["influential_features"]
    assert len(feats) == 10
    assert feats[0] == {"feature": "f03", "mean_abs": 1.25, "mean_reliable": 0.5, "mean_unreliable": -2.0}
    assert feats[1]["feature"] == "f05"
    # worst: 20, largest |label - p| first, each with its top 3 reasons by |contribution|
    worst = m["worst"]
    assert len(worst) == 20
    errs = [abs((1 if w["label"] == "reliable" else 0) - w["score"] / 100) for w in worst]
    assert errs == sorted(errs, reverse=True)
    assert [r["code"] for r in worst[0]["reasons"]] == ["spam_signals", "links", "repetition"]
    assert set(worst[0]["reasons"][0]) == {"code", "contribution", "message"}
    assert m["notes"] == []


def test_random_scores_are_near_chance():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    p = rng.uniform(size=2000)
    w = rng.uniform(0.5, 2.0, size=2000)
    m = evaluate(y, p, _examples(y), thresholds=THRESHOLDS, weights=w)
    assert 0.45 < m["roc_auc"] < 0.55
    assert 0.4 < m["accuracy_at_50"] < 0.6
    assert m["roc_auc"] == round(roc_auc_score(y, p, sample_weight=w), 4)
    assert m["pr_auc"] == round(average_precision_score(y, p, sample_weight=w), 4)
    assert m["brier"] == round(brier_score_loss(y, p, sample_weight=w), 4)
    # about 30% of each label sits in the suspect band (scores 40-70)
    for share in m["verdicts"]["suspect_share"].values():
        assert 0.25 < share < 0.35
    assert any("weighted" in note for note in m["notes"])
    assert "influential_features" not in m and "reasons" not in m["worst"][0]


def test_one_class_input_has_undefined_auc_and_does_not_crash(tmp_path):
    y = np.ones(10, dtype=int)
    p = np.linspace(0.2, 0.9, 10)
    m = evaluate(y, p, _examples(y, [["scraped"]] * 10), thresholds=THRESHOLDS)
    assert m["roc_auc"] is None and m["pr_auc"] is None
    assert any("undefined" in note for note in m["notes"])
    assert m["unreliable"] == 0 and m["verdicts"]["by_label"]["unreliable"]["suspect"] is None
    assert m["brier"] is not None and m["histogram"]["unreliable"] == [0] * 20
    json.loads(metrics_json(m))  # plain JSON, no NaN
    write_report(tmp_path / "r.html", m, title="one class")
    assert "n/a" in (tmp_path / "r.html").read_text()
    g = gate(m, m, y=y, p_new=p, p_base=p, n_boot=50)
    assert g["passed"] and g["auc"]["ci"] is None and "Brier alone" in g["reason"]


def test_inputs_are_checked():
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="p has"):
        evaluate(y, np.array([0.1, 0.2]), _examples(y), thresholds=THRESHOLDS)
    with pytest.raises(ValueError, match="examples"):
        evaluate(y, np.array([0.1, 0.2, 0.3]), _examples(y[:2]), thresholds=THRESHOLDS)
    with pytest.raises(ValueError, match="probabilities"):
        evaluate(y, np.array([0.1, 0.2, 1.3]), _examples(y), thresholds=THRESHOLDS)
    with pytest.raises(ValueError, match="no examples"):
        evaluate(np.array([]), np.array([]), [], thresholds=THRESHOLDS)
    with pytest.raises(ValueError, match="same held-out documents"):
        gate({"documents": 4}, {"documents": 3}, y=y, p_new=np.array([0.1, 0.2, 0.3]), p_base=np.array([0.1, 0.2, 0.3]))


def test_json_is_byte_identical_for_identical_inputs():
    def run():
        rng = np.random.default_rng(11)
        y = rng.integers(0, 2, 300)
        p = _sigmoid(2 * (y - 0.5) + rng.normal(size=300))
        tags = [[["spun", "scraped", "dump"][i % 3]] for i in range(300)]
        contrib = rng.normal(size=(300, 15))
        return metrics_json(
            evaluate(y, p, _examples(y, tags), thresholds=THRESHOLDS, weights=np.ones(300), reasons=_reasons(300),
                     feature_names=[f"f{j}" for j in range(15)], contributions=contrib)
        )

    first, second = run(), run()
    assert first == second
    # keys sorted, floats rounded to at most 4 digits
    assert json.dumps(json.loads(first), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == first
    assert not re.search(r"\d\.\d{5,}", first)


def _report_metrics():
    y, p, tags = _separated(15)
    ids = [f"doc-{i}" for i in range(len(y))]
    worst = int(np.argmax(np.abs(y - p)))
    ids[worst] = "<script>alert('x')</script>"
    tags[worst] = ["<img src=x onerror=alert(1)>", "scraped"]
    contrib = np.column_stack([np.where(y == 1, 0.3, -1.0), np.full(len(y), 0.05)])
    return evaluate(y, p, _examples(y, tags, ids), thresholds=THRESHOLDS, reasons=_reasons(len(y)),
                    feature_names=["boilerplate_line_ratio", "length & <more>"], contributions=contrib), y, p


def _pngs(page):
    found = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    for data in found:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    return found


def test_report_is_self_contained_and_escaped(tmp_path):
    m, _, _ = _report_metrics()
    path = tmp_path / "report.html"
    write_report(path, m, title="Eval <of> model")
    page = path.read_text(encoding="utf-8")
    assert len(_pngs(page)) == 2  # calibration curve and score distribution
    assert page.count("<table>") >= 5
    for heading in ("Calibration", "Score distribution", "Recall per tag", "Most influential features",
                    "Worst-scored documents"):
        assert heading in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "length &amp; &lt;more&gt;" in page and "promo &lt;b&gt;now&lt;/b&gt;!" in page
    assert "<title>Eval &lt;of&gt; model</title>" in page
    assert "://" not in page and "<link" not in page  # nothing fetched from anywhere
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind


def test_report_with_comparison(tmp_path):
    m, y, p = _report_metrics()
    rng = np.random.default_rng(0)
    p_base = np.clip(p + rng.normal(0, 0.2, len(p)), 0, 1)
    base = evaluate(y, p_base, _examples(y), thresholds=THRESHOLDS)
    g = gate(m, base, y=y, p_new=p, p_base=p_base, n_boot=200)
    path = tmp_path / "cmp.html"
    path.write_text("old")
    write_report(path, m, title="compare", comparison={"base": base, "new": m, "gate": g})
    page = path.read_text()
    assert "Comparison with the base model" in page
    assert ("Gate: passed" in page) == g["passed"] and ("Gate: refused" in page) != g["passed"]
    assert "<th>base</th><th>new</th><th>new − base</th>" in page
    assert len(_pngs(page)) == 2


def _scores(rng, y, noise):
    return _sigmoid(3.0 * (y - 0.5) + rng.normal(0, noise, len(y)))


def test_vectorised_bootstrap_auc_matches_sklearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    p = np.round(_scores(rng, y, 1.5), 2)  # many ties
    idx = rng.integers(0, 400, size=(30, 400))
    expected = [roc_auc_score(y[i], p[i]) for i in idx]
    np.testing.assert_allclose(_auc_resampled(idx, y, p), expected, rtol=0, atol=1e-12)
    one_class = np.zeros((1, 400), dtype=np.int64) + int(np.flatnonzero(y == 1)[0])
    assert np.isnan(_auc_resampled(one_class, y, p)[0])
    boot = paired_bootstrap(y, p, p, n_boot=10)
    assert set(boot) == {"auc_new", "auc_base", "brier_new", "brier_base"} and len(boot["auc_new"]) == 10


def test_gate_passes_equal_models():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    p = _scores(rng, y, 1.0)
    g = gate({}, {}, y=y, p_new=p, p_base=p.copy())
    assert g["passed"] is True
    assert g["auc"]["delta"] == 0.0 and g["auc"]["ci"] == [0.0, 0.0]
    assert g["brier"]["delta"] == 0.0 and g["brier"]["ci"] == [0.0, 0.0]
    assert g["reason"].startswith("Passed")


def test_gate_refuses_scores_shuffled_against_the_labels():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 500)
    p_base = _scores(rng, y, 1.0)
    p_new = rng.permutation(p_base)
    g = gate({}, {}, y=y, p_new=p_new, p_base=p_base)
    assert g["passed"] is False
    assert g["auc"]["worse"] and g["auc"]["ci"][1] < 0 and g["brier"]["worse"]
    assert g["reason"].startswith("Refused") and "ROC AUC" in g["reason"]


def test_gate_passes_a_slightly_better_model():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 1000)
    latent = 3.0 * (y - 0.5) + rng.normal(0, 1.2, len(y))
    p_base = _sigmoid(latent + rng.normal(0, 0.6, len(y)))
    p_new = _sigmoid(latent + rng.normal(0, 0.5, len(y)))
    g = gate({}, {}, y=y, p_new=p_new, p_base=p_base)
    assert g["auc"]["delta"] > 0
    assert g["passed"] is True and not g["auc"]["worse"] and not g["brier"]["worse"]
    lo, hi = g["auc"]["ci"]
    assert lo < g["auc"]["delta"] < hi


def test_gate_is_deterministic_and_reports_its_time():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 2000)
    p_base = _scores(rng, y, 1.5)
    p_new = _scores(rng, y, 1.5)
    start = time.perf_counter()
    first = gate({}, {}, y=y, p_new=p_new, p_base=p_base, seed=0, n_boot=1000)
    elapsed = time.perf_counter() - start
    print(f"\ngate: 1000 paired bootstrap resamples of 2000 examples in {elapsed:.3f}s")
    second = gate({}, {}, y=y, p_new=p_new, p_base=p_base, seed=0, n_boot=1000)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    other = gate({}, {}, y=y, p_new=p_new, p_base=p_base, seed=1, n_boot=1000)
    assert other["auc"]["ci"] != first["auc"]["ci"]  # the seed is what fixes the resamples
    assert first["auc"]["new"] == round(roc_auc_score(y, p_new), 4)
    assert first["brier"]["base"] == round(brier_score_loss(y, p_base), 4)
