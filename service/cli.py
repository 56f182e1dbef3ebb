"""The ``thresher`` command line. Argument parsing only: the work is in scoring and training modules."""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import logging
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, cast

import numpy as np
import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from service.model import DEFAULT_MODEL_DIR, Model, ModelError, load_model
from service.scoring import TextTooLargeError, score_text, shown_score
from service.surrogates import IdError, has_lone_surrogate, id_text, name_text, number_too_long, utf8_safe
from training.document import EmptyDocumentError

if TYPE_CHECKING:
    from training.labels import LabeledSet



def _untyped_flags(params: list[Any]) -> list[Any]:
    """Typer's help shows a type beside every option, ``--help <bool>`` and ``--force <bool>`` included,
    though an on/off flag takes no value: an empty metavar leaves the flags' type column blank."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True,
                  help="Thresher: how reliable is this crawled text, and why.")
log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEMO_MIN_CONTRIBUTION = 0.25  # log-odds; smaller reasons are noise in a summary table

ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="Model folder (default: $THRESHER_MODEL_DIR, else models/default)."),
]


class InputError(ValueError):
    """A document that cannot be scored, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def model_dir(option: Path | None) -> Path:
    """--model, else THRESHER_MODEL_DIR, else the shipped default model."""
    if option is not None:
        return option
    env = os.environ.get("THRESHER_MODEL_DIR")
    return Path(env) if env else DEFAULT_MODEL_DIR


def _load(option: Path | None) -> Model:
    try:
        return load_model(model_dir(option))
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise InputError("too_large", f"document has {len(data)} bytes; the limit is {max_bytes} (--max-bytes)")


def _read_document(name: str, max_bytes: int) -> bytes:
    """A file's or standard input's (``-``) bytes, read no further than ``max_bytes`` + 1: a larger one is
    ``too_large`` without being held in memory (a crawl dump given by mistake, /dev/zero)."""
    with contextlib.ExitStack() as stack:
        handle = sys.stdin.buffer if name == "-" else stack.enter_context(open(name, "rb"))  # noqa: SIM115
        if name != "-":
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:  # a regular file: its size is known without reading it
                raise InputError("too_large", f"document has {size} bytes; the limit is {max_bytes} (--max-bytes)")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError("too_large", f"document has more than {max_bytes} bytes; the limit is {max_bytes} "
                         "(--max-bytes)")
    return data


def decode_document(data: bytes, *, max_bytes: int, html: bool = False) -> tuple[str, str]:
    """A file's or standard input's bytes to (text, encoding), decoded as ``thresher scan`` decodes them: a
    byte-order mark, else UTF-8, else (``html``) the page's declared charset, else the detected encoding.
    :class:`InputError` with a code: ``too_large``, ``binary``, ``not_utf8`` (no encoding decodes it)."""
    from service.scan.sources import ReadProblem, decode_text, html_declared_charset

    _check_size(data, max_bytes)
    try:
        return decode_text(data, declared=html_declared_charset(data) if html else None)
    except ReadProblem as exc:
        raise InputError(exc.code, str(exc)) from exc  # the message thresher scan gives the same bytes


def decode_json_line(data: bytes, *, max_bytes: int) -> str:
    """A JSONL line to text: JSON is UTF-8, so no other encoding is guessed. :class:`InputError` with a
    code: ``too_large``, ``binary``, ``not_utf8``."""
    _check_size(data, max_bytes)
    if b"\x00" in data[:8192]:
        raise InputError("binary", "document looks binary (it contains NUL bytes); expected text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("not_utf8", f"line is not valid UTF-8 (byte {exc.start}); JSONL is JSON, which is "
                         "always UTF-8: re-encode the file as UTF-8") from exc


def _score_one(text: str, *, model: Model, doc_id: str, explain: bool, title: str | None = None,
               url: str | None = None, lang: str | None = None, empty: str | None = None) -> dict[str, Any]:
    """score_text, with empty or too large text as an InputError (``empty``: the message for an empty one)."""
    try:
        return score_text(text, model=model, doc_id=doc_id, explain=explain, title=title, url=url, lang=lang)
    except EmptyDocumentError as exc:
        raise InputError("empty", empty or str(exc)) from exc
    except TextTooLargeError as exc:
        raise InputError("too_large", str(exc)) from exc


