"""The HTTP contract: request bodies and the shapes of answers, as pydantic models.

Requests are validated with these models; answers are built by :func:`service.scoring.score_text` (the
same object ``thresher score`` prints) and these models document them in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from service.surrogates import IdError, id_text

__all__ = [
    "ScoreRequest",
    "BatchRequest",
    "ScoreResult",
    "BatchResult",
    "ErrorBody",
    "ErrorResponse",
    "ItemError",
    "ModelInfo",
    "ReloadResult",
    "LANG_PATTERN",
]

# A BCP 47 language tag, case-insensitive as tags are: a 2-3 letter language, then subtags ("en", "EN", "en-US",
# "zh-Hant-TW", "sr-Latn-RS"). Only the language is compared with detection.
LANG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$"


class ScoreRequest(BaseModel):
    """One article. Only ``text`` is required; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(
        description="The article's text, as crawled (plain text, lines kept). Empty or blank text is refused "
        "with 422 code 'empty' (checked by the route, so that it gets its own code).",
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    )
    title: str | None = Field(None, description=(
        "The article's headline or page title. Read as the text's first line (line 0 in the evidence) only "
        "when the text does not start with a headline of its own."))
    url: str | None = Field(None, description="Where the text was crawled from.")
    lang: str | None = Field(
        None,
        pattern=LANG_PATTERN,
        description="The language the caller expects (ISO 639-1/-3 code, e.g. 'en'). Echoed in "
        "language.declared with whether detection agrees; it does not change the score.",
    )
    # Any JSON value: one that is not a string is read as its JSON text (7 -> "7"), as thresher score --jsonl
    # and the scan read a record's id, so that the same record is scored by both.
    id: Annotated[str | None, WithJsonSchema({
        "title": "Id",
        "description": "The caller's id for the article; echoed in the answer. A string as it is, any other JSON "
        "value as its JSON text (7 -> \"7\", true -> \"true\"); one holding a number beyond a double's range (1e400) "
        "is refused (422 'invalid'): send such an id as a string.",
    })] = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        try:
            return value if value is None or isinstance(value, str) else id_text(value)
        except IdError as exc:  # 1e400: its "JSON text" would be Infinity; said without pydantic's "Value error, "
            raise PydanticCustomError("id_not_finite", str(exc)) from exc


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    articles: list[Any] = Field(
        description="Articles to score, each shaped like the body of POST /v1/score. At most THRESHER_MAX_BATCH; "
        "a bad item gets its own error object in its place, the others are scored.",
        # Any item is accepted by the schema on purpose: a bad one is answered in its place, not by a 422.
        json_schema_extra={"items": {"anyOf": [ScoreRequest.model_json_schema(), {}]}},
    )


class Reason(BaseModel):
    code: str = Field(description="Stable reason code (README lists them).")
    message: str
    contribution: float = Field(description="Log-odds added to the base; negative lowers the score.")
    evidence: list[dict[str, Any]] = Field(default_factory=list)


class ModelRef(BaseModel):
    name: str
    version: str


class ScoreResult(BaseModel):
    """The same object as ``thresher score`` prints, plus ``elapsed_ms``."""

    id: str | None
    score: float = Field(ge=0, le=100, description="0-100; higher is more reliable.")
    verdict: str = Field(description="reliable, suspect or unreliable, by the model's thresholds.")
    reasons: list[Reason]
    signals: dict[str, float | None]
    language: dict[str, Any]
    model: ModelRef
    explanation: dict[str, Any]
    stats: dict[str, int]
    lines: list[dict[str, Any]] | None = Field(None, description="Each line's label; left out with explain=false.")
    cleaned_text: str | None = Field(None, description="Content lines only; left out with explain=false.")
    elapsed_ms: float


class ErrorBody(BaseModel):
    code: str = Field(description="Stable error code, e.g. empty, bad_json, not_utf8, too_large.")
    message: str = Field(description="A sentence saying what is wrong and what to do.")
    errors: list[dict[str, Any]] | None = Field(None, description="Field-level problems, for 'invalid'.")


class ErrorResponse(BaseModel):
    error: ErrorBody


class ItemError(BaseModel):
    id: str | None = Field(description="The item's id: a string id as sent, another JSON value as its JSON text "
                           "(7 -> \"7\"); null when the item has no id, is not an object or its id is a number beyond a "
                           "double's range (1e400, refused).")
    index: int = Field(ge=0, description="The item's position in 'articles' (0-based).")
    error: ErrorBody


class BatchResult(BaseModel):
    results: list[ScoreResult | ItemError]
    elapsed_ms: float


class ModelInfo(BaseModel):
    name: str
    version: str
    created: str | None = None
    metrics: dict[str, Any]
    thresholds: dict[str, float]
    feature_names: list[str]
    manifest: dict[str, Any]


class ReloadResult(BaseModel):
    reloaded: bool
    previous_version: str
    version: str
    name: str
    workers: str = Field(description="'this process': the new model serves (one worker). 'restarting' (several "
                         "workers): the folder was verified and the supervisor is replacing the workers one by one; "
                         "it verifies its own copy first, and a refusal leaves every worker on the old model "
                         "(see thresher_model_reloads_total and thresher_model_workers).")
