"""Convert simple command-line values without pydantic.

Recent typer releases coerce every parameter through a pydantic ``TypeAdapter``, built on first
use for each parameter of the command being run. Importing pydantic and building those adapters
costs a one-shot ``rtcli row create`` 100 ms or more, a quarter of its budget, to turn strings
into strings. ``install()`` puts a fast path in front of typer's ``build_runtime_param`` for
the annotations rtcli uses (``str``, ``int``, ``float``, ``bool``, enums, their ``| None`` and
``list[...]`` forms, with no extra constraints); anything else still goes to typer.

If typer's internals differ (an older typer that uses click types directly, or a refactor),
``install()`` does nothing and typer behaves as shipped; tests/test_cli.py checks both that
conversions still work and that ``row create`` does not import pydantic.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

_Convert = Callable[[Any], Any]


def _number(kind: type) -> _Convert:
    label = "an integer" if kind is int else "a number"

    def convert(value: Any) -> Any:
        try:
            if isinstance(value, bool):
                raise ValueError
            return kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"not {label}") from None

    return convert


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on", "t"):
        return True
    if text in ("0", "false", "no", "n", "off", "f"):
        return False
    raise ValueError("not a boolean")


def _enum(kind: type[Enum], case_sensitive: bool) -> _Convert:
    def convert(value: Any) -> Enum:
        if isinstance(value, kind):
            return value
        for member in kind:
            if member.value == value or (not case_sensitive and str(member.value).lower() == str(value).lower()):
                return member
        raise ValueError(f"not one of {', '.join(str(m.value) for m in kind)}")

    return convert


def _leaf(annotation: Any, info: Any) -> _Convert | None:
    if annotation is str:
        return str
    if annotation is bool:
        return _bool
    if annotation in (int, float):
        return _number(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _enum(annotation, getattr(info, "case_sensitive", True))
    return None


def simple_converter(annotation: Any, info: Any) -> _Convert | None:
    """A converter for ``annotation``, or None when typer must handle it (constraints, paths, files…)."""
    if any(getattr(info, name, None) is not None for name in ("parser", "click_type", "min", "max", "formats")):
        return None
    if getattr(info, "clamp", False):
        return None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return simple_converter(args[0], info) if len(args) == 1 else None
    if origin is list:
        (item,) = typing.get_args(annotation) or (str,)
        leaf = _leaf(item, info)
        return None if leaf is None else (lambda values: [leaf(v) for v in values])
    return _leaf(annotation, info)


def install() -> bool:
    """Route simple parameters around pydantic. Returns whether the fast path is active."""
    try:
        import typer
        import typer.core as core
        from typer._coercion import RuntimeParam
    except ImportError:
        return False
    original = getattr(core, "build_runtime_param", None)
    if original is None or getattr(original, "_rtcli_fast", False):
        return original is not None

    @dataclass(frozen=True)
    class SimpleRuntimeParam(RuntimeParam):  # type: ignore[misc, valid-type]
        convert: _Convert = str

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value)
            except (TypeError, ValueError) as e:
                raise typer.BadParameter(f"{value!r}: {e}", ctx=ctx, param=param) from None

    def build_runtime_param(descriptor: Any) -> Any:
        convert = None
        if getattr(descriptor, "file_annotation", None) is None:
            convert = simple_converter(descriptor.annotation, descriptor.parameter_info)
        if convert is None:
            return original(descriptor)
        return SimpleRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                                  convert=convert)

    build_runtime_param._rtcli_fast = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param
    return True
