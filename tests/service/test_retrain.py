"""Retraining as a user does it: labeled files → `thresher train` → a verified model → served after a reload;
the no-regression gate refuses a model fitted to shuffled labels unless --force."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from liveserver import start_server, stop_server
from resources import TINY_RELIABLE_SOURCES, TINY_UNRELIABLE_IDS

REPO = Path(__file__).resolve().parents[2]


def _thresher(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1800)


@pytest.fixture(scope="module")
def labeled(tmp_path_factory) -> dict[str, Path]:
    """A folder of labeled files (reliable/<tag>/..., unreliable/...) and a JSONL file: our own articles."""
    root = tmp_path_factory.mktemp("labels")
    fixtures = REPO / "training" / "fixtures"
    # None of the tiny base model's own training articles: the gate compares both models on documents
    # neither was trained on (the base's in-sample scores would flatter it).
    rel = [json.loads(x) for f in sorted(fixtures.glob("reliable_*.jsonl")) for x in f.read_text().splitlines() if x]
    rel = [r for r in rel if r["id"] not in TINY_RELIABLE_SOURCES]
    unrel = [json.loads(x) for x in (fixtures / "unreliable_written.jsonl").read_text().splitlines() if x]
    unrel = [r for r in unrel if r["id"] not in TINY_UNRELIABLE_IDS]
    folder = root / "mine"
    for r in rel[:24]:
        (folder / "reliable" / "world").mkdir(parents=True, exist_ok=True)
        (folder / "reliable" / "world" / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    for r in unrel[:14]:
        (folder / "unreliable").mkdir(parents=True, exist_ok=True)
        (folder / "unreliable" / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    jsonl = root / "more.jsonl"
    with jsonl.open("w", encoding="utf-8") as fh:
        for r in rel[24:36] + unrel[14:24]:
            fh.write(json.dumps({"id": r["id"], "text": r["text"], "label": r["label"], "tags": ["extra"]}) + "\n")
        fh.write("{not json\n")
    return {"folder": folder, "jsonl": jsonl, "root": root}


def test_retrain_serve_and_gate(labeled, tmp_path, tiny_model_dir, admin_token):
    from service.model import load_model

    work = tmp_path
    mine = work / "models" / "mine"
    proc = _thresher("train", "--no-builtin", "--fixtures", str(labeled["folder"]), "--fixtures",
                     str(labeled["jsonl"]), "--cv", "3", "--out", str(mine), "--base", str(tiny_model_dir), cwd=work)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "skipped 1" in proc.stderr and "not valid JSON" in proc.stderr  # the broken row is listed
    assert "gate against tiny" in proc.stderr and "Passed" in proc.stderr
    # the tiny model's manifest names a source that is not a readable file: said, and every document is compared
    assert "On the 60 documents the base model was not trained on" in proc.stderr
    assert "the base was also trained on tests, which cannot be read" in proc.stderr
    model = load_model(mine)
    assert set(model.manifest["fixtures"]) == {str(labeled["folder"]), str(labeled["jsonl"])}
    assert model.manifest["metrics"]["documents"] == 24 + 14 + 22
    report = (mine / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in report and "Refused" not in report
    evaluation = json.loads((mine / "evaluation.json").read_text())
    assert evaluation["gate"]["passed"] is True and evaluation["worst"]

    # The service swaps to the retrained model on reload, without a restart.
    serving = work / "serving"
    shutil.copytree(tiny_model_dir, serving)
    server = start_server(work, env={"THRESHER_MODEL_DIR": str(serving), "THRESHER_ADMIN_TOKEN": admin_token})
    try:
        with server.client() as c:
            assert c.get("/v1/model").json()["name"] == "tiny"
            shutil.rmtree(serving)
            shutil.copytree(mine, serving)
            resp = c.post("/v1/model/reload", headers={"authorization": f"Bearer {admin_token}"})
            assert resp.status_code == 200, resp.text
            info = c.get("/v1/model").json()
            assert (info["name"], info["version"]) == ("mine", model.version)
    finally:
        stop_server(server)

    # The gate: a model fitted to shuffled labels is refused against `mine`, and nothing is written ...
    shuffled = work / "models" / "shuffled"
    # (Reusing mine's line model: the gate judges the classifier, and no line-model fits keeps this quick.)
    args = ["train", "--no-builtin", "--fixtures", str(labeled["folder"]), "--fixtures", str(labeled["jsonl"]),
            "--cv", "3", "--out", str(shuffled), "--base", str(mine), "--shuffle-labels",
            "--line-model-from", str(mine)]
    refused = _thresher(*args, cwd=work)
    assert refused.returncode == 3, refused.stderr[-4000:]
    assert "Refused" in refused.stderr and "--force" in refused.stderr
    # mine was trained on these very documents: its scores on them would be in-sample, so the new model is
    # judged against mine's own cross-validated figures on them (its manifest)
    assert "against its own cross-validated figures" in refused.stderr
    assert "of the 60 documents, 60 were in the base model's training data" in refused.stderr
    assert not shuffled.exists()
    # The refused model's report is written beside, so the refusal can be read without training again.
    side = work / "models" / "shuffled.refused"
    assert f"{side / 'report.html'}" in refused.stderr
    assert sorted(p.name for p in side.iterdir()) == ["evaluation.json", "metrics.json", "report.html"]
    refusal = json.loads((side / "evaluation.json").read_text())["gate"]
    assert refusal["passed"] is False and refusal["judged"] is True and refusal["checks"][0]["kind"] == "base_cv"
    assert "Gate: refused" in (side / "report.html").read_text(encoding="utf-8")
    # ... unless --force, which writes it, with the refusal in its report.
    forced = _thresher(*args, "--force", cwd=work)
    assert forced.returncode == 0, forced.stderr[-4000:]
    load_model(shuffled)
    assert json.loads((shuffled / "evaluation.json").read_text())["gate"]["passed"] is False

    # And `thresher eval` gives the same kind of report for an existing model on other labels.
    ev = _thresher("eval", "--fixtures", str(labeled["jsonl"]), "--model", str(mine), "--out", str(work / "ev"),
                   cwd=work)
    assert ev.returncode == 0, ev.stderr[-3000:]
    metrics = json.loads((work / "ev" / "metrics.json").read_text())
    assert metrics["documents"] == 22 and metrics["model"]["version"] == model.version


def test_same_fixtures_and_seed_give_byte_identical_reports_and_scores(labeled, tmp_path, tiny_model_dir):
    """Two `thresher train` runs on the same labels and seed (one on two processes, one on one): the same
    metrics.json and evaluation.json bytes, the same version, the same scores."""
    from service.model import load_model
    from service.scoring import score_text

    outs = []
    for workers in ("2", "1"):
        out = tmp_path / f"w{workers}"
        proc = _thresher("train", "--no-builtin", "--fixtures", str(labeled["folder"]), "--fixtures",
                         str(labeled["jsonl"]), "--cv", "3", "--seed", "7", "--line-model-from", str(tiny_model_dir),
                         "--workers", workers, "--out", str(out), "--name", "twin", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert f"featurised ({workers} process" in proc.stderr, proc.stderr[-2000:]  # 2 really forked
        outs.append(out)
    a, b = outs
    for name in ("metrics.json", "evaluation.json", "model.joblib", "lexicon.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = load_model(a), load_model(b)
    assert ma.version == mb.version
    assert json.loads((a / "metrics.json").read_text())["line_model"]["fitted"] is False
    texts = [p.read_text(encoding="utf-8") for p in sorted((labeled["folder"] / "unreliable").glob("*.txt"))[:5]]
    assert [score_text(t, model=ma)["score"] for t in texts] == [score_text(t, model=mb)["score"] for t in texts]


def test_gate_does_not_judge_on_documents_the_base_was_trained_on(labeled, tmp_path, tiny_model_dir):
    """A base trained on these documents and more: its scores on them are in-sample and its own figures were
    measured on other documents, so no fair comparison is possible. Said, and the model is not refused."""
    base = tmp_path / "base"
    args = ["--no-builtin", "--cv", "3", "--line-model-from", str(tiny_model_dir), "--workers", "1"]
    first = _thresher("train", "--fixtures", str(labeled["folder"]), "--fixtures", str(labeled["jsonl"]), *args,
                      "--out", str(base), cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-4000:]
    out = tmp_path / "subset"
    proc = _thresher("train", "--fixtures", str(labeled["folder"]), *args, "--base", str(base), "--out", str(out),
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Not judged: no fair comparison is possible, so the model is not refused" in proc.stderr
    assert f"of the 38 documents, 38 were in the base model's training data ({labeled['folder']}: 38)" in proc.stderr
    gate = json.loads((out / "evaluation.json").read_text())["gate"]
    assert gate["passed"] is None and gate["judged"] is False and gate["checks"] == []
    assert "Gate: not judged." in (out / "report.html").read_text(encoding="utf-8")


def test_quick_retrain_on_tiny_separable_data_warns_and_keeps_scores_bounded(tmp_path, tiny_model_dir):
    """24 documents whose labels are easy to tell apart: the model says loudly that its perfect figures rest
    on too little, its calibration stays bounded (no text scores 0 or 100), and --names-from keeps the base's
    entity lexicon."""
    from resources import CLEAN, SCRAPED, SPAM, SPUN

    from service.model import load_model
    from service.scoring import score_text

    fixtures = REPO / "training" / "fixtures"
    rel = [json.loads(x) for x in (fixtures / "reliable_a.jsonl").read_text().splitlines() if x][-12:]
    unrel = [json.loads(x) for x in (fixtures / "unreliable_written.jsonl").read_text().splitlines() if x]
    unrel = [r for r in unrel if set(r["tags"]) & {"spam", "scraped", "boilerplate"}][-12:]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "label": r["label"]}) + "\n"
                              for r in rel + unrel), encoding="utf-8")
    out = tmp_path / "small"
    proc = _thresher("train", "--no-builtin", "--fixtures", str(labels), "--cv", "3", "--line-model-from",
                     str(tiny_model_dir), "--names-from", str(tiny_model_dir), "--workers", "1", "--out", str(out),
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WARNING: only 12 reliable document(s)" in proc.stderr
    assert "WARNING: the out-of-fold scores separate the two labels perfectly" in proc.stderr
    assert "3 WARNING(S)" in proc.stdout and "--names-from" not in proc.stderr  # no lexicon note: it was given
    model = load_model(out)
    assert len(model.manifest["metrics"]["warnings"]) == 3
    assert json.loads((out / "metrics.json").read_text())["warnings"] == model.manifest["metrics"]["warnings"]
    assert "<h2 class=fail>Warnings</h2>" in (out / "report.html").read_text(encoding="utf-8")
    tiny_names = set(json.loads((tiny_model_dir / "lexicon.json").read_text())["names"])
    assert tiny_names <= set(model.resources.lexicon.names)
    assert f"entity lexicon {len(model.resources.lexicon.names)} names, {len(tiny_names)} of them from" in proc.stdout
    scored = {name: score_text(text, model=model) for name, text in
              (("clean", CLEAN), ("scraped", SCRAPED), ("spun", SPUN), ("spam", SPAM))}
    for r in scored.values():  # unguarded: base ~50 log-odds, reasons of ±20, every text ~100
        assert abs(r["explanation"]["base"]) < 6 and all(abs(x["contribution"]) < 5 for x in r["reasons"]), r
        assert r["score"] < 99.5
    assert scored["clean"]["score"] > 50 > scored["scraped"]["score"] > scored["spam"]["score"]

    # Without --names-from, the quick retrain says what the lexicon then knows.
    bare = _thresher("train", "--no-builtin", "--fixtures", str(labels), "--cv", "3", "--line-model-from",
                     str(tiny_model_dir), "--workers", "1", "--out", str(tmp_path / "bare"), cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr[-4000:]
    assert "note: with --no-builtin the entity lexicon knows only the names in your reliable documents" in bare.stderr
    # ... and it does know them: a user's documents (origin: their file's name) feed it, as written fixtures do
    learned = json.loads((tmp_path / "bare" / "lexicon.json").read_text())["names"]
    assert learned and f"entity lexicon {len(learned)} names" in bare.stdout


def _quick_labels(tmp_path: Path) -> Path:
    fixtures = REPO / "training" / "fixtures"
    rel = [json.loads(x) for x in (fixtures / "reliable_a.jsonl").read_text().splitlines() if x][-12:]
    unrel = [json.loads(x) for x in (fixtures / "unreliable_written.jsonl").read_text().splitlines() if x][-12:]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "label": r["label"]}) + "\n"
                              for r in rel + unrel), encoding="utf-8")
    return labels


def test_a_model_folder_survives_a_stopped_retrain_and_an_evaluation_pointed_at_it(tmp_path, tiny_model_dir):
    """Retraining into an existing folder wrote the new files over the old ones one by one: a SIGTERM in
    between left a model that no longer loaded. `eval --out` the model's folder replaced its metrics.json,
    with the same result. Now the old model stays whole and loads; eval refuses the folder; bad --out
    paths are refused before any work; the manifest records how the model was trained."""
    import signal
    import time

    from service.model import load_model

    labels = _quick_labels(tmp_path)
    quick = ["--no-builtin", "--line-model-from", str(tiny_model_dir), "--names-from", str(tiny_model_dir),
             "--cv", "3", "--workers", "1"]
    out = tmp_path / "models" / "mine"
    first = _thresher("train", "--fixtures", str(labels), *quick, "--out", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    (out / "NOTES.txt").write_text("trained for the harbour desk\n", encoding="utf-8")
    before = load_model(out).version
    training = load_model(out).manifest["training"]
    assert training == {"seed": 0, "cv": 3, "builtin": False, "shuffle_labels": False, "extra_names": 0,
                        "line_model_from": f"{load_model(tiny_model_dir).name} {load_model(tiny_model_dir).version}",
                        "names_from": f"{load_model(tiny_model_dir).name} {load_model(tiny_model_dir).version}"}

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for sig in (signal.SIGTERM, signal.SIGINT):  # stopped while it trains (once it has read the labels)
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "train", "--fixtures", str(labels), *quick,
                                 "--seed", "7", "--out", str(out)], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        said = []
        for line in proc.stderr:  # the labels are read before the training starts
            said.append(line)
            if line.startswith("labeled examples"):
                break
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        err = "".join(said) + err
        assert proc.returncode == 130, err[-3000:]
        assert "interrupted: nothing was written" in err and "Traceback" not in err, err[-3000:]
        assert load_model(out).version == before  # the model that was there, whole
        assert (out / "NOTES.txt").read_text(encoding="utf-8") == "trained for the harbour desk\n"
    time.sleep(1.5)  # the pool's workers leave within a second of their parent
    assert not [p.name for p in out.parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    # a training run to its end replaces the model, and keeps the folder's other files
    done = _thresher("train", "--fixtures", str(labels), *quick, "--seed", "7", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0 and load_model(out).version != before, done.stderr[-2000:]
    assert (out / "NOTES.txt").read_text(encoding="utf-8") == "trained for the harbour desk\n"

    proc = _thresher("eval", "--fixtures", str(labels), "--model", str(out), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2 and "is a model folder" in proc.stderr, proc.stderr[-2000:]
    load_model(out)
    # evaluating a model on its own training documents is allowed, but said to flatter it
    proc = _thresher("eval", "--fixtures", str(labels), "--model", str(out), "--out", str(tmp_path / "ev"),
                     cwd=tmp_path)
    assert proc.returncode == 0 and "WARNING: 24 of the 24 documents were in" in proc.stderr, proc.stderr[-2000:]
    assert "in-sample" in json.loads((tmp_path / "ev" / "metrics.json").read_text())["warnings"][0]
    # the same bytes under another name are the same documents (matched by content, not by path)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(labels.read_bytes())
    proc = _thresher("eval", "--fixtures", str(copy), "--model", str(out), "--out", str(tmp_path / "ev2"),
                     cwd=tmp_path)
    assert proc.returncode == 0 and "WARNING: 24 of the 24 documents were in" in proc.stderr, proc.stderr[-2000:]
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    folder = tmp_path / "labeled"
    (folder / "reliable").mkdir(parents=True)
    for args, said in (
        (["--out", str(tmp_path / "afile" / "sub")], "is a file, not a folder"),
        (["--fixtures", str(folder), "--out", str(folder / "reliable" / "m")], "is inside the labeled folder"),
    ):
        proc = _thresher("train", "--fixtures", str(labels), *quick, *args, cwd=tmp_path)
        assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert "labeled examples" not in proc.stderr  # refused before any work: nothing was read

    # shuffled labels train (a control) but the model says what it is
    proc = _thresher("train", "--fixtures", str(labels), *quick, "--shuffle-labels", "--out",
                     str(tmp_path / "models" / "shuffled"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WARNING: the classifier was fitted to shuffled labels" in proc.stderr
    # `models list` in a folder with ./models lists the models trained there
    listed = _thresher("models", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "mine" in listed.stdout and "shuffled" in listed.stdout, listed.stderr
