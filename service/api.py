"""The HTTP service: an app factory whose routes are thin and call :func:`service.scoring.score_text`.

Run it with ``thresher serve`` (or ``uvicorn --factory service.api:create_app``). Settings come from
the environment (``THRESHER_*``, see :mod:`service.settings`) and are read here, once, at the edge.

Request bodies are read here, not by FastAPI's body parsing, so that every way a body can be wrong gets
its own code and status: too large 413, not UTF-8 400, malformed JSON 400, wrong types or empty text
422, other media types 415. A body may come gzipped or deflated (``Content-Encoding``): it is decompressed
here, within the same size limit; another encoding is 415, a corrupt stream 400. Scoring runs in a small thread pool, never on the event loop.

There is no ``/docs`` or ``/redoc`` page: FastAPI's would load Swagger UI and ReDoc from a CDN, blank
offline. The schema is served at ``/openapi.json``; ``/docs`` answers 404 saying so.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import secrets
import signal
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.charsets import text_codec
from service.metrics import CONTENT_TYPE, Metrics
from service.model import Model, ModelError, load_model
from service.schemas import (
    LANG_PATTERN,
    BatchRequest,
    BatchResult,
    ErrorResponse,
    ModelInfo,
    ReloadResult,
    ScoreRequest,
    ScoreResult,
)
from service.scoring import TextTooLargeError, score_text, warm_up
from service.settings import Settings
from service.surrogates import IdError, has_lone_surrogate, id_text, json_type, number_too_long
from training.document import EmptyDocumentError

__all__ = ["create_app", "ApiError", "ModelSlot"]

log = logging.getLogger("thresher.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"
SCORING_THREADS = 1  # CPU-bound work under the GIL: a second thread only interleaves (measured: +20 % CPU per document)
SCORING_ROUTES = frozenset({"/v1/score", "/v1/score/batch"})  # where a 4xx refuses a document


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message", "errors"?}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            err["errors"] = self.errors
        return {"error": err}


def _error_response(exc: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


class ModelSlot:
    """The model being served. Requests take ``slot.model`` once and finish on it; a reload loads and
    verifies the new model first, then swaps the reference, so a bad model never replaces a good one."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._lock = threading.Lock()

    def reload(self, path: Path) -> tuple[Model, Model]:
        """(old, new). Raises :class:`ModelError` and keeps the old model when the new one is refused."""
        with self._lock:
            new = load_model(path)
            warm_up(new)
            old, self.model = self.model, new
            return old, new


# ---------------------------------------------------------------------------------------------- bodies