def _record_context(row: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A JSONL record's ``title``, ``url`` and ``lang``, read as ``POST /v1/score`` and the scan read them
    (:func:`service.scan.sources.record_context`); :class:`InputError` with the scan's code and message."""
    from service.scan.sources import ReadProblem, record_context

    try:
        return record_context(row)
    except ReadProblem as exc:
        raise InputError(exc.code, str(exc)) from exc


def _score_html(html: str, *, model: Model, doc_id: str, explain: bool, title: str | None = None,
                url: str | None = None, lang: str | None = None) -> dict[str, Any]:
    """A page scored as ``thresher scan`` scores it: its main text (trafilatura, told the page's ``url``),
    the record's ``title`` else the page's, and what was measured of the page (``html``: how much of its
    visible text is boilerplate)."""
    from service.scan.sources import _cheap_title, extract_html

    text, extracted_title, page = extract_html(html, url)
    title = title or _cheap_title(html) or extracted_title  # in the scan's order
    rec = _score_one(text, model=model, doc_id=doc_id, explain=explain, title=title, url=url, lang=lang,
                     empty="no text to score: no visible text could be extracted from the HTML")
    rec["html"] = page
    return rec


def _error_record(doc_id: str, err: InputError) -> dict[str, Any]:
    return {"id": doc_id, "error": {"code": err.code, "message": str(err)}}


def _emit(record: dict[str, Any], out: Any) -> None:
    try:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise _write_failed(out, exc) from exc


def _write_failed(out: Any, exc: OSError) -> typer.Exit:
    """Exit 2 saying why ``out`` cannot be written (a full disk, a closed pipe), not a traceback and exit 1 (which
    says that a document got an error record). Standard output then goes to the null device: the records still
    in its buffer would fail again when Python flushes it at exit."""
    where = "standard output" if out is sys.stdout else getattr(out, "name", "the output")
    if out is sys.stdout:
        _to_null_device(sys.stdout)
        if isinstance(exc, BrokenPipeError):  # `| head`: the reader has what it wanted; no message, as cat does
            return typer.Exit(2)
    return _usage_error(f"cannot write {where}: {exc.strerror or exc}")


def _to_null_device(stream: Any) -> None:
    """Point ``stream``'s file descriptor at the null device: what is written to it afterwards is dropped."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)


def _stderr_gone() -> None:
    """Standard error cannot be written (its reader is gone: ``2>&1 | head``): point it at the null device, so
    that a scan goes on, writes its output and says nothing more, instead of abandoning hours of scoring
    because a progress line could not be shown. What Python still holds in its buffer is flushed there."""
    _to_null_device(sys.stderr)
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()


def _say(message: str) -> None:
    """A line on stderr that only informs (the scan's notes): a closed stream does not stop the work."""
    try:
        typer.echo(message, err=True)
    except OSError:
        _stderr_gone()


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _check_text_field(text_field: str) -> None:
    """--text-field names a field: '' names none (every record would be read from 'html', else be 'no_text')."""
    if not text_field:
        raise _usage_error("--text-field is empty; give the name of the field (the column, in Parquet) that holds "
                           "the text, such as 'text' (the default) or 'body'")


def _check_out_file(out: Path, option: str = "--out", example: str = "scored.jsonl") -> None:
    """Refuse, before any work, an output path that cannot be a file: an existing folder, or a path under
    a file. Missing parent folders are fine: they are created."""
    if out.is_dir():
        raise _usage_error(f"{option} {out} is a folder; give a file path, e.g. {out / example}")
    _check_writable_from(out.parent, out, option)


def _check_writable_from(start: Path, out: Path, option: str) -> Path:
    """The nearest existing folder at or above ``start`` (where the missing ones are created), refused when it
    is a file or cannot be written in."""
    parent = start
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise _usage_error(f"{option} {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _usage_error(f"{option} {out}: cannot write in {parent} (permission denied)")
    return parent


def _check_outputs_apart(inputs: list[Path], outputs: list[tuple[str, Path]], *, read_as: str = "scanned") -> None:
    """Refuse, before any work, an output that would destroy or be read as an input: a file given as an input,
    a path inside a folder that is scanned (the next scan would read this one's output as documents), a hard
    link to a file in such a folder (the same file: the journal, written in place, would overwrite it), or
    the same file as another output."""
    sources = []
    for p in inputs:
        try:
            sources.append((p, p.resolve(), p.is_dir()))
        except (OSError, RuntimeError):  # a symlink loop: no output can be in it
            continue
    seen: dict[Path, str] = {}
    for option, out in outputs:
        try:
            where = out.resolve()
        except (OSError, RuntimeError) as exc:  # a symbolic link loop
            raise _usage_error(f"{option} {out} cannot be resolved: {exc}") from exc
        for given, source, folder in sources:
            if where == source or _same_file(out, given):  # a hard link is the same file under another name
                raise _usage_error(f"{option} {out} is an input ({given}): writing it would destroy what is read; "
                                   "write elsewhere")
            if folder and where.is_relative_to(source):
                later = ("a later scan would read it as crawled documents" if read_as == "scanned" else
                         "a later run would read what is written there as labeled documents")
                raise _usage_error(f"{option} {out} is inside the {read_as} folder {given}: {later}; write it "
                                   f"outside the folders {read_as}")
            linked = _hard_linked_in(out, source) if folder else None
            if linked is not None:
                raise _usage_error(f"{option} {out} is a hard link to {linked}, in the {read_as} folder {given}: "
                                   "writing it would destroy what is read; write elsewhere")
        if where in seen:
            raise _usage_error(f"{option} {out} is the same file as {seen[where]}; give each output its own path")
        seen[where] = f"{option} {out}"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _hard_linked_in(out: Path, folder: Path) -> Path | None:
    """The file under ``folder`` (symbolic links followed, as a scan does) that ``out`` is a hard link to, if
    any. Only an existing regular file with more than one link is looked for, so a usual output costs no walk."""
    try:
        st = out.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_nlink < 2:
        return None
    ident = (st.st_dev, st.st_ino)
    try:
        top_st = folder.stat()
    except OSError:
        return None
    seen = {(top_st.st_dev, top_st.st_ino)}
    stack = [folder]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                est = os.stat(entry.path)  # follows symbolic links
            except OSError:
                continue
            if stat.S_ISDIR(est.st_mode):
                if (est.st_dev, est.st_ino) not in seen:
                    seen.add((est.st_dev, est.st_ino))
                    stack.append(Path(entry.path))
            elif (est.st_dev, est.st_ino) == ident:
                return Path(entry.path)
    return None


def _check_out_folder(out: Path, option: str = "--out", *, replaced: bool = False) -> None:
    """Refuse, before any work, an output folder path that is an existing file, lies under a file, or is
    in a folder this process cannot write in (training would otherwise fail only at its end); ``replaced``:
    the folder is written beside and renamed into place (train), so its parent must be writable too."""
    if out.exists() and not out.is_dir():
        raise _usage_error(f"{option} {out} is a file; give a folder path (it is created)")
    parent = _check_writable_from(out, out, option)
    if replaced and parent == out and out.exists():  # a new folder is made beside this one, then renamed
        beside = out.resolve().parent
        if not os.access(beside, os.W_OK | os.X_OK):
            raise _usage_error(f"{option} {out}: cannot write in {beside} (permission denied), where the new folder "
                               "is written before it replaces this one")


class _Stop:
    """Ctrl-C and SIGTERM during ``train`` and ``eval``: the command ends at once, exit 130, after removing
    what it was writing (``discard``), and says so. Not an exception: a library's bare ``except`` (langdetect's
    profile loader has one) would swallow or rewrap it into a traceback. Once ``committing`` (the renames
    that put a finished folder in place) a stop is ignored: the work is done, and the command ends as it
    would have."""

    def __init__(self, said: str) -> None:
        self.said = said
        self.discard: list[Path] = []
        self.committing = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.committing:
            return
        for p in self.discard:
            shutil.rmtree(p, ignore_errors=True)
        sys.stderr.write(f"\ninterrupted: {self.said}\n")
        sys.stderr.flush()
        os._exit(130)  # the pool's workers leave within a second of this process (training.parallel)


@contextlib.contextmanager
def _stopping(said: str) -> Iterator[_Stop]:
    """While the block runs, Ctrl-C and SIGTERM (docker stop, timeout, a cancelled CI job) end the command as
    :class:`_Stop` says."""
    stop = _Stop(said)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _model_folder_lock(out: Path) -> Iterator[None]:
    """One training at a time into ``out`` (a resolved path): a second one is refused (exit 2) instead of
    replacing the first's model with its own while the first still reports success."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    while True:
        try:
            fd = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o666)  # read-only: anyone may lock a file they can read
        except OSError as exc:
            raise _usage_error(f"cannot create the lock {lock}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise _usage_error(f"another thresher train is writing {out}; wait for it to finish") from exc
        try:  # the file locked is still the lock's: not one its last holder removed after this opened it
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # removed while held, so that no lock file stays beside OUT
            lock.unlink()
        os.close(fd)  # closing releases the lock


def _staging(out: Path, stop: _Stop) -> Path:
    """A new, empty folder beside ``out`` to write its replacement in, removed if the command is stopped."""
    staged = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    stop.discard.append(staged)
    # mkdtemp makes it private (0700); it becomes OUT, a folder like any other: readable as the umask allows
    # (a model trained by one user is served by another, e.g. a service account)
    umask = os.umask(0)
    os.umask(umask)
    staged.chmod(0o777 & ~umask)
    return staged


def _replace_folder(staged: Path, out: Path, stop: _Stop) -> None:
    """Put the complete folder ``staged`` in the place of ``out`` (a resolved path, on the same filesystem):
    a model folder is never half-written, and an interrupted training leaves the model that was there.
    Entries of the old ``out`` that training does not write (a README, notes, links) are moved into the
    new folder first, as they are; one that cannot be moved stops the command before anything is replaced.
    From here on a stop is ignored (:class:`_Stop`)."""
    stop.committing = True
    if not out.is_dir():
        staged.rename(out)
        return
    moved: list[str] = []
    for entry in sorted(out.iterdir()):
        if (staged / entry.name).exists() or (staged / entry.name).is_symlink():
            continue  # written by training: the new one replaces it
        try:
            entry.rename(staged / entry.name)
        except OSError as exc:
            for name in moved:  # back where they were: nothing is replaced
                (staged / name).rename(out / name)
            typer.echo(f"error: cannot move {entry} into the new folder ({exc.strerror or exc}); {out} is as it "
                       "was, the new model is not written", err=True)
            raise typer.Exit(1) from exc
        moved.append(entry.name)
    holder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    out.rename(holder / "replaced")
    try:
        staged.rename(out)
    except OSError:
        (holder / "replaced").rename(out)
        raise
    shutil.rmtree(holder, ignore_errors=True)


def _open_jsonl(path: Path) -> IO[bytes]:
    """``path`` for reading bytes (``-``: standard input); a gzip-compressed file (``.jsonl.gz``: told by its
    magic number) is read decompressed."""
    raw = path.open("rb") if str(path) != "-" else sys.stdin.buffer
    if not hasattr(raw, "peek"):  # standard input that is no buffered stream
        raw = io.BufferedReader(raw)  # type: ignore[arg-type]
    if raw.peek(2)[:2] == b"\x1f\x8b":  # peek, not seek: a pipe (--jsonl <(cat ...)) works too
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]  # raw: see _jsonl_lines
    return raw


@app.command(cls=_Command)
def score(
    files: Annotated[list[str] | None, typer.Argument(help="Text files to score; '-' reads standard input.")] = None,
    jsonl: Annotated[list[Path] | None, typer.Option("--jsonl", help="JSONL input: records with 'text' and optional "
                                                     "'id', 'title', 'url', 'lang', as POST /v1/score takes them "
                                                     "(gzip-compressed .jsonl.gz is read as well; '-' reads standard "
                                                     "input). Repeat it for several files, read in the order given."
                                                     )] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write JSONL here instead of standard output "
                                             "(missing parent folders are created; '-': standard output).")] = None,
    model: ModelOpt = None,
    text_field: Annotated[str, typer.Option("--text-field", help="JSONL field holding the text.")] = "text",
    max_bytes: Annotated[int, typer.Option("--max-bytes", min=1, help="Largest document accepted, in bytes.")
                         ] = DEFAULT_MAX_BYTES,
    explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Include evidence and line labels.")] = True,
) -> None:
    """Score documents: one JSON object per document, in input order (FILEs, then each --jsonl). Unscorable ones
    get an 'error'.

    Exit code 0 when every document was scored, 1 when any got an error record, 2 on a usage or model error, 130 when interrupted."""
    jsonls = jsonl or []
    if not files and not jsonls:
        raise _usage_error("give FILE... or '-' or --jsonl IN.jsonl")
    _check_text_field(text_field)
    if out is not None and str(out) == "-":  # '-' is standard output here, as it is standard input for FILE
        out = None
    if out is not None:
        _check_out_file(out)
    jsonl_dashes = [str(j) for j in jsonls].count("-")
    if jsonl_dashes and "-" in (files or []):
        raise _usage_error("'-' and --jsonl - both read standard input; give one of them")
    if jsonl_dashes > 1:  # the second read would find it at its end: its records silently missing
        raise _usage_error(f"--jsonl - is given {jsonl_dashes} times; standard input can be read once")
    dashes = (files or []).count("-")
    if dashes > 1:  # the second read found it at its end: an 'empty' record for a text never sent
        raise _usage_error(f"'-' is given {dashes} times; standard input can be read once")
    named_jsonl = [j for j in jsonls if str(j) != "-"]
    for j in named_jsonl:
        if j.is_dir() or not j.exists():
            raise _usage_error(f"cannot open {j}: {'it is a folder' if j.is_dir() else 'no such file'}")
    named = [Path(f) for f in files or [] if f != "-"]
    missing = [str(p) for p in named if not p.exists()]
    if missing:
        raise _usage_error(f"no such file: {', '.join(missing)}")
    folders = [str(p) for p in named if p.is_dir()]
    if folders:
        raise _usage_error(f"{', '.join(folders)}: a folder; score takes files (thresher scan walks folders)")
    if out is not None:
        _check_outputs_apart(named + named_jsonl, [("--out", out)])
    from service.scan.sources import source_format

    for p in named:  # files of many documents: scored as one text (JSONL) or refused as binary (gzip, Parquet)
        fmt = source_format(p.name)
        if fmt == "jsonl":
            raise _usage_error(f"{p}: a JSONL file holds one document per line; give it as --jsonl {p}, or scan it "
                               f"with thresher scan {p} --out scored.jsonl")
        if fmt in ("json", "parquet", "warc"):
            raise _usage_error(f"{p}: a {fmt.upper()} file holds documents of its own; scan it with thresher scan {p} "
                               "--out scored.jsonl (score FILE reads a text, .md or .html file as one document)")
    m = _load(model)
    handles: list[tuple[Path, IO[bytes]]] = []  # every --jsonl opened before anything is written: one that
    for j in jsonls:  # cannot be is a usage error with no output, not one after the records of the others
        try:
            handles.append((j, _open_jsonl(j)))
        except OSError as exc:
            for _, h in handles:
                h.close()
            raise _usage_error(f"cannot open {j}: {exc.strerror or exc}") from exc
    failures = 0
    total = 0
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            sink: IO[str] = out.open("w", encoding="utf-8")
        except OSError as exc:
            raise _usage_error(f"cannot write {out}: {exc.strerror or exc}") from exc
    else:
        sink = sys.stdout
    try:
        for name in files or []:
            total += 1
            shown = name_text(name)  # a name that is not UTF-8 with its bytes escaped, as the scan shows it
            try:
                data = _read_document(name, max_bytes)
                is_html = name.lower().endswith((".html", ".htm"))
                body, encoding = decode_document(data, max_bytes=max_bytes, html=is_html)
                if is_html:  # the page's main text, as thresher scan reads it
                    rec = _score_html(body, model=m, doc_id=shown, explain=explain)
                else:
                    rec = _score_one(body, model=m, doc_id=shown, explain=explain)
                rec["path"] = shown
                if encoding != "utf-8":  # as in thresher scan's records
                    rec["input"] = {"encoding": encoding}
            except InputError as exc:
                rec = _error_record(shown, exc)
            except OSError as exc:
                rec = _error_record(shown, InputError("unreadable", f"cannot read {shown}: {exc.strerror or exc}"))
            failures += "error" in rec
            _emit(rec, sink)
        for jsonl_path, handle in handles:
            shown_jsonl = name_text(str(jsonl_path))  # each record's default id is shown_jsonl:LINE
            for lineno, raw, too_long in _jsonl_lines(handle, max_bytes):
                if raw is None:  # a damaged gzip stream: nothing more can be read
                    total += 1
                    failures += 1
                    _emit(_error_record(f"{shown_jsonl}:{lineno}", InputError(
                        "bad_archive", f"the gzip stream breaks off at line {lineno}; lines before it were read")
                    ), sink)
                    break
                if not too_long and not raw.strip():
                    continue
                total += 1
                rid = f"{shown_jsonl}:{lineno}"
                given_url = None  # the record's url, kept in its output record as the scan keeps it
                try:
                    if too_long:
                        raise InputError("too_large", f"line {lineno} has more than {max_bytes} bytes; the limit is "
                                         f"{max_bytes} (--max-bytes)")
                    line = decode_json_line(raw, max_bytes=max_bytes)
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:  # the whole message: what, and where in the line
                        raise InputError("bad_json", f"line {lineno} is not valid JSON: {exc}") from exc
                    except RecursionError as exc:
                        raise InputError("bad_json", f"line {lineno} is not valid JSON: nested too deeply") from exc
                    except ValueError as exc:  # an integer over Python's 4,300 digits
                        raise InputError("bad_json", f"line {lineno} cannot be read as JSON: {number_too_long(exc)}"
                                         ) from exc
                    if not isinstance(row, dict):
                        raise InputError("bad_record", f"line {lineno} is not a JSON object")
                    if row.get("id") not in (None, ""):  # as the scan reads ids: JSON text for a non-string
                        try:
                            rid = id_text(row["id"])
                        except IdError as exc:  # 1e400: no JSON text to give it; the record is named by its line
                            raise InputError("bad_record", str(exc)) from exc
                    if isinstance(row.get("url"), str) and row["url"]:
                        given_url = utf8_safe(row["url"])
                    from service.scan.sources import record_text

                    text, field, is_html = record_text(row, text_field)  # as the scan reads a record
                    if not isinstance(text, str):
                        raise InputError("no_text", f"record has no string field '{text_field}' (nor 'html')")
                    if has_lone_surrogate(text):
                        raise InputError("not_utf8", f"'{field}' holds an unpaired surrogate "
                                         "(\\ud800-\\udfff): not valid Unicode")
                    title, url, lang = _record_context(row)
                    if is_html:  # a crawl record's page: its main text, as thresher scan scores it
                        rec = _score_html(text, model=m, doc_id=rid, explain=explain, title=title, url=url,
                                          lang=lang)
                    else:
                        rec = _score_one(text, model=m, doc_id=rid, explain=explain, title=title, url=url,
                                         lang=lang)
                except InputError as exc:
                    rec = _error_record(rid, exc)
                if given_url is not None:
                    rec = {"id": rec.pop("id"), "url": given_url, **rec}
                failures += "error" in rec
                _emit(rec, sink)
        try:
            sink.flush()
        except OSError as exc:
            raise _write_failed(sink, exc) from exc
    finally:
        for _, h in handles:  # each is closed once read; these are those an interruption left unread
            with contextlib.suppress(OSError):
                h.close()
        if out is not None:
            with contextlib.suppress(OSError):  # flushed above, or a write failed and was told: nothing to add
                sink.close()
    if failures:
        typer.echo(f"{failures} of {total} document(s) could not be scored (see their 'error' field)", err=True)
        raise typer.Exit(1)


def _jsonl_lines(handle: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | None, bool]]:
    """(line number, line, too long) of an open JSONL file, then closes it; a line over ``max_bytes`` is skipped
    in chunks, never held in memory (its line is empty); a damaged gzip stream ends the lines with (its line
    number, None, False). A file saved as UTF-16 or UTF-32 (PowerShell's default) is read as the scan reads it:
    its lines, as UTF-8."""
    from service.scan.sources import NUL_WINDOW, _read_line, jsonl_lines_of

    raw = getattr(handle, "fileobj", None)
    lineno = 0
    try:
        try:
            start = handle.peek(NUL_WINDOW)[:NUL_WINDOW]  # type: ignore[attr-defined]  # peek: stdin works too
        except (EOFError, gzip.BadGzipFile, zlib.error):
            start = b""
        lines, _ = jsonl_lines_of(handle, start[: len(start) - len(start) % 2])
        while True:
            try:
                line, too_long = _read_line(lines, max_bytes)
            except (EOFError, gzip.BadGzipFile, zlib.error):
                yield lineno + 1, None, False
                return
            if not line and not too_long:
                return
            lineno += 1
            yield lineno, line, too_long
    finally:
        handle.close()
        if raw is not None:
            raw.close()


def _read_labeled(paths: list[Path], builtin: list[Any] | None = None, *, out: Path | None = None) -> LabeledSet:
    """The labeled fixtures in ``paths`` (checked against the ``builtin`` examples, see read_labeled), with
    what was skipped, merged or dropped told on stderr. ``out`` (the command's --out): refused when it lies
    in a folder read as labeled data through a symbolic link (the path itself was checked before)."""
    from training.dataset import FixtureError
    from training.labels import read_labeled

    try:
        labeled = read_labeled(paths, builtin=builtin or [])
    except FixtureError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    where = out.resolve() if out is not None else None
    inside = next((f for f in labeled.folders if where is not None and where.is_relative_to(f)), None)
    if out is not None and inside is not None:
        raise _usage_error(f"--out {out} is inside {inside}, a folder read as labeled data (reached through a "
                           "symbolic link in a labeled folder): a later run would read what is written there as "
                           "labeled documents; write it outside the folders labeled")
    for line in labeled.summary_lines():
        typer.echo(line, err=True)
    return labeled


@app.command(cls=_Command)
def train(
    out: Annotated[Path | None, typer.Option("--out", show_default=False, help="Model folder to write, e.g. "
                                             "models/mine (required).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model name (default: the folder's name).")] = None,
    fixtures: Annotated[list[Path] | None, typer.Option(
        "--fixtures", help="Labeled fixtures: JSONL, CSV, a folder with reliable/ and unreliable/, or scan output "
        "with a 'label' column. Repeat for several.")] = None,
    no_builtin: Annotated[bool, typer.Option("--no-builtin", help="Leave out the project's own fixtures.")] = False,
    names: Annotated[Path | None, typer.Option("--names", help="Extra entity names, one per line.")] = None,
    base: Annotated[Path | None, typer.Option("--base", help="Model to beat: refuse a new model that is worse.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write the model even when the gate refuses it.")] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Seed of the generated fixtures, the "
                                      "folds and the fits.")] = 0,
    cv: Annotated[int, typer.Option("--cv", min=2, help="Cross-validation folds.")] = 5,
    shuffle_labels: Annotated[bool, typer.Option(
        "--shuffle-labels", help="A control: fit the classifier to permuted labels (metrics and the gate still "
        "use the true ones). The gate must refuse the result.")] = False,
    line_model_from: Annotated[Path | None, typer.Option(
        "--line-model-from", help="Use this model's line model as it is instead of fitting one (most of the "
        "training time): for retraining on document-level labels, e.g. --line-model-from models/default.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, show_default=False, help="Processes for featurising "
                                          "and scoring; 0 (the default): all cores. Results do not depend on it.")
                       ] = 0,
    names_from: Annotated[Path | None, typer.Option(
        "--names-from", help="Keep this model's entity lexicon (the names it knows) beside the names learned from "
        "your reliable documents, e.g. --names-from models/default with --no-builtin, which otherwise knows only "
        "your documents' names.")] = None,
) -> None:
    """Train the line model, the entity lexicon and the calibrated classifier; report cross-validated metrics; with --base, refuse a model that is worse beyond noise on documents the base was not trained on (or than the base's own cross-validated figures on the same documents); write a verified model folder.

    Exit code 0 when the model is written, 2 on a usage, fixture or model error, 3 when the --base gate refuses the new model (nothing written without --force; the report goes to OUT.refused/)."""
    if out is None:  # no default: it would be models/default, and training would overwrite the shipped model
        raise _usage_error("--out is required: the folder to write the model to, e.g. --out models/mine "
                           "(the shipped models/default is rebuilt by make model)")

    if name is not None and (not name.strip() or any(unicodedata.category(c) == "Cc" for c in name)):
        raise _usage_error(f"--name {name!r}: a model's name is shown in reports, /v1/model and /metrics; give "
                           "one line of visible text, e.g. --name mine")
    _check_out_folder(out, replaced=True)
    target = out.resolve()  # a link to a model folder: the folder it points to is the one replaced
    if Path.cwd().resolve().is_relative_to(target):
        raise _usage_error(f"--out {out} is the current folder or holds it; give a folder of its own, e.g. models/mine")
    if target.is_dir() and os.path.ismount(target):
        raise _usage_error(f"--out {out} is a mount point: a model is written beside its folder and renamed into "
                           f"place; give a folder inside it, e.g. {out / 'mine'}")
    if fixtures:
        _check_outputs_apart(list(fixtures), [("--out", out)], read_as="labeled")
    with _model_folder_lock(target), _stopping(f"nothing was written; {out} is as it was") as stop:
        _train(out, target, stop, name=name or out.name or target.name, fixtures=fixtures, no_builtin=no_builtin, names=names,
               base=base, force=force, seed=seed, cv=cv, shuffle_labels=shuffle_labels,
               line_model_from=line_model_from, workers=workers, names_from=names_from)


def _train(out: Path, target: Path, stop: _Stop, *, name: str, fixtures: list[Path] | None, no_builtin: bool, names: Path | None,
           base: Path | None, force: bool, seed: int, cv: int, shuffle_labels: bool, line_model_from: Path | None,
           workers: int, names_from: Path | None) -> None:
    from training.dataset import FIXTURES_DIR, builtin_examples, fixture_hash
    from training.evaluation import evaluate, metrics_json, write_report
    from training.features import FEATURE_NAMES
    from training.parallel import default_workers
    from training.train import DEFAULT_THRESHOLDS, METRICS_FILE, save_model
    from training.train import train as run_training
    from training.vocabulary import EntityLexicon, LexiconError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    examples = [] if no_builtin else builtin_examples(seed=seed)
    builtin_ids = {id(ex) for ex in examples}  # which documents are the project's (for the --base gate)
    builtin_hash = fixture_hash(sorted(FIXTURES_DIR.glob("*.jsonl")))
    sources: dict[str, str] = {}
    if not no_builtin:
        sources["builtin"] = builtin_hash
    labeled = None
    if fixtures:
        labeled = _read_labeled(fixtures, builtin=examples, out=out)
        examples = labeled.builtin + labeled.examples
        sources.update(labeled.sources)
    extra_names: list[str] = []
    if names is not None:
        try:
            extra_names = EntityLexicon.read_user_names(names)
        except LexiconError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    base_model = _load(base) if base is not None else None
    loaded: dict[Path, Model] = {base.resolve(): base_model} if base is not None and base_model is not None else {}

    def other_model(folder: Path) -> Model:  # --line-model-from and --names-from: loaded (verified) once
        if folder.resolve() not in loaded:
            loaded[folder.resolve()] = _load(folder)
        return loaded[folder.resolve()]

    line_model = other_model(line_model_from).resources.line_model if line_model_from is not None else None
    base_lexicon = other_model(names_from).resources.lexicon if names_from is not None else None
    if no_builtin and names_from is None:
        typer.echo("note: with --no-builtin the entity lexicon knows only the names in your reliable documents"
                   + (" and --names" if extra_names else "") + "; add --names-from models/default to keep the "
                   "shipped model's names as well (misspelled known names are then found)", err=True)
    workers = workers if workers > 0 else default_workers()
    # Without the built-in documents the classifier learns from the user's labels alone, but a line
    # model fitted here still needs pages with labeled boilerplate lines: the project's generated pages.
    line_examples = ([ex for ex in builtin_examples(seed=seed) if ex.line_labels is not None]
                     if no_builtin and line_model is None else [])
    if len(examples) < 2 * cv:
        typer.echo(f"error: {len(examples)} usable example(s); at least {2 * cv} are needed for --cv {cv}", err=True)
        raise typer.Exit(2)
    try:
        result = run_training(examples, seed=seed, cv=cv, extra_names=extra_names, line_examples=line_examples,
                              shuffle_labels=shuffle_labels, line_model=line_model, workers=workers,
                              base_lexicon=base_lexicon)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    warnings = [str(w) for w in cast(list, result.metrics.get("warnings") or [])]
    reused = [what for what, folder in (("line model", line_model_from), ("entity lexicon", names_from)) if folder]
    if reused and not no_builtin:  # the shipped model's parts were fitted on the built-in documents themselves
        warnings.append(f"the {' and the '.join(reused)} reused from another model (--line-model-from, --names-from) "
                        "may have been fitted on the built-in documents trained on here: on those the cross-validated "
                        "figures are in-sample for that part, and flattered; with --no-builtin they are not")
        result.metrics["warnings"] = warnings
    for warning in warnings:
        typer.echo(f"WARNING: {warning}", err=True)

    # The report: out-of-fold probabilities (each document scored by a model that did not see its article).
    clf = result.classifier
    p_oof = clf.calibrate_decision(clf.oof_decision_)
    _, contrib = clf.contributions(result.X)
    weights = np.array([ex.weight for ex in result.examples])
    report_metrics = evaluate(result.y, p_oof, result.examples, thresholds=dict(DEFAULT_THRESHOLDS), weights=weights,
                              feature_names=list(FEATURE_NAMES), contributions=contrib)
    if warnings:
        report_metrics["warnings"] = warnings
    comparison = None
    if base_model is not None:
        comparison = _gate_against_base(base_model, result, p_oof, weights,
                                        builtin=[id(ex) in builtin_ids for ex in result.examples],
                                        sources=sources, builtin_hash=builtin_hash, seed=seed, workers=workers)
        verdict = comparison["gate"]
        typer.echo(f"gate against {base_model.name} {base_model.version}: {verdict['reason']}", err=True)
        if verdict["passed"] is False and not force:
            side = out.with_name(out.name + ".refused")  # as the user named it; written where it resolves to
            refused = target.with_name(target.name + ".refused")
            side_staged = _staging(refused, stop)
            try:
                _write_refused_report(side_staged, result, report_metrics, comparison, name=name)
                _replace_folder(side_staged, refused, stop)  # whole, or not
            finally:
                shutil.rmtree(side_staged, ignore_errors=True)
            typer.echo(f"error: the new model is worse than the base beyond noise; nothing written to {out} "
                       f"(--force writes it anyway). Its report and figures: {side / 'report.html'}, "
                       f"{side / 'evaluation.json'}, {side / METRICS_FILE}", err=True)
            raise typer.Exit(3)
    # Written whole beside OUT, then put in its place: an interruption never leaves a half-written model
    # (the model that was in OUT stays, and loads).
    staged = _staging(target, stop)
    try:
        def model_ref(folder: Path | None) -> str | None:  # what another model is, not where it was
            return None if folder is None else f"{other_model(folder).name} {other_model(folder).version}"

        training: dict[str, object] = {
            "seed": seed, "cv": cv, "builtin": not no_builtin, "shuffle_labels": shuffle_labels,
            "line_model_from": model_ref(line_model_from), "names_from": model_ref(names_from),
            "extra_names": len(extra_names),
        }
        input_counts = ({"skipped": len(labeled.skipped), "duplicates": len(labeled.duplicates),
                         "conflicts": len(labeled.conflicts)} if labeled is not None else None)
        manifest = save_model(result, staged, name=name, fixture_sources=sources, training=training,
                              input_counts=input_counts)
        write_report(staged / "report.html", report_metrics,
                     title=f"Thresher model {manifest['name']} {manifest['version']}", comparison=comparison)
        (staged / "evaluation.json").write_text(metrics_json({**report_metrics, "gate": comparison["gate"]}
                                                             if comparison else report_metrics), encoding="utf-8")
        _replace_folder(staged, target, stop)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    metrics = result.metrics
    lexicon_from = f", {len(base_lexicon.names)} of them from {names_from}" if base_lexicon is not None else ""
    typer.echo(
        f"model {manifest['name']} version {manifest['version']} written to {out} (report: {out / 'report.html'}, "
        f"metrics: {out / METRICS_FILE})\n"
        f"documents {metrics['documents']} (reliable {metrics['reliable']}, unreliable {metrics['unreliable']}); "
        f"cross-validated ROC AUC {metrics['roc_auc']}, PR AUC {metrics['pr_auc']}, Brier {metrics['brier']}, "
        f"verdict accuracy {metrics['verdict_accuracy']}; {_line_model_summary(metrics['line_model'], line_model_from)}; "
        f"entity lexicon {len(result.lexicon.names)} names{lexicon_from}"
        + (f"\n{len(warnings)} WARNING(S), printed above and kept in metrics.json and the report: do not trust "
           "these figures as they stand" if warnings else "")
    )


def _gate_against_base(base_model: Model, result: Any, p_oof: np.ndarray, weights: np.ndarray, *,
                       builtin: list[bool], sources: dict[str, str], builtin_hash: str, seed: int,
                       workers: int) -> dict[str, Any]:
    """The --base gate, judged only on fair comparisons, as the report's ``comparison``.

    A base model's scores on documents it was trained on are in-sample and flatter it, so:
    1. on the documents the base was not trained on (its manifest's fixtures tell which it was), both models'
       scores are compared, paired (this model's are out-of-fold);
    2. when the other documents are exactly the ones the base was trained on, this model's out-of-fold scores
       on them are compared with the base's own cross-validated figures (its manifest).
    Refused when either finds the new model worse beyond noise; "not judged" (and not refused) when neither
    is possible."""
    from service.evaluation import score_examples
    from training.evaluation import base_overlap, evaluate, gate, gate_against_reference
    from training.train import DEFAULT_THRESHOLDS

    examples = result.examples
    n = len(examples)
    overlap = base_overlap(base_model.manifest, examples, builtin=builtin, run_sources=sources,
                           builtin_hash=builtin_hash)
    seen = [i for i in range(n) if overlap.seen[i]]
    unseen = [i for i in range(n) if not overlap.seen[i]]
    by = ", ".join(f"{k}: {v}" for k, v in sorted(overlap.seen_by.items()))
    split = (f"of the {n} documents, {len(seen)} were in the base model's training data ({by})" if seen else
             f"none of the {n} documents was in the base model's training data as far as its manifest tells")
    notes = [split + (f", {len(unseen)} were not" if seen else ""), *overlap.notes]
    checks: list[dict[str, Any]] = []
    sides: list[dict[str, Any]] = []
    if unseen:
        sub = [examples[i] for i in unseen]
        scored = score_examples(base_model, sub, workers=workers)
        if len(scored.examples) != len(sub):
            typer.echo("error: the base model could not score every document it is compared on", err=True)
            raise typer.Exit(2)
        idx = np.array(unseen)
        new_m = evaluate(result.y[idx], p_oof[idx], sub, thresholds=dict(DEFAULT_THRESHOLDS), weights=weights[idx])
        base_m = evaluate(scored.y, scored.p, sub, thresholds=base_model.thresholds, weights=weights[idx])
        check = gate(new_m, base_m, y=result.y[idx], p_new=p_oof[idx], p_base=scored.p, seed=seed)
        checks.append({"kind": "unseen", "title": f"On the {len(unseen)} documents the base model was not trained "
                       "on (both scored out of sample: this model out-of-fold)", **check})
        sides.append({"base": base_m, "new": new_m})
    reference = base_model.manifest.get("metrics") or {}
    base_docs = (base_model.manifest.get("fixture_counts") or {}).get("documents")
    if seen:
        if overlap.same_data and base_docs == len(seen) and reference.get("brier") is not None:
            idx = np.array(seen)
            sub = [examples[i] for i in seen]
            new_m = evaluate(result.y[idx], p_oof[idx], sub, thresholds=dict(DEFAULT_THRESHOLDS), weights=weights[idx])
            check = gate_against_reference(reference, y=result.y[idx], p_new=p_oof[idx], seed=seed)
            checks.append({"kind": "base_cv", "title": f"On the {len(seen)} documents the base model was trained on, "
                           "against its own cross-validated figures", **check})
            sides.append({"base": reference, "new": new_m})
        else:
            why = (f"its manifest counts {base_docs} training documents, {len(seen)} of them are here"
                   if overlap.same_data else "they are not exactly the documents its figures were measured on")
            notes.append(f"the {len(seen)} documents the base was trained on are left out: its scores on them are "
                         f"in-sample, and its own cross-validated figures cannot stand in ({why})")
    judged = bool(checks)
    if judged:
        passed: bool | None = all(c["passed"] for c in checks)
        reason = " ".join(f"[{c['title']}] {c['reason']}" for c in checks)
    else:
        passed = None
        reason = (f"Not judged: no fair comparison is possible, so the model is not refused. Every one of the {n} "
                  "documents was in the base model's training data (its scores on them would be in-sample), and "
                  "they are not exactly the documents its cross-validated figures were measured on. For "
                  f"reference, cross-validated: the base ROC AUC {reference.get('roc_auc', 'n/a')}, Brier "
                  f"{reference.get('brier', 'n/a')} on its {base_docs if base_docs is not None else '?'} documents; "
                  f"this model ROC AUC {result.metrics['roc_auc']}, Brier {result.metrics['brier']} on these {n}.")
    reason += " (" + "; ".join(notes) + ".)"
    verdict = {"passed": passed, "judged": judged, "documents": n, "seen_by_base": len(seen),
               "unseen_by_base": len(unseen), "seen_by": overlap.seen_by, "unknown_base_fixtures": overlap.unknown,
               "notes": notes, "checks": checks, "reason": reason}
    return {"gate": verdict, "sides": sides}


def _write_refused_report(folder: Path, result: Any, report_metrics: dict[str, Any], comparison: dict[str, Any],
                          *, name: str) -> None:
    """A refused model's report.html, evaluation.json and metrics.json (the model itself is not written), so
    the refusal can be read without training again with --force."""
    from training.evaluation import metrics_json, write_report
    from training.train import METRICS_FILE

    folder.mkdir(parents=True, exist_ok=True)
    write_report(folder / "report.html", report_metrics, title=f"Thresher model {name}: refused by the --base gate "
                 "(not written)", comparison=comparison)
    (folder / "evaluation.json").write_text(metrics_json({**report_metrics, "gate": comparison["gate"]}),
                                            encoding="utf-8")
    (folder / METRICS_FILE).write_text(json.dumps(result.metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _line_model_summary(lm: Any, reused_from: Path | None) -> str:
    """The line model's figures as training measured them: cross-validated when it was fitted here; when it
    was reused (--line-model-from), scored on documents it may have been fitted on, so in-sample. A macro F1
    needs lines of more than one label: a reliable document's lines all count as content, so on a user's
    documents alone it is not measured."""
    fitted = lm.get("fitted", True)
    how = "fitted here" if fitted else f"reused from {reused_from}, not fitted here"
    if not lm.get("lines"):
        return f"line model {how} (no labeled lines to score it on)"
    if lm.get("macro_f1") is None:
        share = lm.get("accuracy")
        kept = f"; {100 * share:.1f}% of those {lm['lines']} lines were labeled content" if share is not None else ""
        return (f"line model {how}: macro F1 not measured (the only labeled lines are those of reliable documents, "
                f"all counted as content: one class){kept}"
                + ("" if fitted else ", in-sample"))
    if fitted:
        return f"line model macro F1 {lm['macro_f1']} (cross-validated)"
    return (f"line model reused from {reused_from} (not fitted here): macro F1 {lm['macro_f1']} in-sample, not "
            "cross-validated (it may have been fitted on these documents)")


def _file_name(name: str) -> str:
    """``name`` as one file name: a path separator or a control character (a model's name is any string its
    trainer chose, "team/v2" or "../x") becomes ``_``, so the name cannot lead out of the folder it is made in."""
    return "".join("_" if ch in "/\\" or not ch.isprintable() else ch for ch in name)


def _new_folder(path: Path) -> Path:
    """``path``, else ``path-2``, ``path-3`` ... whichever does not exist yet: eval's default folder is a new one, so
    that a second evaluation of the same model (on other labels) does not overwrite the first's report."""
    n = 1
    folder = path
    while folder.exists() or folder.is_symlink():
        n += 1
        folder = path.with_name(f"{path.name}-{n}")
    return folder


@app.command("eval", cls=_Command)
def eval_(
    fixtures: Annotated[list[Path], typer.Option("--fixtures", help="Labeled fixtures (same forms as train).")],
    model: ModelOpt = None,
    out: Annotated[Path | None, typer.Option("--out", show_default=False, help="Folder for report.html and "
                                             "metrics.json (created; default: eval-NAME-VERSION in the current "
                                             "folder).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, show_default=False,
                                          help="Processes for scoring; 0 (the default): all cores.")] = 0,
) -> None:
    """Evaluate an existing model on other labels: the same metrics and report as training writes, in --out (default: a new folder eval-NAME-VERSION in the current folder; the path is printed)."""
    from service.evaluation import evaluate_model
    from training.evaluation import metrics_json, write_report
    from training.parallel import default_workers

    m = _load(model)
    folder = out or _new_folder(Path(_file_name(f"eval-{m.name}-{m.version}")))
    _check_out_folder(folder)
    if (folder / "manifest.json").exists() or _same_file(folder, m.path):
        raise _usage_error(f"--out {folder} is a model folder: the evaluation's metrics.json would replace the "
                           "model's own, and the model would no longer load; write the evaluation elsewhere")
    _check_outputs_apart(list(fixtures), [("--out", folder)], read_as="labeled")
    labeled = _read_labeled(fixtures, out=folder)
    if not labeled.examples:
        raise _usage_error("no usable labeled document to evaluate on" + (
            ": every row or file was skipped, duplicated or labeled both ways (listed above)"
            if labeled.skipped or labeled.conflicts or labeled.duplicates else ""))
    with _stopping("nothing was written"):
        try:
            metrics, _ = evaluate_model(m, labeled.examples, workers=workers if workers > 0 else default_workers())
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    from training.dataset import FIXTURES_DIR, fixture_hash
    from training.evaluation import base_overlap

    # What is known for sure: the built-in fixtures, and labeled sources given here with the bytes the model
    # was trained on, under whatever name (matched by hash). A training source that has changed since proves
    # nothing either way: said, when one given here has its name.
    trained_on = m.manifest.get("fixtures")
    trained_on = trained_on if isinstance(trained_on, dict) else {}
    given = set(labeled.sources.values())

    def unchanged(source: str, digest: Any) -> bool:  # given here, or still on disk as it was at training
        if source == "builtin" or digest in given:
            return True
        from training.dataset import FixtureError
        from training.labels import read_labeled

        try:
            return Path(source).exists() and read_labeled([Path(source)]).sources.get(source) == digest
        except (FixtureError, OSError, ValueError):
            return False

    def warn(text: str) -> None:  # on stderr, and kept in metrics.json and the report
        metrics.setdefault("warnings", []).append(text)
        typer.echo(f"WARNING: {text}", err=True)

    known = {k: v for k, v in trained_on.items() if unchanged(k, v)}
    for name in (k for k in trained_on if k not in known and k in labeled.sources):
        warn(f"{m.name} {m.version} was trained on an earlier version of {name}: documents still in it may be "
             "in its training data, and its scores on them in-sample")
    lost = [k for k in trained_on if k not in known and k not in labeled.sources and not Path(k).exists()]
    if lost:  # a path as given to train, relative to where it ran: from elsewhere, nothing can be checked
        warn(f"{m.name} {m.version} was trained on {', '.join(lost)}, not found from {Path.cwd()} (the manifest "
             "keeps each labeled path as given to thresher train): whether documents given here were in its "
             "training data cannot be checked for those; run eval in the folder training ran in")
    changed = [k for k in trained_on if k not in known and k not in labeled.sources and Path(k).exists()]
    if changed:  # its documents then are not those trained on: which of them it had cannot be told
        warn(f"{m.name} {m.version} was trained on an earlier version of {', '.join(changed)}: whether documents "
             "given here were in its training data cannot be checked for those")
    overlap = base_overlap({**m.manifest, "fixtures": known}, labeled.examples, builtin=[False] * len(labeled.examples),
                           run_sources=labeled.sources, builtin_hash=fixture_hash(sorted(FIXTURES_DIR.glob("*.jsonl"))))
    seen = sum(overlap.seen) if known else 0
    if seen:  # its scores on those are in-sample: they flatter it
        warn(f"{seen} of the {len(labeled.examples)} documents were in {m.name} {m.version}'s training data "
             f"({', '.join(f'{k}: {v}' for k, v in sorted(overlap.seen_by.items()))}): its scores on them are "
             "in-sample and flatter it; evaluate on documents it was not trained on")

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(metrics_json(metrics), encoding="utf-8")
    write_report(folder / "report.html", metrics, title=f"Thresher {m.name} {m.version} on {len(labeled.examples)} "
                 "labeled documents")

    def figure(v: Any) -> str:
        return "n/a (one class)" if v is None else str(v)

    where = "" if out is not None else f" (no --out: a folder in the current folder, {Path.cwd()})"
    typer.echo(f"{m.name} {m.version} on {metrics['documents']} documents (reliable {metrics['reliable']}, "
               f"unreliable {metrics['unreliable']}): ROC AUC {figure(metrics['roc_auc'])}, "
               f"PR AUC {figure(metrics['pr_auc'])}, Brier {metrics['brier']}, verdict accuracy "
               f"{metrics['verdict_accuracy']}\nwrote {folder / 'report.html'} and {folder / 'metrics.json'}{where}")


@app.command(cls=_Command)
def demo(
    seeds: Annotated[Path, typer.Option("--seeds", help="Folder of .txt files to score.")] = Path("../shared/seeds"),
    model: ModelOpt = None,
) -> None:
    """Score a folder of texts and print a table: score, verdict and the top reasons."""
    from rich.console import Console
    from rich.table import Table

    if not seeds.is_dir():  # before the model loads: `make demo` where ../shared/seeds is not
        what = "is a file" if seeds.exists() else "no such folder"
        raise _usage_error(f"--seeds {seeds}: {what}; give a folder of .txt files, e.g. --seeds path/to/seeds")
    files = sorted(seeds.glob("*.txt"))
    if not files:
        raise _usage_error(f"no .txt files in {seeds}")
    m = _load(model)
    table = Table(title=f"Thresher {m.name} {m.version}")
    for col in ("document", "score", "verdict", "top reasons"):
        table.add_column(col)
    for f in files:
        try:  # read as thresher score reads a file (byte-order marks, other encodings); a bad one is a row
            text, _ = decode_document(f.read_bytes(), max_bytes=DEFAULT_MAX_BYTES)
            r = _score_one(text, model=m, doc_id=f.name, explain=True)
        except InputError as exc:
            table.add_row(f.name, "", "error", f"{exc.code}: {exc}")
            continue
        except OSError as exc:
            table.add_row(f.name, "", "error", f"unreadable: {exc.strerror or exc}")
            continue
        strong = [x for x in r["reasons"] if x["contribution"] <= -DEMO_MIN_CONTRIBUTION][:3]
        top = "\n".join(f"{x['code']} ({x['contribution']:+.1f}): {x['message']}" for x in strong)
        table.add_row(f.name, shown_score(r["score"]), r["verdict"], top or "nothing pulls it down much")
    Console().print(table)


@app.command(cls=_Command)
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of crawled documents (walked recursively).")],
    out: Annotated[Path, typer.Option("--out", help="Output file: one record per document, in input order "
                                      "(missing parent folders are created; OUT.journal is written beside it).")],
    fmt: Annotated[str | None, typer.Option("--format", show_default=False, help="jsonl, csv or parquet (default: "
                                            "OUT's extension, .csv or .parquet, else jsonl; an OUT ending in .gz is "
                                            "written through gzip).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Scoring processes (default: all cores; "
                                                "with --address, the cluster's CPUs).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted scan of the same inputs, "
                                         "options and model from OUT.journal.")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Also write a self-contained HTML report.")] = None,
    model: ModelOpt = None,
    text_field: Annotated[str, typer.Option("--text-field", help="JSON/JSONL field holding the text.")] = "text",
    max_bytes: Annotated[int, typer.Option("--max-bytes", min=1, help="Largest document accepted, in bytes.")
                         ] = DEFAULT_MAX_BYTES,
    explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Include evidence and line labels.")] = True,
    engine: Annotated[str, typer.Option("--engine", help="local (processes on this machine) or ray (Ray Data; "
                                        "OUT is then a folder of shards).")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="With --engine ray: the cluster (auto, "
                                                "ray://host:port); default: start a local Ray.")] = None,
) -> None:
    """Score every document under PATHS in parallel; add near-duplicates, story clusters and spelling consensus across the crawl; write one record per document (errors included) and a summary.

    Exit code 0 when the scan completed (documents that could not be scored are error records in OUT), 2 on a usage or model error, 130 when interrupted (OUT holds what was scored; --resume finishes it)."""
    from service.scan.runner import (
        OUTPUT_FORMATS,
        ScanOptions,
        compressed_name,
        journal_path,
        named_format,
        run_scan,
        summarise,
        writing_output,
    )

    named = named_format(out)  # --out scored.csv: CSV; it was JSONL under a .csv name
    if fmt is None:
        fmt = named or "jsonl"
    if fmt not in OUTPUT_FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(OUTPUT_FORMATS)}", err=True)
        raise typer.Exit(2)
    if named is not None and named != fmt:
        raise _usage_error(f"--out {out} with --format {fmt}: the output would be {fmt} under a .{named} name; give "
                           f"--format {named}, or an --out ending in .{fmt}")
    if engine == "local" and fmt == "parquet" and compressed_name(out):
        raise _usage_error(f"--out {out}: Parquet compresses its own columns; give a name without .gz "
                           "(.jsonl.gz and .csv.gz are written through gzip)")
    if engine not in ("local", "ray"):
        typer.echo("error: --engine must be local or ray", err=True)
        raise typer.Exit(2)
    if engine == "local" and address is not None:
        typer.echo("error: --address needs --engine ray", err=True)
        raise typer.Exit(2)
    _check_text_field(text_field)
    for option, path, example in (("--out", out, "scored.jsonl"), ("--report", report, "report.html")):
        if str(path) == "-":  # read as standard output ('-' is for thresher score), not as a file named '-'
            raise _usage_error(f"{option} -: the scan writes files (OUT with its journal beside it), not standard "
                               f"output; give a path, e.g. {option} {example}")
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        typer.echo(f"error: no such file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    if engine == "ray":
        _scan_on_ray(paths, out, fmt, workers, resume, report, model, text_field, max_bytes, explain, address)
        return
    _check_out_file(out)
    if journal_path(out).is_dir():  # written beside OUT as the scan goes: a folder there would stop it at its start
        raise _usage_error(f"--out {out}: its journal {journal_path(out)} would be written over a folder; move that "
                           "folder or give --out another name")
    if report is not None:
        _check_out_file(report, "--report", "report.html")
    outputs = [("--out", out), ("its journal", journal_path(out))] + ([("--report", report)] if report else [])
    _check_outputs_apart(list(paths), outputs)
    m = _load(model)
    opts = ScanOptions(out=out, fmt=fmt, workers=workers or (os.cpu_count() or 1), resume=resume,
                       text_field=text_field, max_bytes=max_bytes, explain=explain)
    _tell_journal(list(paths), m, opts)

    def stop(signum: int, frame: Any) -> None:  # SIGTERM (docker stop, timeout, systemd) stops as Ctrl-C does;
        if not writing_output():  # once scoring is over, OUT is finished first (the scan then completes)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with _scan_progress() as progress:
            result = run_scan(list(paths), m, opts, progress=progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not result.output_written:
        again = "with --resume to finish" if resume else "again"
        typer.echo(f"interrupted while the inputs were walked or the journal read: nothing was written, {out} and "
                   f"its journal are as they were; run the same command {again}", err=True)
        raise typer.Exit(130)
    summary = summarise(result)
    _print_summary(summary, out)
    if report is not None:
        from service.scan.report import write_report

        assert result.report is not None
        write_report(report, result.report, summary, result.clusters)
        _say(f"report: {report}")
    if result.interrupted:
        _say(f"interrupted: {out} holds the {summary['documents']} documents scored so far; "
             "run the same command with --resume to finish")
        raise typer.Exit(130)


def _tell_journal(paths: list[Path], model: Model, opts: Any) -> None:
    """One line on stderr about OUT.journal when it matters: what --resume will (not) continue, or that
    an interrupted run's journal is about to be replaced."""
    from service.scan.runner import journal_path, journal_state

    path = journal_path(opts.out)
    try:
        state = journal_state(paths, model, opts) if opts.resume else ("found" if path.is_file() else None)
    except OSError as exc:
        raise _usage_error(f"cannot read the journal {path}: {exc.strerror or exc}") from exc
    if state is None:
        if opts.resume:
            _say(f"no journal at {path}: scoring from the start")
    elif state == "found":
        _say(f"an interrupted run's journal is at {path}; it is replaced (use --resume to continue it)")
    elif state == "same":
        _say(f"resuming from the journal at {path}")
    else:
        _say(f"the journal at {path} was written by another run (other inputs, options or model): "
             "scoring from the start")


def _scan_on_ray(paths: list[Path], out: Path, fmt: str, workers: int | None, resume: bool, report: Path | None,
                 model: Path | None, text_field: str, max_bytes: int, explain: bool, address: str | None) -> None:
    from service.scan.runner import ScanOptions, summarise

    if resume or report is not None:
        typer.echo(f"error: {'--resume' if resume else '--report'} is not available with --engine ray", err=True)
        raise typer.Exit(2)
    from service.scan.ray_engine import RayUnavailableError, ensure_ray, run_ray_scan

    try:
        ensure_ray()
    except RayUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if out.exists() and not out.is_dir():
        typer.echo(f"error: with --engine ray, --out is a folder of shards; {out} is a file", err=True)
        raise typer.Exit(2)
    _check_outputs_apart(list(paths), [("--out", out)])
    m = _load(model)  # verified here, once: each Ray actor loads the same folder again
    # without --address, a local Ray with --workers CPUs (default all cores); with one, the cluster's CPUs
    opts = ScanOptions(out=out, fmt=fmt, workers=workers or (0 if address else (os.cpu_count() or 1)),
                       text_field=text_field, max_bytes=max_bytes, explain=explain)

    def say(line: str) -> None:
        _say(line)

    try:
        result, counts = run_ray_scan(list(paths), m.path, m.thresholds, opts, address=address, say=say)
    except RayUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print_summary(summarise(result, counts), out)


class _scan_progress:
    """A rich progress bar with docs/s and ETA on a terminal; a plain line every few seconds otherwise."""

    PLAIN_EVERY_S = 5.0

    def __enter__(self) -> Any:
        import time

        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0
        self.first_done: int | None = None
        if self.tty:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]} docs/s"), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task("scan", total=None, rate="-")
        return self.update

    def update(self, done: int, total: int | None) -> None:
        import time

        now = time.monotonic()
        if self.first_done is None:
            self.first_done = done
        rate = (done - self.first_done) / (now - self.start) if now > self.start else 0.0
        try:
            if self.tty:
                self.bar.update(self.task, completed=done, total=total, rate=f"{rate:.1f}")
            elif now - self.last >= self.PLAIN_EVERY_S or (total is not None and done >= total):
                self.last = now
                eta = f", ETA {((total or 0) - done) / rate:.0f} s" if rate > 0 and total else ""
                print(f"scanned {done}/{total} documents, {rate:.1f} docs/s{eta}", file=sys.stderr, flush=True)
        except OSError:  # the progress is for the eyes: its stream closing does not stop the scan
            _stderr_gone()

    def __exit__(self, *exc: object) -> None:
        if self.tty:
            self.bar.__exit__(None, None, None)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    err = Console(stderr=True)
    console = Console(file=io.StringIO(), width=err.width, force_terminal=err.is_terminal,
                      no_color=err.no_color or not err.is_terminal)
    table = Table(title=f"scan summary → {out}", show_header=False)
    table.add_row("documents", str(summary["documents"]))
    table.add_row("scored", ", ".join(f"{k} {v}" for k, v in sorted(summary["verdicts"].items())) or "0")
    table.add_row("errors", ", ".join(f"{k} {v}" for k, v in sorted(summary["error_codes"].items())) or "none")
    if summary.get("skipped"):  # WARC records that are no page: no document, so no record; counted here
        table.add_row("not documents", ", ".join(f"{k} {v}" for k, v in summary["skipped"].items()))
    table.add_row("top reasons", ", ".join(f"{c} {n}" for c, n in summary["top_reasons"][:6]) or "none")
    table.add_row("story clusters", str(summary["stories"]))
    table.add_row("near-duplicates", str(summary["near_duplicates"]))
    table.add_row("speed", f"{summary['docs_per_s']} docs/s ({summary['scored_now']} documents read in "
                  f"{summary['elapsed_s']} s, error records included; {summary['resumed']} from the journal)")
    # Rendered here and written as one line of text: rich's console answers a broken pipe with SystemExit(1)
    # of its own; OUT is written by now, and the report (when asked for) still is.
    console.print(table)
    _say(console.file.getvalue().rstrip("\n"))  # type: ignore[attr-defined]


models_app = typer.Typer(cls=_Group, no_args_is_help=True, help="List and inspect model folders.")
app.add_typer(models_app, name="models")


def _models_root(root: Path | None) -> Path:
    """--root, else ./models when the current folder has one (where `train --out models/mine` wrote), else
    the models folder beside the installed package (the shipped default)."""
    if root is not None:
        if root.exists() and not root.is_dir():
            raise _usage_error(f"--root {root} is a file; give the folder that holds the model folders")
        return root
    return Path("models") if Path("models").is_dir() else DEFAULT_MODEL_DIR.parent


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return None
    return data if isinstance(data, dict) else None


@models_app.command("list", cls=_Command)
def models_list(
    root: Annotated[Path | None, typer.Option("--root", help="Folder holding model folders (default: ./models if there is one, else the installed models/).")] = None,
) -> None:
    """Every model folder under the models root: name, version, documents and cross-validated metrics."""
    from rich.console import Console
    from rich.table import Table

    base = _models_root(root)
    # a training's staging and replaced folders (.NAME.partial-PID, .NAME.old-PID) are no models to list
    folders = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) if base.is_dir() else []
    table = Table(title=f"models in {base}")
    for col in ("folder", "name", "version", "documents", "ROC AUC", "Brier", "status"):
        table.add_column(col)
    found = 0
    without: list[str] = []
    for folder in folders:
        man = _manifest(folder)
        if man is None:
            without.append(folder.name)
            continue
        found += 1
        metrics = man.get("metrics") or {}
        try:
            load_model(folder)
            status = "verified"
        except ModelError as exc:
            status = f"refused: {exc}"[:80]
        table.add_row(folder.name, str(man.get("name")), str(man.get("version")), str(metrics.get("documents", "")),
                      str(metrics.get("roc_auc", "")), str(metrics.get("brier", "")), status)
    if without:
        typer.echo(f"not model folders (no readable manifest.json): {', '.join(without)}", err=True)
    if not found:
        typer.echo(f"no model folders (with a manifest.json) in {base}", err=True)
        raise typer.Exit(1)
    Console().print(table)


@models_app.command("show", cls=_Command)
def models_show(
    name: Annotated[str, typer.Argument(help="A folder name under the models root, or a path to a model folder.")],
    root: Annotated[Path | None, typer.Option("--root", help="Folder holding model folders (default: ./models if there is one, else the installed models/).")] = None,
) -> None:
    """A model's manifest as JSON (feature names, files and hashes, metrics, thresholds, libraries)."""
    folder = Path(name) if Path(name).is_dir() else _models_root(root) / name
    if root is None and not folder.is_dir() and (DEFAULT_MODEL_DIR.parent / name).is_dir():
        folder = DEFAULT_MODEL_DIR.parent / name  # ./models has no such model; the installed models/ has it
    man = _manifest(folder)
    if man is None:
        path = folder / "manifest.json"
        what = "is not a JSON object in UTF-8" if path.is_file() else "does not exist"
        typer.echo(f"error: model manifest {path} {what}", err=True)
        raise typer.Exit(2)
    try:
        load_model(folder)
        man = {**man, "status": "verified"}
    except ModelError as exc:
        man = {**man, "status": f"refused: {exc}"}
    typer.echo(json.dumps({"folder": str(folder), **man}, indent=2, ensure_ascii=False))


@app.command(cls=_Command)
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default $THRESHER_HOST, else 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", min=0, max=65535,
                                             help="Port (default $THRESHER_PORT, else 8000; 0: any free port).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Worker processes (default $THRESHER_WORKERS, else 1).")] = None,
    model: ModelOpt = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's and Thresher's log level: critical, error, "
                                           "warning, info, debug or trace.")] = "info",
) -> None:
    """Run the HTTP service (uvicorn). Every THRESHER_* setting applies; options here override them.

    Exit code 2 on a bad setting or model, 3 when the address cannot be bound (e.g. the port is in use) or a worker fails to start."""
    import tempfile

    from pydantic import ValidationError

    from service.settings import Settings

    # SIGTERM (docker stop, systemd) stops the server gracefully and the command then exits 0: uvicorn
    # drains and shuts down on it, then raises the signal again with the handler it found, and Python's
    # default one would end the process by the signal (exit status 143). Before uvicorn runs (the model
    # is being verified), the handler stops the command at once.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if host is not None and not host.strip():  # uvicorn would listen on every interface
        raise _usage_error(f"--host {host!r}: give an address, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every "
                           "interface)")
    from uvicorn.config import LOG_LEVELS

    if log_level.lower() not in LOG_LEVELS:  # uvicorn raised KeyError (a traceback, exit 1) once the model had loaded
        raise _usage_error(f"--log-level {log_level!r}: give one of {', '.join(LOG_LEVELS)}")
    log_level = log_level.lower()  # uvicorn reads WARNING as warning; the thresher loggers' level must match it
    # The options become THRESHER_* variables: worker processes build their app from the environment.
    for key, value in (("MODEL_DIR", model), ("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"THRESHER_{key}"] = str(value)
    try:
        settings = Settings()
    except ValidationError as exc:  # named as the user set it (THRESHER_PORT='abc'), not pydantic's field dump
        for err in exc.errors():
            name = f"THRESHER_{str(err['loc'][0]).upper()}" if err["loc"] else "THRESHER_*"
            typer.echo(f"error: bad setting {name}={os.environ.get(name, '')!r}: {err['msg']}", err=True)
        raise typer.Exit(2) from exc
    _check_bindable(settings.host, settings.port)  # before the model: loading and warming it takes ~10 s
    os.environ["THRESHER_MODEL_DIR"] = str(Path(settings.model_dir).resolve())
    _load(Path(settings.model_dir))  # refuse to start on a missing or tampered model, with its message
    made: str | None = None  # the metrics folder made here, removed when the server stops
    if settings.workers > 1:
        # One metrics directory for all workers, so /metrics adds them up; and reloads reach every worker.
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="thresher-metrics-")
        os.environ["THRESHER_SUPERVISOR_PID"] = str(os.getpid())
    else:
        os.environ.pop("THRESHER_SUPERVISOR_PID", None)
    # Imported after PROMETHEUS_MULTIPROC_DIR is set: the supervisor counts reloads in that folder.
    from service.supervisor import run_server

    try:
        run_server(  # uvicorn.run, with several workers under a supervisor that verifies a model before rolling it out
            "service.api:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=log_level,
            timeout_worker_healthcheck=120,  # a worker loads and warms its model (~10 s here) before it is ready
            timeout_graceful_shutdown=30,
        )
    finally:
        if made is not None:  # every worker has stopped: their counts go with the server (one folder per start)
            shutil.rmtree(made, ignore_errors=True)


BIND_FAILURE = 3  # uvicorn's exit code when it cannot bind (STARTUP_FAILURE)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """Exit 0 at once, without the interpreter's teardown (seconds of garbage collection with a model in
    memory), as the default handler ended the process: uvicorn raises SIGTERM again only once it has shut
    down, and before it runs there is nothing to clean up."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def _check_bindable(host: str, port: int) -> None:
    """Bind host:port as uvicorn will (SO_REUSEADDR), then let it go: a port in use, an address not of this
    machine or a privileged port fails here at once, not after the model is loaded and warmed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        hint = " (is another server running there? choose another --port)" if exc.errno == errno.EADDRINUSE else ""
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}{hint}", err=True)
        raise typer.Exit(BIND_FAILURE) from exc


def main() -> None:
    app()


if __name__ == "__main__":
    main()
