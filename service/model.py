"""Loading a model folder: verify every file's hash and the feature names before anything is scored."""

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
from training.linemodel import CLASSES, LineModel
from training.train import LEXICON_FILE, MANIFEST_FILE, MODEL_FILE
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
    """Load and verify the model in ``path``; raise :class:`ModelError` saying what is wrong."""
    path = Path(path)
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ModelError(f"no model at {path}: {MANIFEST_FILE} is missing (train one with 'thresher train')")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model manifest {manifest_path} is unreadable: {exc}") from exc
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
    _check_libraries(manifest.get("libraries", {}), path)
    bundle = joblib.load(path / MODEL_FILE)
    classifier, line_model = bundle.get("classifier"), bundle.get("line_model")
    if not isinstance(classifier, ReliabilityModel) or not isinstance(line_model, LineModel):
        raise ModelError(f"{path / MODEL_FILE} does not hold a Thresher classifier and line model")
    lexicon = EntityLexicon.read(path / LEXICON_FILE) if (path / LEXICON_FILE).is_file() else EntityLexicon()
    if extra_names:
        lexicon.extend(extra_names)
    return Model(path=path, manifest=manifest, classifier=classifier,
                 resources=Resources(line_model=line_model, lexicon=lexicon))


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
