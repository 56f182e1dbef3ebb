"""The one scoring function: text → parsed document → features → calibrated model → score and reasons.

The CLI, the API, the crawl scan and evaluation all call :func:`score_text`; nothing re-implements it.
"""

from __future__ import annotations

import math
from typing import Any

from scipy.special import expit

from service.model import Model
from service.reasons import build_reasons
from training.document import parse
from training.features import FEATURE_NAMES, extract_features
from training.features.entities import index_names
from training.features.words import preload_word_lists

__all__ = ["score_text", "shown_score", "verdict_for", "warm_up", "MAX_TEXT_CHARS", "TextTooLargeError"]

WARMUP_TEXT = (
    "Warm-up article\n\nThe council met on Tuesday to discuss the new budget for the city's schools. "
    "Members said the plan would be published next month after a public consultation."
)

# The longest text scored, whoever asks. No smaller than the API's default body limit (2 MiB) and the CLI's
# default --max-bytes: a text within those is never refused by this one (a UTF-8 character is a byte or more).
MAX_TEXT_CHARS = 2 * 1024 * 1024


class TextTooLargeError(ValueError):
    """Raised when a text is longer than the scorer accepts."""


def shown_score(score: float) -> str:
    """A score for a person to read: one decimal, cut rather than rounded, so that it never reaches a
    threshold its verdict did not (69.96 is shown 69.9 beside ``suspect``, not 70.0). The thresholds
    are whole numbers; the page does the same in ``static/app.js``."""
    return f"{math.floor(score * 10) / 10:.1f}"


def verdict_for(score: float, thresholds: dict[str, float]) -> str:
    """``reliable`` at or above the reliable threshold, ``unreliable`` below the suspect one."""
    if score >= thresholds["reliable"]:
        return "reliable"
    if score >= thresholds["suspect"]:
        return "suspect"
    return "unreliable"


def warm_up(model: Model, *, word_lists: bool = False) -> None:
    """Score a short text once and index the lexicon's names and the common words' pieces: loads the
    vocabulary, the syllable dictionary and the language profiles, so that the first real document (or
    forked worker) does not pay for them. ``word_lists``: also every language's word list (67 MiB, ~2 s),
    which the first text in each language would otherwise load (50-300 ms): for the server, whose requests
    should not wait for it (the scan and training load lists as their texts need them)."""
    score_text(WARMUP_TEXT, model=model, explain=True)
    index_names(model.resources.lexicon)
    model.resources.vocabulary.piece_index()
    if word_lists:
        preload_word_lists()


def _language(detected: dict[str, Any], declared: str | None) -> dict[str, Any]:
    if declared is None:
        return dict(detected)
    base = declared.split("-")[0].lower()
    found = str(detected.get("code") or "").split("-")[0]  # langdetect's "zh-cn", "zh-tw": Chinese
    return {**detected, "declared": declared, "matches_declared": found == base}


def score_text(
    text: str,
    *,
    model: Model,
    title: str | None = None,
    url: str | None = None,
    explain: bool = True,
    doc_id: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """Score one text. Raises :class:`training.document.EmptyDocumentError` on empty text and
    :class:`TextTooLargeError` beyond :data:`MAX_TEXT_CHARS`. ``lang`` is the language the caller
    expects: it is echoed in ``language.declared`` with whether detection agrees, and does not change the score."""
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLargeError(
            f"text has {len(text)} characters; at most {MAX_TEXT_CHARS} are scored (a limit of its own, whatever "
            "the byte limits are set to)"
        )
    doc = parse(text, title=title, url=url)
    ext = extract_features(doc, resources=model.resources)
    base, contrib = model.classifier.contributions(ext.vector())
    per_feature = {name: float(c) for name, c in zip(FEATURE_NAMES, contrib[0], strict=True)}
    logit = base + sum(per_feature.values())
    score = 100.0 * float(expit(logit))
    extra = dict(ext.extra)
    extra["n_words"] = doc.n_words
    extra["n_chars"] = doc.n_chars
    reasons, no_effect = build_reasons(per_feature, ext.values, ext.evidence, extra, explain=explain, base=base)
    result: dict[str, Any] = {
        "id": doc_id,
        # Not rounded to a display precision: users rank a whole crawl by it, and ties would lose order.
        "score": float(f"{score:.10g}"),
        "verdict": verdict_for(score, model.thresholds),
        "reasons": reasons,
        "signals": {k: (None if v != v else round(v, 4)) for k, v in ext.values.items()},
        "language": _language(extra.get("language", {}), lang),
        "model": {"name": model.name, "version": model.version},
        "explanation": {
            "base": round(base, 4),
            "logit": round(logit, 4),
            "units": "log-odds of reliable; base + sum of reason contributions = logit; score = 100/(1+exp(-logit))",
            # what was checked and changes nothing (contribution 0): out of the reasons, evidence kept
            "no_effect": no_effect,
        },
        "stats": {"words": doc.n_words, "lines": len(doc.lines), "characters": doc.n_chars},
    }
    if explain:
        result["lines"] = extra.get("line_labels", [])
        result["cleaned_text"] = extra.get("cleaned_text", "")
    if doc.title_lines:
        _renumber(result, doc.title_lines)
    return result


def _renumber(result: dict[str, Any], above: int) -> None:
    """Line numbers as the caller's text has them: parse() put a title (and a blank line) above the text,
    ``above`` lines; the title becomes line 0. Evidence items and line labels are new dicts: the feature
    families' evidence is not changed in place."""
    def shift(item: dict[str, Any]) -> dict[str, Any]:
        line = item.get("line")
        return {**item, "line": max(0, line - above)} if isinstance(line, int) else item

    for reason in [*result["reasons"], *result["explanation"]["no_effect"]]:
        if reason.get("evidence"):
            reason["evidence"] = [shift(e) if isinstance(e, dict) else e for e in reason["evidence"]]
    if "lines" in result:
        result["lines"] = [shift(x) for x in result["lines"]]
