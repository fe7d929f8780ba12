"""A small base class for `rag.Settings`: typed fields with a default, bounds and a description, read from
`<PREFIX><FIELD>` environment variables and converted the way pydantic's lax mode converts them.

It replaces pydantic-settings and pydantic on the query path: importing them and building the model took
about 0.3 s of a 1.5 s cold `rag ask`, for a flat set of str, bool, int, float, Path and Literal fields.
Keyword arguments win over the environment, which wins over the defaults (pydantic-settings' order); unknown
keywords are ignored; defaults are validated too. `model_copy(update=...)` (no validation, as in pydantic) and
`model_dump(mode=...)` keep the pydantic spelling that callers use.
"""
from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})  # the strings pydantic reads as booleans
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_INT = re.compile(r"\s*[+-]?\d+\s*")


class SettingsError(ValueError):
    """One or more settings have a value of the wrong type or outside their bounds."""


@dataclass(frozen=True)
class FieldSpec:
    """A setting's default, description and numeric bounds."""

    default: Any
    description: str = ""
    ge: float | None = None
    le: float | None = None
    gt: float | None = None


def Field(default: Any, *, description: str = "", ge: float | None = None, le: float | None = None,  # noqa: N802
          gt: float | None = None) -> Any:
    """Declare a setting (pydantic's spelling)."""
    return FieldSpec(default, description, ge, le, gt)


def _convert(value: Any, tp: Any) -> Any:
    """The value as type tp, as pydantic's lax mode converts it, or ValueError."""
    if typing.get_origin(tp) is Literal:
        if value in typing.get_args(tp):
            return value
        raise ValueError(f"must be one of {', '.join(map(repr, typing.get_args(tp)))}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("must be a boolean (true/false, 1/0, yes/no, on/off)")
    if tp is int:
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
        raise ValueError("must be an integer")
    if tp is float:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError("must be a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError("must be a string")
    if tp is Path:
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise ValueError("must be a path")
    raise TypeError(f"unsupported setting type {tp!r}")


def _check_bounds(value: Any, spec: FieldSpec) -> None:
    for bound, ok, word in ((spec.ge, lambda v, b: v >= b, "≥"), (spec.le, lambda v, b: v <= b, "≤"),
                            (spec.gt, lambda v, b: v > b, ">")):
        if bound is not None and not ok(value, bound):
            raise ValueError(f"must be {word} {bound}")


class SettingsModel:
    """Fields are class attributes declared with `Field(...)` and a type annotation; see the module docstring."""

    env_prefix: ClassVar[str] = ""
    model_fields: ClassVar[dict[str, FieldSpec]] = {}
    _types: ClassVar[dict[str, Any] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.model_fields = {**cls.model_fields, **{n: v for n, v in vars(cls).items() if isinstance(v, FieldSpec)}}
        cls._types = None

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        if cls._types is None:
            cls._types = typing.get_type_hints(cls)
        env = {k.lower(): v for k, v in os.environ.items()}
        errors = []
        for name, spec in cls.model_fields.items():
            key = (cls.env_prefix + name).lower()
            raw, source = ((values[name], "argument") if name in values
                           else (env[key], f"{key.upper()}") if key in env else (spec.default, "default"))
            try:
                value = _convert(raw, cls._types[name])
                _check_bounds(value, spec)
            except ValueError as e:
                errors.append(f"{name} = {raw!r} ({source}): {e}")
                continue
            self.__dict__[name] = value
        if errors:
            raise SettingsError(f"{len(errors)} invalid setting(s): " + "; ".join(errors))

    def model_copy(self, update: dict[str, Any] | None = None) -> SettingsModel:
        """A copy with some fields replaced (not validated, as pydantic's model_copy)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(update or {})
        return new

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        """The fields as a dict; mode="json" turns paths into strings."""
        out = {name: self.__dict__[name] for name in self.model_fields}
        if mode == "json":
            out = {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}
        return out

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.model_dump() == self.model_dump()

    __hash__ = None  # mutable, like a pydantic model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.model_dump().items()) + ")"
