"""Loading a model folder: verify every file's hash, the feature names and the manifest itself before anything
is scored.

``model.joblib`` (format 2) holds a copy of the manifest's fields but ``files``, ``version`` and ``created``;
the manifest's ``files`` hold the sha256 of ``model.joblib``, and its ``version`` is derived from them. So a
manifest edited after training (its name, thresholds, metrics ...) disagrees with what the model holds and
is refused, and what :class:`Model` reports is what scoring uses.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from training.classifier import ReliabilityModel
from training.features import FEATURE_NAMES, Resources
from training.linemodel import CLASSES, LineModel, UnsupportedHasherError
from training.train import (
    DEFAULT_THRESHOLDS,
    LEXICON_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    MODEL_FILE,
    UNBOUND_FIELDS,
    model_version,
)
from training.vocabulary import EntityLexicon

__all__ = ["Model", "ModelError", "load_model", "DEFAULT_MODEL_DIR"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"


class ModelError(RuntimeError):
    """Raised when a model folder is missing, tampered with, or built for other code."""


@dataclass
class Model:
    """A verified model: the classifier, the resources its features need, and its manifest."""

    path: Path
    manifest: dict[str, Any]
    classifier: ReliabilityModel
    resources: Resources

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def thresholds(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.manifest["thresholds"].items()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _major(version: str) -> str:
    return version.split(".")[0]


def load_model(path: Path | str, *, extra_names: list[str] | None = None) -> Model:
    """Load and verify the model in ``path``; raise :class:`ModelError` saying what is wrong.

    Whatever is wrong with the folder (a manifest that is a list, a field of the wrong type, bytes that are
    not UTF-8) is a :class:`ModelError`: the callers (the CLI, a reload over HTTP, the supervisor's SIGHUP)
    refuse the model with its message and keep what they had, whatever the folder holds."""
    path = Path(path)
    try:
        return _load_model(path, extra_names)
    except ModelError:
        raise
    except Exception as exc:  # a malformed field the checks below did not foresee: still the folder's fault
        raise ModelError(f"model {path} cannot be loaded: {type(exc).__name__}: {exc}") from exc


def _load_model(path: Path, extra_names: list[str] | None) -> Model:
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ModelError(f"no model at {path}: {MANIFEST_FILE} is missing (train one with 'thresher train')")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8 (UnicodeDecodeError)
        raise ModelError(f"model manifest {manifest_path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelError(f"model manifest {manifest_path} is not a JSON object (it holds a {type(manifest).__name__})")
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ModelError(f"model manifest {manifest_path} lists no files; expected {MODEL_FILE} with its sha256")
    for name, expected in files.items():
        f = path / name
        if not f.is_file():
            raise ModelError(f"model file {f} is missing")
        actual = _sha256(f)
        if actual != expected:
            raise ModelError(
                f"model file {f} does not match its manifest (sha256 {actual[:12]}…, expected {str(expected)[:12]}…); "
                "it was changed after training: retrain or restore it"
            )
    if manifest.get("version") != model_version(files):
        raise ModelError(
            f"model manifest {manifest_path} gives version {manifest.get('version')!r}, but its files make version "
            f"{model_version(files)!r}: the manifest was edited after training; retrain or restore it"
        )
    names = manifest.get("feature_names")
    if names != list(FEATURE_NAMES):
        missing = sorted(set(FEATURE_NAMES) - set(names or []))
        extra = sorted(set(names or []) - set(FEATURE_NAMES))
        raise ModelError(
            f"model {path} was trained on other features than this code computes "
            f"(missing from model: {missing}, unknown to code: {extra}, or another order); retrain it"
        )
    if manifest.get("line_classes") != list(CLASSES):
        raise ModelError(f"model {path} has line classes {manifest.get('line_classes')}, code has {list(CLASSES)}")
    libraries = manifest.get("libraries", {})
    if not isinstance(libraries, dict):
        raise ModelError(f"model manifest {manifest_path} gives libraries {libraries!r}; expected an object")
    _check_libraries(libraries, path)
    try:
        bundle = joblib.load(path / MODEL_FILE)
    except Exception as exc:  # a pickle that hashes right but does not load: another joblib, a truncated copy
        raise ModelError(f"{path / MODEL_FILE} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    if not isinstance(bundle, dict):
        raise ModelError(f"{path / MODEL_FILE} does not hold a Thresher classifier and line model")
    classifier, line_model = bundle.get("classifier"), bundle.get("line_model")
    if not isinstance(classifier, ReliabilityModel) or not isinstance(line_model, LineModel):
        raise ModelError(f"{path / MODEL_FILE} does not hold a Thresher classifier and line model")
    _check_bound(manifest, bundle.get("manifest"), classifier, path)
    try:
        line_model.check_scorer()
    except UnsupportedHasherError as exc:
        raise ModelError(f"{path / MODEL_FILE} holds a line model this code cannot score: {exc}") from exc
    lexicon = EntityLexicon.read(path / LEXICON_FILE) if (path / LEXICON_FILE).is_file() else EntityLexicon()
    if extra_names:
        lexicon.extend(extra_names)
    return Model(path=path, manifest=manifest, classifier=classifier,
                 resources=Resources(line_model=line_model, lexicon=lexicon))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _check_bound(manifest: dict[str, Any], bound: Any, classifier: ReliabilityModel, path: Path) -> None:
    """Refuse a manifest whose fields disagree with what ``model.joblib`` holds and uses."""
    used_names = [str(n) for n in getattr(classifier, "feature_names_in_", [])]
    if used_names and used_names != manifest.get("feature_names"):
        raise ModelError(f"model manifest {path / MANIFEST_FILE} lists other feature names than its classifier "
                         "was fitted on: the manifest was edited after training; retrain or restore it")
    if isinstance(bound, dict):  # format 2: every field but files, version and created is in model.joblib
        keys = (set(bound) | set(manifest)) - set(UNBOUND_FIELDS)
        changed = sorted(k for k in keys if _canonical(manifest.get(k)) != _canonical(bound.get(k)))
        if changed:
            raise ModelError(
                f"model manifest {path / MANIFEST_FILE} disagrees with {MODEL_FILE} on {', '.join(changed)}: the "
                "manifest was edited after training (the model would not do what it says); retrain or restore it"
            )
        return
    # Format 1 (trained before model.joblib held the manifest): check what can be checked, say the rest.
    if manifest.get("format", 1) != 1:
        raise ModelError(f"model manifest {path / MANIFEST_FILE} says format {manifest.get('format')!r}, but "
                         f"{MODEL_FILE} holds no copy of it (format 1): the manifest was edited; retrain or restore it")
    thresholds = manifest.get("thresholds")
    if not isinstance(thresholds, dict) or _canonical({k: float(v) for k, v in thresholds.items()}) != _canonical(
        {k: float(v) for k, v in DEFAULT_THRESHOLDS.items()}
    ):
        raise ModelError(f"model manifest {path / MANIFEST_FILE} gives thresholds {thresholds}, but a format-1 model "
                         f"was always trained with {DEFAULT_THRESHOLDS}: the manifest was edited; retrain the model "
                         "(format 2 models keep their thresholds in model.joblib)")
    if METRICS_FILE in manifest.get("files", {}):
        try:
            written = json.loads((path / METRICS_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"model file {path / METRICS_FILE} is unreadable: {exc}") from exc
        if _canonical(written) != _canonical(manifest.get("metrics")):
            raise ModelError(f"model manifest {path / MANIFEST_FILE} gives other metrics than {METRICS_FILE}: the "
                             "manifest was edited after training; retrain or restore it")
    log.info("model %s has a format-1 manifest: its name, fixtures and library versions cannot be checked "
                "against %s; retrain it (thresher train) to have every field checked", path, MODEL_FILE)


def _check_libraries(recorded: dict[str, str], path: Path) -> None:
    from importlib.metadata import PackageNotFoundError, version

    for lib in ("scikit-learn", "numpy", "joblib"):
        if lib not in recorded:
            continue
        try:
            have = version(lib)
        except PackageNotFoundError:
            continue
        if _major(have) != _major(recorded[lib]):
            raise ModelError(
                f"model {path} was trained with {lib} {recorded[lib]}, this environment has {have}: "
                "major versions differ; retrain the model here"
            )
