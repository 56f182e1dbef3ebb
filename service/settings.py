"""Service settings, read from the environment (prefix ``THRESHER_``) once, at the edge: in the app
factory and in ``thresher serve``. Nothing below the routes reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.model import DEFAULT_MODEL_DIR

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Every setting of the HTTP service; each one is ``THRESHER_<NAME>`` in the environment."""

    # env_ignore_empty: an empty variable (`THRESHER_HOST=` in an env file, `docker run -e THRESHER_HOST=`) is
    # unset, its default applies, as for every command that reads THRESHER_MODEL_DIR; an empty host made
    # uvicorn listen on every interface, an empty model folder was the current folder
    model_config = SettingsConfigDict(env_prefix="THRESHER_", extra="ignore", env_ignore_empty=True)

    model_dir: Path = Field(DEFAULT_MODEL_DIR, description="Model folder to load (and to load again on reload).")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1, description="Largest request body; beyond it: 413.")
    max_batch: int = Field(64, ge=1, description="Most articles in one /v1/score/batch request.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes for `thresher serve`.")
    host: str = Field("127.0.0.1", description="Address `thresher serve` binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port `thresher serve` binds.")
    admin_token: SecretStr | None = Field(None, description="Enables POST /v1/model/reload with this bearer token.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated keys; when set, /v1/* needs 'Authorization: Bearer KEY'."
    )
    supervisor_pid: int | None = Field(
        None, description="Set by `thresher serve --workers N` (N > 1): a reload asks this process (the supervisor) to "
        "verify the model and replace the workers one by one. Not for users to set.",
    )
    model_snapshot: Path | None = Field(
        None, description="Set by `thresher serve --workers N` (N > 1): the supervisor's verified copy of model_dir, "
        "which the workers load at start, so that every worker serves the same model whatever happens to the folder "
        "(a reload makes a new copy). Not for users to set.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
