from __future__ import annotations

import hashlib
import json

import joblib
import pytest

from service.model import Model, ModelError, load_model
from training.classifier import ReliabilityModel
from training.features import FEATURE_NAMES
from training.linemodel import LineModel
from training.train import model_version


def _edit_manifest(path, **changes):
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.update(changes)
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def _flip_byte(path, offset=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_round_trip(tiny_training, tiny_model_dir):
    result, _ = tiny_training
    model = load_model(tiny_model_dir)
    assert isinstance(model, Model)
    assert isinstance(model.classifier, ReliabilityModel)
    assert isinstance(model.resources.line_model, LineModel)
    assert model.name == "tiny"
    assert len(model.version) == 12
    assert model.thresholds == {"reliable": 70.0, "suspect": 40.0}
    assert model.resources.lexicon.names == result.lexicon.names
    assert model.resources.lexicon.full_names == result.lexicon.full_names
    # the loaded classifier scores exactly as the trained one
    assert (model.classifier.logit(result.X) == result.classifier.logit(result.X)).all()
    lines = ["We use cookies to improve your experience.", "The council met on Monday to vote on the budget."]
    assert (model.resources.line_model.predict_proba(lines) == result.line_model.predict_proba(lines)).all()


def test_load_accepts_a_string_path_and_extra_names(tiny_model_dir):
    model = load_model(str(tiny_model_dir), extra_names=["Zebulon Quarterfield"])
    assert {"zebulon", "quarterfield"} <= model.resources.lexicon.names
    assert "quarterfield" in model.resources.lexicon.full_names["zebulon"]


@pytest.mark.parametrize("name", ["model.joblib", "lexicon.json", "metrics.json"])
def test_tampered_file_is_refused_naming_it(model_copy, name):
    _flip_byte(model_copy / name)
    with pytest.raises(ModelError, match=name.replace(".", r"\.")) as info:
        load_model(model_copy)
    assert "manifest" in str(info.value)


def test_missing_listed_file_is_refused(model_copy):
    (model_copy / "lexicon.json").unlink()
    with pytest.raises(ModelError, match=r"lexicon\.json"):
        load_model(model_copy)


def test_feature_names_differing_are_refused(model_copy):
    names = list(FEATURE_NAMES)
    _edit_manifest(model_copy, feature_names=names[:-1] + ["some_new_feature"])
    with pytest.raises(ModelError, match="features") as info:
        load_model(model_copy)
    assert "some_new_feature" in str(info.value) and names[-1] in str(info.value)


def test_feature_order_differing_is_refused(model_copy):
    names = list(FEATURE_NAMES)
    names[0], names[1] = names[1], names[0]
    _edit_manifest(model_copy, feature_names=names)
    with pytest.raises(ModelError, match="order"):
        load_model(model_copy)


def test_line_classes_differing_are_refused(model_copy):
    _edit_manifest(model_copy, line_classes=["content", "cookie"])
    with pytest.raises(ModelError, match="line classes"):
        load_model(model_copy)


def test_other_major_library_version_is_refused(model_copy):
    manifest = json.loads((model_copy / "manifest.json").read_text())
    _edit_manifest(model_copy, libraries={**manifest["libraries"], "numpy": "0.1.0"})
    with pytest.raises(ModelError, match="numpy"):
        load_model(model_copy)


def test_unreadable_manifest_is_refused(model_copy):
    (model_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        load_model(model_copy)


@pytest.mark.parametrize("content", [b"[]", b"null", b"3", b'"manifest"', b"\xff\xfe{\x00", b"{\"files\": \xe9}"])
def test_a_manifest_that_is_no_json_object_is_refused(model_copy, content):
    (model_copy / "manifest.json").write_bytes(content)
    with pytest.raises(ModelError, match="manifest"):
        load_model(model_copy)


@pytest.mark.parametrize("changes", [{"libraries": None}, {"libraries": ["numpy"]}, {"libraries": {"numpy": 2}},
                                     {"feature_names": None}, {"feature_names": 7}, {"files": []},
                                     {"files": {"model.joblib": None}}, {"line_classes": None}])
def test_a_manifest_field_of_the_wrong_type_is_refused(model_copy, changes):
    """Whatever a manifest holds, loading it raises ModelError (what the CLI, a reload and SIGHUP refuse)."""
    _edit_manifest(model_copy, **changes)
    with pytest.raises(ModelError):
        load_model(model_copy)


def test_manifest_without_files_is_refused(model_copy):
    _edit_manifest(model_copy, files={})
    with pytest.raises(ModelError, match="model.joblib"):
        load_model(model_copy)


def test_missing_dir_is_refused(tmp_path):
    with pytest.raises(ModelError, match="manifest.json"):
        load_model(tmp_path / "does-not-exist")


def test_empty_dir_is_refused(tmp_path):
    with pytest.raises(ModelError):
        load_model(tmp_path)


def test_shipped_manifest_matches_code(shipped_model_dir):
    manifest = json.loads((shipped_model_dir / "manifest.json").read_text())
    assert manifest["feature_names"] == list(FEATURE_NAMES)


def test_shipped_model_was_trained_on_the_fixtures_as_they_are(shipped_model_dir):
    """`make model` was run on the committed fixtures: the manifest's hash of them is theirs (a model
    trained while a fixture file was being added or taken out would make `train --base` misjudge it)."""
    from training.dataset import FIXTURES_DIR, fixture_hash

    manifest = json.loads((shipped_model_dir / "manifest.json").read_text())
    assert manifest["fixtures"]["builtin"] == fixture_hash(sorted(FIXTURES_DIR.glob("*.jsonl")))


def test_shipped_model_loads(shipped_model_dir):
    model = load_model(shipped_model_dir)
    assert model.manifest["feature_names"] == list(FEATURE_NAMES)


# ------------------------------------------------------------------- the manifest is bound to model.joblib


@pytest.mark.parametrize("changes", [
    {"name": "hacked"},
    {"thresholds": {"reliable": 90.0, "suspect": 10.0}},
    {"metrics": {"roc_auc": 0.999}},
    {"fixtures": {"builtin": "0" * 64}},
    {"format": 1},
    {"note": "added after training"},
])
def test_an_edited_manifest_is_refused_naming_the_field(model_copy, changes):
    _edit_manifest(model_copy, **changes)
    with pytest.raises(ModelError, match="edited") as info:
        load_model(model_copy)
    assert next(iter(changes)) in str(info.value)


def test_an_edited_version_is_refused(model_copy):
    _edit_manifest(model_copy, version="0123456789ab")
    with pytest.raises(ModelError, match="version '0123456789ab'.*edited"):
        load_model(model_copy)


def test_created_may_change_and_the_model_reports_what_it_uses(model_copy):
    _edit_manifest(model_copy, created="2020-01-01T00:00:00+00:00")
    model = load_model(model_copy)
    bound = joblib.load(model_copy / "model.joblib")["manifest"]
    assert model.name == bound["name"] == "tiny"
    assert model.thresholds == bound["thresholds"]
    assert model.manifest["created"] == "2020-01-01T00:00:00+00:00"


def _as_format_1(path):
    """Rewrite a model folder as training wrote it before model.joblib held the manifest."""
    bundle = joblib.load(path / "model.joblib")
    del bundle["manifest"]
    joblib.dump(bundle, path / "model.joblib", compress=3)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["model.joblib"] = hashlib.sha256((path / "model.joblib").read_bytes()).hexdigest()
    manifest.update(format=1, version=model_version(manifest["files"]))
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_a_format_1_model_still_loads_but_its_checkable_fields_are_checked(model_copy):
    _as_format_1(model_copy)
    assert load_model(model_copy).thresholds == {"reliable": 70.0, "suspect": 40.0}
    _edit_manifest(model_copy, thresholds={"reliable": 90.0, "suspect": 40.0})
    with pytest.raises(ModelError, match="thresholds"):
        load_model(model_copy)
    _edit_manifest(model_copy, thresholds={"reliable": 70, "suspect": 40}, metrics={"roc_auc": 0.999})
    with pytest.raises(ModelError, match="metrics"):
        load_model(model_copy)
    _edit_manifest(model_copy, metrics=json.loads((model_copy / "metrics.json").read_text()), format=2)
    with pytest.raises(ModelError, match="format"):
        load_model(model_copy)


def test_a_joblib_that_does_not_load_is_a_model_error(model_copy):
    (model_copy / "model.joblib").write_bytes(b"not a pickle")
    manifest = json.loads((model_copy / "manifest.json").read_text())
    manifest["files"]["model.joblib"] = hashlib.sha256(b"not a pickle").hexdigest()
    manifest["version"] = model_version(manifest["files"])
    (model_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_model(model_copy)


def test_a_line_model_hashed_in_a_way_the_scorer_does_not_reproduce_is_refused(model_copy):
    """A model whose line model makes its hashed n-grams otherwise than the scorer reproduces (another
    n-gram range, say, from other code) is refused when loaded, saying which setting, not at its first text."""
    bundle = joblib.load(model_copy / "model.joblib")
    bundle["line_model"].hasher_.set_params(ngram_range=(1, 3))
    joblib.dump(bundle, model_copy / "model.joblib", compress=3)
    manifest = json.loads((model_copy / "manifest.json").read_text())
    manifest["files"]["model.joblib"] = hashlib.sha256((model_copy / "model.joblib").read_bytes()).hexdigest()
    manifest["version"] = model_version(manifest["files"])
    (model_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"cannot score: .*ngram_range=\(1, 3\)"):
        load_model(model_copy)
