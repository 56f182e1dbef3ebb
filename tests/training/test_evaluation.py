from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from training.corrupt import Example
from training.evaluation import (
    _auc_resampled,
    base_overlap,
    evaluate,
    gate,
    gate_against_reference,
    metrics_json,
    paired_bootstrap,
    write_report,
)

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


def test_gate_against_reference_figures():
    """When the base was trained on every document, its own cross-validated figures stand in for it: the same
    quality passes, scores shuffled against the labels are refused."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 600)
    p = _scores(rng, y, 1.0)
    reference = {"roc_auc": round(roc_auc_score(y, p), 4), "brier": round(brier_score_loss(y, p), 4)}
    same = gate_against_reference(reference, y=y, p_new=p, n_boot=300)
    assert same["passed"] is True and same["reason"].startswith("Passed")
    assert same["auc"]["base"] == reference["roc_auc"] and same["auc"]["ci"][0] < 0 < same["auc"]["ci"][1]
    assert "own cross-validated figures on the same 600 documents" in same["reason"]
    shuffled = gate_against_reference(reference, y=y, p_new=rng.permutation(p), n_boot=300)
    assert shuffled["passed"] is False and shuffled["auc"]["worse"] and shuffled["brier"]["worse"]
    assert shuffled["reason"].startswith("Refused")
    again = gate_against_reference(reference, y=y, p_new=p, n_boot=300)
    assert json.dumps(again, sort_keys=True) == json.dumps(same, sort_keys=True)


def _user(text, i, source):
    return Example(id=f"u{i}", text=text, label="reliable", tags=[], origin="mine.jsonl", source_id=f"u{i}",
                   extra={"source": str(source)})


def test_base_overlap_tells_which_documents_the_base_was_trained_on(tmp_path):
    from training.dataset import FIXTURES_DIR, fixture_hash, read_jsonl
    from training.labels import read_labeled

    builtin_text = read_jsonl(FIXTURES_DIR / "reliable_a.jsonl")[0].text
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"id": "o1", "text": "An article the base saw.\nIt had two lines.",
                               "label": "reliable"}) + "\n", encoding="utf-8")
    old_digest = read_labeled([old]).sources[str(old)]
    mine = tmp_path / "mine.jsonl"
    examples = [
        Example(id="b1", text="a generated variant", label="unreliable", tags=[], origin="generated:spun",
                source_id="rel-a-001"),
        _user(builtin_text, 1, mine),  # a user's copy of a built-in article
        _user("An  article the BASE saw.\nIt had two lines.", 2, mine),  # the same text, spaced and cased otherwise
        _user("A new article nobody has seen.", 3, mine),
    ]
    builtin = [True, False, False, False]
    now = fixture_hash(sorted(FIXTURES_DIR.glob("*.jsonl")))
    manifest = {"fixtures": {"builtin": now, str(old): old_digest}}
    run = {"builtin": now, str(mine): "m"}
    got = base_overlap(manifest, examples, builtin=builtin, run_sources=run, builtin_hash=now)
    assert got.seen == [True, True, True, False]
    assert got.seen_by == {"the built-in fixtures": 2, str(old): 1}
    assert not got.same_data and not got.unknown  # old.jsonl is not among this run's sources
    assert any("old.jsonl, which is not among these fixtures" in n for n in got.notes)

    # The same sources, unchanged: the base's figures were measured on the documents marked seen.
    same = base_overlap(manifest, examples, builtin=builtin, run_sources={"builtin": now, str(old): old_digest},
                        builtin_hash=now)
    assert same.same_data
    # Another version of the fixtures, and a source that is gone: counted as seen / as unknown, and said.
    gone = base_overlap({"fixtures": {"builtin": "0" * 64, "tests": "tiny-subset"}}, examples, builtin=builtin,
                        run_sources=run, builtin_hash=now)
    assert gone.seen == [True, True, False, False] and gone.unknown == ["tests"] and not gone.same_data
    assert any("another version of the built-in fixtures" in n for n in gone.notes)
    assert any("tests, which cannot be read" in n for n in gone.notes)
    nothing = base_overlap({}, examples, builtin=builtin, run_sources=run, builtin_hash=now)
    assert nothing.seen == [False] * 4 and nothing.unknown


def test_report_with_the_training_gates_checks(tmp_path):
    m, y, p = _report_metrics()
    m = {**m, "warnings": ["only 3 reliable document(s) <few>"]}
    g = gate_against_reference({"roc_auc": 0.9, "brier": 0.1}, y=y, p_new=p, n_boot=100)
    verdict = {"passed": g["passed"], "judged": True, "notes": ["of the N documents, ..."], "reason": "why",
               "checks": [{"kind": "base_cv", "title": "Against its own figures", **g}]}
    path = tmp_path / "r.html"
    write_report(path, m, title="t", comparison={"gate": verdict, "sides": [{"base": {"roc_auc": 0.9}, "new": m}]})
    page = path.read_text()
    assert "Warnings" in page and "only 3 reliable document(s) &lt;few&gt;" in page
    assert "<h3>Against its own figures</h3>" in page and "taken as fixed" in page and "of the N documents" in page
    unjudged = {"passed": None, "judged": False, "notes": [], "reason": "Not judged: no fair comparison", "checks": []}
    write_report(path, m, title="t", comparison={"gate": unjudged})
    page = path.read_text()
    assert "Gate: not judged." in page and "Gate: refused" not in page


def test_base_overlap_finds_fixture_files_added_since_the_base_was_trained():
    """A base trained before a fixture file was added never saw that file's articles (nor their variants): it
    is judged on them; the other built-in documents are the ones its figures were measured on."""
    from training.dataset import FIXTURES_DIR, RELIABLE_FILES, fixture_hash, read_jsonl

    newest = FIXTURES_DIR / RELIABLE_FILES[-1]
    files = sorted(FIXTURES_DIR.glob("*.jsonl"))
    before = fixture_hash([f for f in files if f != newest])
    now = fixture_hash(files)
    old_id, new_id = read_jsonl(FIXTURES_DIR / RELIABLE_FILES[0])[0].id, read_jsonl(newest)[0].id
    examples = [Example(id=f"{sid}-{k}", text=f"variant {k} of {sid}", label="unreliable", tags=[],
                        origin="generated:spun", source_id=sid) for sid in (old_id, new_id) for k in (1, 2)]
    got = base_overlap({"fixtures": {"builtin": before}}, examples, builtin=[True] * 4, run_sources={"builtin": now},
                       builtin_hash=now)
    assert got.seen == [True, True, False, False] and got.same_data
    assert any(f"before {newest.name} (added since)" in n for n in got.notes)