def _media_type(request: Request) -> tuple[str, dict[str, str]]:
    raw = request.headers.get("content-type", "")
    parts = [p.strip() for p in raw.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


# Content-Encoding -> zlib's wbits: gzip (with its header), deflate (zlib-wrapped, as RFC 9110 says; raw
# deflate, which some clients send, is accepted too)
_ENCODINGS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class _Inflate:
    """Decompresses a body as it arrives: gzip members one after another (``cat a.gz b.gz`` is one gzip
    body), zero padding after the last one ignored; anything else after the end of the stream is an error."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.wbits = _ENCODINGS[encoding]
        self.d = zlib.decompressobj(self.wbits)
        self.fed = False  # any data at all
        self.head: bytes | None = b""  # deflate before its first output: what was fed, to feed again as raw
        self.over = False  # more output than the room given

    def feed(self, data: bytes, room: int) -> bytes:
        """Up to ``room`` (>= 1) bytes of output for ``data``; sets :attr:`over` when there is more."""
        out: list[bytes] = []
        n = 0
        while data:
            self.fed = True
            if self.d.eof:
                if not data.strip(b"\x00"):
                    break  # padding after the last member
                self.d = zlib.decompressobj(self.wbits)
            try:
                piece = self.d.decompress(data, room - n)
            except zlib.error as exc:
                if self.wbits == 15 and self.head is not None and not n:  # not zlib-wrapped: raw deflate
                    self.wbits, data, self.head = -15, self.head + data, b""
                    self.d = zlib.decompressobj(self.wbits)
                    continue
                raise ApiError(400, "bad_encoding", f"the body is not valid {self.encoding} data: {exc}") from exc
            if self.wbits == 15 and self.head is not None:
                self.head = None if piece else self.head + data
            out.append(piece)
            n += len(piece)
            if self.d.unconsumed_tail or n >= room:
                self.over = True
                break
            data = self.d.unused_data if self.d.eof else b""
        return b"".join(out)

    def finished(self) -> bool:
        return self.d.eof or not self.fed


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, decompressed when sent with ``Content-Encoding: gzip`` or ``deflate``; at most ``limit`` bytes
    as sent and as decompressed (a small gzip bomb is refused as soon as it passes the limit)."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", *_ENCODINGS):
        raise ApiError(415, "unsupported_encoding",
                       f"Content-Encoding '{encoding}' is not accepted; send the body as it is, or gzip or deflate it")
    inflate = _Inflate(encoding) if encoding in _ENCODINGS else None
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"the body has {declared} bytes; the limit is {limit} (THRESHER_MAX_BODY_BYTES)")
    chunks: list[bytes] = []
    size = sent = 0
    async for chunk in request.stream():
        sent += len(chunk)
        if inflate is not None and chunk:
            chunk = inflate.feed(chunk, limit + 1 - size)
        size += len(chunk)
        if size > limit or sent > limit or (inflate is not None and inflate.over):
            what = "decompressed " if inflate is not None and sent <= limit else ""
            raise ApiError(413, "too_large",
                           f"the {what}body is larger than the limit of {limit} bytes (THRESHER_MAX_BODY_BYTES)")
        chunks.append(chunk)
    if inflate is not None and not inflate.finished():
        raise ApiError(400, "bad_encoding", f"the body is not valid {encoding} data: it ends before the stream does")
    return b"".join(chunks)


def _decode(data: bytes, charset: str = "utf-8") -> str:
    """``data`` decoded with the declared charset (a leading byte-order mark dropped), or :class:`ApiError`."""
    codec = text_codec(charset)
    if codec is None:
        raise ApiError(415, "unsupported_media_type", f"charset '{charset}' is not a known text charset; send UTF-8")
    try:
        text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "not_utf8", f"the body is not valid {charset} (byte {exc.start}); send UTF-8 text") from exc
    except UnicodeError as exc:  # a codec that fails without saying where
        raise ApiError(400, "not_utf8", f"the body is not valid {charset} ({exc}); send UTF-8 text") from exc
    return text[1:] if text.startswith("\ufeff") else text


# The charsets a JSON text may come in (RFC 8259 8.1: UTF-8; UTF-16 and UTF-32 are recognised by their first
# bytes, as RFC 4627 3 did). A charset parameter has no meaning for application/json (RFC 8259 11) and is ignored.
_JSON_CODECS = frozenset({"utf-8", "utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-32-le"})


def _once(request: Request, names: tuple[str, ...]) -> None:
    """422 for a query parameter given more than once (``?url=a&url=b``): each takes one value, and silently
    keeping the last would score with a value the caller may not have meant."""
    for name in names:
        n = len(request.query_params.getlist(name))
        if n > 1:
            raise ApiError(422, "invalid", f"query parameter '{name}' is given {n} times; give it once")


def _json_body(data: bytes, charset: str | None = None) -> Any:
    encoding = json.detect_encoding(data)  # a BOM, or the pattern of NUL bytes around the first two characters
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        declared = ""
        if charset and text_codec(charset) not in _JSON_CODECS:  # unknown, or a charset JSON is never in
            declared = f"; the declared charset '{charset}' does not apply: a JSON body is UTF-8 whatever it says"
        what = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        raise ApiError(400, "not_utf8", f"the body is not valid {what} (byte {exc.start}): JSON bodies must be UTF-8 "
                       f"(RFC 8259; UTF-16 and UTF-32 are recognised by their first bytes){declared}") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise ApiError(400, "bad_json", "the body is not valid JSON: it is nested too deeply") from exc
    except ValueError as exc:  # an integer over Python's 4,300 digits: "Exceeds the limit (4300 digits) ..."
        raise ApiError(400, "bad_json", f"the body cannot be read as JSON: {number_too_long(exc)}") from exc


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "message": e["msg"]} for e in exc.errors(include_url=False, include_input=False)]


def _article(payload: Any) -> ScoreRequest:
    """A validated article, or :class:`ApiError` 422 (``invalid``, ``empty``) / 400 (``not_utf8``)."""
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid", f"expected a JSON object with a 'text' field, got a JSON {json_type(payload)}")
    try:
        article = ScoreRequest.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(422, "invalid", "the article does not match the schema: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
        ), errors=_validation_errors(exc)) from exc
    for field in ("text", "title", "url", "lang", "id"):
        value = getattr(article, field)
        if isinstance(value, str) and has_lone_surrogate(value):
            raise ApiError(400, "not_utf8", f"'{field}' holds an unpaired surrogate (\\ud800-\\udfff); send valid Unicode")
    if not article.text.strip():
        raise ApiError(422, "empty", "'text' is empty or only whitespace; send the article's text")
    return article


def _item_id(item: Any) -> str | None:
    """The caller's id of a batch item, for its error: a string as it is, any other JSON value as its JSON
    text (``7`` -> ``"7"``); ``None`` when the item is not an object or has no id, or an id with no JSON text
    (``1e400``, refused by the item's validation). An unpaired surrogate is written as its escape
    (``\\ud800``): the answer must be valid UTF-8."""
    if not isinstance(item, dict) or item.get("id") is None:
        return None
    try:
        return id_text(item["id"])
    except IdError:
        return None


def _score(article: ScoreRequest, model: Model, explain: bool) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = score_text(article.text, model=model, title=article.title, url=article.url, explain=explain,
                            doc_id=article.id, lang=article.lang)
    except EmptyDocumentError as exc:
        raise ApiError(422, "empty", str(exc)) from exc
    except TextTooLargeError as exc:
        raise ApiError(413, "too_large", str(exc)) from exc
    result["elapsed_ms"] = round((time.perf_counter() - start) * 1000, 3)
    return result


# ------------------------------------------------------------------------------------------- middleware


def _route_template(scope: Scope, routes: list[BaseRoute]) -> str:
    """The template of the route that answers ``scope`` (a mount by its prefix, a wrong method by the route
    it missed), or ``unmatched``: the label stays bounded whatever paths clients send."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "unmatched"))
        if match is Match.PARTIAL and partial is None:
            partial = str(getattr(route, "path", "unmatched"))
    return partial or "unmatched"


class MetricsMiddleware:
    """Counts every answer by route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        counted = False
        asked = dict(scope)  # as it came: the router adds to scope (a mount changes root_path)

        def count() -> None:
            nonlocal counted
            if counted:
                return
            counted = True
            route = getattr(scope.get("route"), "path", None)
            if route is None:  # FastAPI sets it for its own routes only: /openapi.json, the mount, 404s
                app = scope.get("app")
                route = _route_template(asked, list(getattr(app, "routes", ())))
            self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Counted before the answer's last bytes go out: a client that has its answer finds it
                # counted (a file's answer used to reach it first: the app still closed the file after).
                count()
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            count()  # an answer that never finished (an error, a client gone) counts too


# ------------------------------------------------------------------------------------------------- app

_ARTICLE_SCHEMA = ScoreRequest.model_json_schema()
_SCORE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _ARTICLE_SCHEMA},
            "text/plain": {"schema": {"type": "string", "minLength": 1, "pattern": r"^[^\u0000]*\S[^\u0000]*$",
                                      "description": "UTF-8 text (or the charset declared); no NUL bytes"}},
        },
    }
}
_BATCH_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": BatchRequest.model_json_schema()}}}
}
_ERROR_TEXT = {
    400: "Not UTF-8 (or the declared charset), malformed JSON, a NUL character in text, or a corrupt gzip or deflate "
         "stream",
    401: "API key (or, for reload, admin token) missing or wrong",
    403: "Reload disabled: the server has no THRESHER_ADMIN_TOKEN",
    409: "The model in THRESHER_MODEL_DIR was refused; the old one stays in service",
    413: "Body too large",
    415: "Unsupported media type, charset or content encoding",
    422: "Empty text, wrong types, too many articles or a bad query parameter (title, url or lang beside a JSON body)",
    503: "The model is still loading",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route can give, for its OpenAPI entry: each route declares its own."""
    return {s: {"model": ErrorResponse, "description": _ERROR_TEXT[s]} for s in statuses}


def create_app(settings: Settings | None = None, *, model: Model | None = None) -> FastAPI:
    """Build the service. ``settings`` default to the environment; ``model`` defaults to loading
    ``settings.model_dir`` at startup (the server does not start on a model that fails verification)."""
    settings = settings or Settings()
    metrics = Metrics()
    limiter = anyio.CapacityLimiter(SCORING_THREADS)
    state: dict[str, Any] = {"slot": None}

    async def do_reload(trigger: str) -> tuple[Model, Model]:
        """This process's reload (one worker): load, verify and warm the folder, then swap. Counted and logged."""
        slot: ModelSlot | None = state["slot"]
        if slot is None:
            raise ApiError(503, "not_ready", "the model is still loading; try again shortly")
        try:
            old, new = await anyio.to_thread.run_sync(slot.reload, settings.model_dir)
        except ModelError as exc:
            metrics.reloads.labels("refused").inc()
            log.error("%s: the model in %s was refused, still serving %s %s: %s", trigger, settings.model_dir,
                      slot.model.name, slot.model.version, exc)
            raise
        metrics.reloads.labels("loaded").inc()
        metrics.set_model(new.name, new.version, previous=(old.name, old.version))
        log.info("%s: model reloaded from %s: %s %s -> %s %s", trigger, settings.model_dir, old.name, old.version,
                 new.name, new.version)
        return old, new

    def on_sighup() -> None:
        if settings.supervisor_pid:
            # With several workers the supervisor reloads (it verifies once, then replaces every worker);
            # one worker swapping alone would serve another model than the others.
            log.warning("SIGHUP to worker %d ignored: send it to the supervisor, process %d (thresher serve), which "
                        "verifies the model and replaces every worker", os.getpid(), settings.supervisor_pid)
            return

        async def run() -> None:
            try:
                await do_reload("SIGHUP")
            except (ModelError, ApiError):
                pass  # logged (and counted) by do_reload

        asyncio.ensure_future(run())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = model
        source = settings.model_snapshot or settings.model_dir
        if loaded is None:
            try:
                loaded = await anyio.to_thread.run_sync(load_model, source)
            except ModelError as exc:
                log.error("worker %d cannot start: the model in %s was refused: %s", os.getpid(), source, exc)
                raise
        # every language's word list too: a request should not wait 50-300 ms for its language's list
        await anyio.to_thread.run_sync(functools.partial(warm_up, loaded, word_lists=True))
        state["slot"] = ModelSlot(loaded)
        metrics.set_model(loaded.name, loaded.version)
        copy = f" (the supervisor's verified copy in {source})" if settings.model_snapshot and model is None else ""
        log.info("serving model %s %s from %s%s", loaded.name, loaded.version, settings.model_dir if copy else
                 loaded.path, copy)
        hup = False
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            try:
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_sighup)
                hup = True
            except (NotImplementedError, RuntimeError, ValueError):
                log.warning("cannot install a SIGHUP handler here; use POST /v1/model/reload")
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            Metrics.worker_exited(os.getpid())

    app = FastAPI(
        title="Thresher",
        version="1",
        summary="How reliable is this crawled news text, and why.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc come from a CDN: blank offline. See the /docs route below.
        redoc_url=None,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    bearer = HTTPBearer(auto_error=False, description="One of THRESHER_API_KEYS, when that is set.")
    api_keys = [k.encode() for k in settings.api_keys]

    def require_key(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        given = (credentials.credentials if credentials else "").encode()
        if not any(secrets.compare_digest(given, k) for k in api_keys):
            raise ApiError(401, "unauthorized", "send 'Authorization: Bearer KEY' with one of the service's API keys")

    # The schema says what this server asks for: a bearer key on /v1/* only when THRESHER_API_KEYS is set.
    guard = [Depends(require_key)] if api_keys else []
    auth = (401,) if api_keys else ()
    scoring_errors = _errors(400, *auth, 413, 415, 422, 503)
    # Reload with an admin token: 401 without it, 409 for a refused model, 503 while loading; without one it is
    # disabled and answers 403 whatever is sent.
    reload_errors = _errors(401, 409, 503) if settings.admin_token is not None else _errors(403)

    def current() -> Model:
        slot = state["slot"]
        if slot is None:
            raise ApiError(503, "not_ready", "the model is still loading; try again shortly")
        return slot.model

    def count_rejected(request: Request, exc: ApiError) -> None:
        """A scoring request refused with a client error counts one rejected document, by its code.
        Auth failures do not: the body was never read."""
        route = getattr(request.scope.get("route"), "path", None)
        if route in SCORING_ROUTES and 400 <= exc.status < 500 and exc.status not in (401, 403):
            metrics.reject(exc.code)

    # -- errors: one shape everywhere
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        count_rejected(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error_response(exc, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['message']}" for e in errors)
        error = ApiError(422, "invalid", f"the request is invalid: {detail}", errors=errors)
        count_rejected(request, error)
        return _error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error_response(ApiError(exc.status_code, code, f"{exc.detail}: {request.method} {request.url.path}"),
                               dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # a bug, never a client's fault
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error_response(ApiError(500, "internal_error", "the server failed on this request; it has been logged"))

    async def run_scoring(fn: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(fn, limiter=limiter)

    # -- routes
    @app.post(
        "/v1/score",
        response_model=ScoreResult,
        response_model_exclude_none=False,
        openapi_extra=_SCORE_BODY,
        dependencies=guard,
        responses=scoring_errors,
        summary="Score one article",
        description="JSON `{text, title?, url?, lang?, id?}` or a `text/plain` body (then title, url and lang "
        "may come as query parameters). `explain=false` leaves out evidence, line labels and the cleaned text.",
    )
    async def score(
        request: Request,
        explain: bool = True,
        title: str | None = Query(None, description="For text/plain bodies: the page title."),
        url: str | None = Query(None, description="For text/plain bodies: the page's URL."),
        lang: str | None = Query(None, pattern=LANG_PATTERN, description="For text/plain bodies: expected language."),
    ) -> Response:
        _once(request, ("explain", "title", "url", "lang"))
        media, params = _media_type(request)
        body = await _read_body(request, settings.max_body_bytes)
        if media == "application/json" or media.endswith("+json"):
            for name, value in (("title", title), ("url", url), ("lang", lang)):
                if value is not None:  # dropped without a word, the caller would think it was read
                    raise ApiError(422, "invalid", f"query parameter '{name}' is for text/plain bodies; with a JSON "
                                   f"body, send it in the JSON object: {{\"text\": ..., \"{name}\": ...}}")
            article = _article(_json_body(body, params.get("charset")))
        elif media == "text/plain":
            # Decoded first: UTF-16 and UTF-32 text holds NUL bytes; a NUL character is what binary data shows.
            text = _decode(body, params.get("charset", "utf-8"))
            if "\x00" in text:
                raise ApiError(400, "binary", "the body contains NUL characters: it looks binary, not text")
            article = _article({"text": text, "title": title, "url": url, "lang": lang})
        else:
            raise ApiError(415, "unsupported_media_type",
                           f"Content-Type '{media or '(none)'}' is not accepted; send application/json or text/plain")
        m = current()
        result = await run_scoring(lambda: _score(article, m, explain))
        metrics.observe_score(result["score"], result["verdict"], m.version)
        return JSONResponse(result)

    @app.post(
        "/v1/score/batch",
        response_model=BatchResult,
        openapi_extra=_BATCH_BODY,
        dependencies=guard,
        responses=scoring_errors,
        summary="Score up to THRESHER_MAX_BATCH articles",
        description="Answers `{results: [...]}` in the order of `articles`; a bad item gets `{id, error}` in its "
        "place and the others are scored.",
    )
    async def score_batch(request: Request, explain: bool = True) -> Response:
        _once(request, ("explain",))
        for name in ("title", "url", "lang"):
            if name in request.query_params:  # /v1/score's, for text/plain bodies: dropped here without a word
                raise ApiError(422, "invalid", f"query parameter '{name}' is not read by /v1/score/batch; send it in "
                               f"each article: {{\"articles\": [{{\"text\": ..., \"{name}\": ...}}]}}")
        media, params = _media_type(request)
        if media != "application/json" and not media.endswith("+json"):
            raise ApiError(415, "unsupported_media_type",
                           f"Content-Type '{media or '(none)'}' is not accepted; send application/json")
        payload = _json_body(await _read_body(request, settings.max_body_bytes), params.get("charset"))
        if not isinstance(payload, dict) or not isinstance(payload.get("articles"), list):
            raise ApiError(422, "invalid", "expected a JSON object {\"articles\": [{\"text\": ...}, ...]}")
        items = payload["articles"]
        if len(items) > settings.max_batch:
            raise ApiError(422, "too_many_articles",
                           f"{len(items)} articles in one batch; at most {settings.max_batch} (THRESHER_MAX_BATCH)")
        m = current()
        start = time.perf_counter()

        def run_all() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for index, item in enumerate(items):
                try:
                    out.append(_score(_article(item), m, explain))
                except ApiError as exc:
                    out.append({"id": _item_id(item), "index": index, **exc.body()})
            return out

        results = await run_scoring(run_all)
        for r in results:
            if "error" in r:
                metrics.reject(r["error"]["code"])
            else:
                metrics.observe_score(r["score"], r["verdict"], m.version)
        return JSONResponse({"results": results, "elapsed_ms": round((time.perf_counter() - start) * 1000, 3)})

    @app.get("/healthz", summary="The process is up", responses={200: {"content": {"application/json": {}}}})
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="A verified model is loaded and warmed up", responses=_errors(503))
    async def readyz() -> Response:
        slot = state["slot"]
        if slot is None:
            return _error_response(ApiError(503, "not_ready", "the model is still loading"))
        return JSONResponse({"status": "ready", "model": {"name": slot.model.name, "version": slot.model.version}})

    # Probes may send HEAD (RFC 9110: what answers GET answers HEAD; uvicorn leaves the body out)
    for path, probe in (("/healthz", healthz), ("/readyz", readyz)):
        app.add_api_route(path, probe, methods=["HEAD"], include_in_schema=False)

    @app.get("/v1/model", response_model=ModelInfo, dependencies=guard, responses=_errors(*auth, 503),
             summary="The model being served: name, version, metrics, thresholds, feature names")
    async def model_info() -> Response:
        m = current()
        man = m.manifest
        return JSONResponse({
            "name": m.name, "version": m.version, "created": man.get("created"), "metrics": man.get("metrics", {}),
            "thresholds": m.thresholds, "feature_names": man.get("feature_names", []), "manifest": man,
        })

    @app.post("/v1/model/reload", response_model=ReloadResult,
              responses=reload_errors,
              summary="Load THRESHER_MODEL_DIR again, verify it, swap it in (needs THRESHER_ADMIN_TOKEN)",
              description="With one worker the answer comes once the new model serves (`workers`: `this process`). "
              "With several, once the folder is verified: the supervisor then verifies its own copy and replaces "
              "the workers one by one (`workers`: `restarting`); `thresher_model_workers` shows the progress and "
              "`thresher_model_reloads_total` the outcome.")
    async def reload(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Response:  # noqa: B008
        if settings.admin_token is None:
            raise ApiError(403, "reload_disabled", "model reload is disabled: the server has no THRESHER_ADMIN_TOKEN")
        given = (credentials.credentials if credentials else "").encode()
        if not secrets.compare_digest(given, settings.admin_token.get_secret_value().encode()):
            raise ApiError(401, "unauthorized", "send 'Authorization: Bearer TOKEN' with the server's admin token")
        if settings.supervisor_pid:
            return await reload_all(settings.supervisor_pid)
        try:
            old, new = await do_reload("POST /v1/model/reload")
        except ModelError as exc:
            raise ApiError(409, "model_refused", f"the model in {settings.model_dir} was refused and the old one "
                           f"stays in service: {exc}") from exc
        return JSONResponse({"reloaded": True, "previous_version": old.version, "version": new.version,
                             "name": new.name, "workers": "this process"})

    async def reload_all(supervisor: int) -> Response:
        """Several workers: verify the folder here, so that a bad model is refused with 409 at once; then the
        supervisor verifies its own copy of it and replaces the workers one by one (it counts and logs the
        outcome). No worker swaps alone: all of them serve one model."""
        old = current()
        try:
            new = await anyio.to_thread.run_sync(load_model, settings.model_dir)
        except ModelError as exc:
            metrics.reloads.labels("refused").inc()
            log.error("POST /v1/model/reload: the model in %s was refused; no worker was replaced, all still serve "
                      "%s %s: %s", settings.model_dir, old.name, old.version, exc)
            raise ApiError(409, "model_refused", f"the model in {settings.model_dir} was refused and the old one "
                           f"stays in service: {exc}") from exc
        try:
            os.kill(supervisor, signal.SIGHUP)
        except OSError as exc:
            raise ApiError(503, "not_ready", f"the supervisor (process {supervisor}) cannot be reached: {exc}") from exc
        log.info("POST /v1/model/reload: model %s %s verified; the supervisor verifies its copy and replaces the "
                 "workers one by one", new.name, new.version)
        return JSONResponse({"reloaded": True, "previous_version": old.version, "version": new.version,
                             "name": new.name, "workers": "restarting"})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/docs", include_in_schema=False)
    @app.get("/redoc", include_in_schema=False)
    async def no_docs() -> Response:
        raise ApiError(404, "not_found", "this server has no interactive docs page (it would need a CDN, and "
                       "Thresher works offline); the OpenAPI schema is at /openapi.json")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.settings = settings
    app.state.metrics = metrics
    return app
