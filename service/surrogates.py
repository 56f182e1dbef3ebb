"""Unpaired surrogates: JSON may escape one ("\\ud800"), and Python then holds a string that is not Unicode
text and cannot be written as UTF-8. Every reader of JSON (the API, ``thresher score --jsonl``, the scan) checks
with these before it scores or writes anything."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["IdError", "has_lone_surrogate", "utf8_safe", "id_text", "name_text", "number_too_long", "json_type"]


def has_lone_surrogate(value: str) -> bool:
    """True when ``value`` holds an unpaired surrogate (what JSON's ``"\\ud800"`` escape decodes to): such a
    string is not Unicode text and cannot be written as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def utf8_safe(value: str) -> str:
    """``value`` with each unpaired surrogate written as its escape (``\\ud800``), so that it can be written
    out as UTF-8; other strings are returned as they are."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if has_lone_surrogate(value) else value


class IdError(ValueError):
    """An id that has no JSON text: it holds a number beyond a double's range (``1e400``, which Python reads as
    infinity) or Python's ``NaN``/``Infinity``, which are no JSON."""


def id_text(value: Any) -> str:
    """A caller's id as text, one rule for the API's batch errors, ``thresher score --jsonl`` and the scan: a
    string as it is, any other JSON value as its JSON text (``7`` -> ``"7"``, ``true`` -> ``"true"``,
    ``{"a": 1}`` -> ``'{"a":1}'``); unpaired surrogates escaped (:func:`utf8_safe`). :class:`IdError` for an id
    holding a number that is not finite as a double: its "JSON text" would be ``Infinity``, no JSON, and not
    what was sent."""
    if isinstance(value, str):
        return utf8_safe(value)
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        raise IdError("'id' holds a number beyond a double's range (such as 1e400) or NaN; send the id as a "
                      "string") from exc
    return utf8_safe(text)


def name_text(name: str) -> str:
    """A file name or path as text: the bytes of one that is not UTF-8 (``os`` hands them over as surrogates)
    escaped, ``caf\\xe9.txt``; any other unpaired surrogate escaped as :func:`utf8_safe` does."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file name has (JSON's "\ud800")
        return utf8_safe(name)


def number_too_long(exc: ValueError) -> str:
    """What ``json.loads`` says of an integer over Python's 4,300 digits ("Exceeds the limit (4300 digits) for
    integer string conversion: value has 5000 digits"), without its advice to call
    ``sys.set_int_max_str_digits()``, which is for Python programmers, not for whoever sent the JSON. One
    wording for the API, ``thresher score --jsonl`` and the scan."""
    detail = str(exc).split("; use sys.", 1)[0]
    return f"a number is too long ({detail}); write such a number as a string"


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (``null``, ``number``, ``array`` ...), for messages to whoever sent
    the JSON, who knows no Python type names (``NoneType``, ``int``, ``list``)."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
