"""Safe pieces of generated Python source.

Every value that reaches a generated file passes through one of these functions:
ints and floats are checked and printed by Python itself, names are looked up in a
fixed allow-list (the emitted text comes from the allow-list, not from the input),
and free text (an architecture's name) is reduced to a harmless character set and
only ever placed inside a docstring or comment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mnas.errors import MnasError

__all__ = ["py_bool", "py_float", "py_int", "py_name", "py_optional_int", "sanitize_text"]

_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:+()\[\]/-]")
_MAX_TEXT = 80


def py_int(value: Any, *, where: str) -> str:
    """Source text of an int (``bool`` and anything else are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MnasError(f"{where}: expected an int to write into generated source, got {value!r}")
    return str(int(value))


def py_optional_int(value: Any, *, where: str) -> str:
    """Source text of an int or ``None``."""
    return "None" if value is None else py_int(value, where=where)


def py_float(value: Any, *, where: str) -> str:
    """Source text of a finite float, exact through ``repr``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MnasError(
            f"{where}: expected a finite number to write into generated source, got {value!r}")
    return repr(float(value))


def py_bool(value: Any, *, where: str) -> str:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        raise MnasError(f"{where}: expected a bool to write into generated source, got {value!r}")
    return "True" if value else "False"


def py_name(value: Any, allowed: Mapping[str, str], *, where: str) -> str:
    """The allow-listed source literal for ``value`` (e.g. ``"relu"`` -> ``'"relu"'``).

    Raises:
        MnasError: ``value`` is not a key of ``allowed``.
    """
    if not isinstance(value, str) or value not in allowed:
        raise MnasError(
            f"{where}: {value!r} is not one of {', '.join(sorted(allowed))}; it cannot be "
            "written into generated source")
    return allowed[value]


def sanitize_text(text: str) -> str:
    """``text`` reduced to letters, digits, space and ``_.,:+()[]/-``, at most 80 characters.

    Anything else (quotes, backslashes, newlines, ``#``) becomes ``?``, so the result
    can sit inside a docstring or a comment without ending it.
    """
    cleaned = _UNSAFE.sub("?", str(text))
    if len(cleaned) > _MAX_TEXT:
        cleaned = cleaned[: _MAX_TEXT - 3] + "..."
    return cleaned or "(unnamed)"
