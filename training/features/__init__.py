"""Feature families: each module turns a parsed document into named values plus evidence.

The family list below is the one place that fixes the feature vector's order. A family module has
``NAME``, ``FEATURES`` (its value names, each starting with the family name) and
``extract(doc, *, context) -> FamilyOutput``. The classifier only ever sees the values; evidence is
what the reasons show a person. ``DIRECTIONS`` says which values have a known direction (-1: more of it
can only make a text less reliable; +1: more reliable); the classifier's weights are held to it, so a
reason never says that, say, more URLs made a text more reliable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.document import Document
from training.linemodel import LineModel
from training.vocabulary import EntityLexicon, Vocabulary, general_vocabulary

__all__ = [
    "FAMILIES",
    "FEATURE_NAMES",
    "FEATURE_DIRECTIONS",
    "FEATURE_LOG_SCALED",
    "FamilyOutput",
    "Resources",
    "Context",
    "Extraction",
    "extract_features",
    "feature_family",
]

Evidence = dict[str, Any]


@dataclass
class Resources:
    """What the families need beyond the text: learned at training time, stored with the model."""

    line_model: LineModel | None
    lexicon: EntityLexicon
    _vocabulary: Vocabulary | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            self._vocabulary = general_vocabulary("en")
        return self._vocabulary


@dataclass
class FamilyOutput:
    values: dict[str, float]
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """Passed to every family: resources and what earlier families found (language first)."""

    resources: Resources
    language: str = "unknown"
    english: bool = True
    line_categories: list[str] | None = None


@dataclass
class Extraction:
    values: dict[str, float]
    evidence: dict[str, list[Evidence]]
    extra: dict[str, Any]

    def vector(self) -> np.ndarray:
        return np.array([self.values[name] for name in FEATURE_NAMES], dtype=np.float64)


from training.features import boilerplate, entities, language, readability, repetition, words  # noqa: E402

# Order of computation: language decides which English-only signals apply (and which word list words
# reads); boilerplate's line labels are used by repetition. The vector order is this tuple's order.
FAMILIES = (language, boilerplate, entities, readability, repetition, words)
FEATURE_NAMES: tuple[str, ...] = tuple(name for fam in FAMILIES for name in fam.FEATURES)
# Per feature, in vector order: -1, +1, or 0 (two-sided: no fixed direction).
FEATURE_DIRECTIONS: tuple[int, ...] = tuple(fam.DIRECTIONS.get(name, 0) for fam in FAMILIES for name in fam.FEATURES)
# Unbounded rates the classifier reads as log1p(x): evidence that grows with
# diminishing returns, so one chirpy blog's forty exclamation marks cannot outweigh everything else.
LOG_SCALED = frozenset(
    {
        "boilerplate_urls_per_1k",
        "entity_misspelled_per_1k",
        "entity_name_slot_per_1k",
        "repetition_exclamation_per_1k",
        "repetition_promo_per_1k",
    }
)
FEATURE_LOG_SCALED: tuple[bool, ...] = tuple(name in LOG_SCALED for fam in FAMILIES for name in fam.FEATURES)


def feature_family(name: str) -> str:
    """The family a feature belongs to: its name's first part."""
    return name.split("_", 1)[0]


def extract_features(doc: Document, *, resources: Resources) -> Extraction:
    """Run every family over ``doc`` and return all values (finite, or NaN for "not applicable")."""
    ctx = Context(resources=resources)
    values: dict[str, float] = {}
    evidence: dict[str, list[Evidence]] = {}
    extra: dict[str, Any] = {}
    for fam in FAMILIES:
        out = fam.extract(doc, context=ctx)
        missing = set(fam.FEATURES) - set(out.values)
        if missing:
            raise RuntimeError(f"family {fam.NAME} did not return {sorted(missing)}")
        for k in fam.FEATURES:
            v = float(out.values[k])
            # NaN means "not applicable" (an English-only signal on another language): the model's
            # imputer puts the training mean there, so it contributes nothing to the score.
            values[k] = v if (np.isfinite(v) or np.isnan(v)) else 0.0
        evidence.update(out.evidence)
        extra.update(out.extra)
    return Extraction(values=values, evidence=evidence, extra=extra)
