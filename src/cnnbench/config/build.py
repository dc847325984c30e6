"""A typed builder: a mapping from YAML into a frozen dataclass, checked key by key.

``build(cls, raw, prefix)`` refuses unknown keys (suggesting the closest), missing keys
without a default and values of the wrong type, naming ``prefix.key`` and the value it
got; then it calls the dataclass's own ``check(prefix)`` for ranges and choices.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

from cnnbench.errors import ParamsError


def suggest(word: str, choices: typing.Iterable[str], prefix: str = "") -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


def _type_ok(value: Any, hint: Any) -> tuple[bool, Any]:
    """Check ``value`` against a simple type hint; ints are accepted as floats."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return True, None
        hint = next(a for a in args if a is not type(None))
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return True, float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return True, value
    if hint is str and isinstance(value, str):
        return True, value
    if hint is bool and isinstance(value, bool):
        return True, value
    return False, value


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def build(cls: type, raw: Any, prefix: str) -> Any:
    """Build dataclass ``cls`` from mapping ``raw``, naming ``prefix.key`` in errors."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{prefix} must be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            raise ParamsError(f"unknown key '{prefix}.{key}'"
                              f"{suggest(str(key), names, prefix + '.')}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            if f.default is dataclasses.MISSING:
                raise ParamsError(f"missing key '{prefix}.{f.name}'")
            continue
        ok, value = _type_ok(raw[f.name], hints[f.name])
        if not ok:
            hint = hints[f.name]
            base = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
            nullable = " or null" if type(None) in typing.get_args(hint) else ""
            raise ParamsError(f"{prefix}.{f.name} must be {_TYPE_NAMES.get(base, base)}"
                              f"{nullable}, got {raw[f.name]!r}")
        values[f.name] = value
    obj = cls(**values)
    obj.check(prefix)
    return obj
