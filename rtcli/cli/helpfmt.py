"""Help text as click writes it, without the additions of recent typer releases.

Recent typer adds a type label to every argument in help (``BUCKET <str>``, ``CHANNEL
<list[str]>``), writes an option's type the same way (``--port <int>``), and writes required
arguments in braces in the usage line (``{EVENT_CURSOR}``). In rtcli's help every argument has
a metavar that already says what it is, so the labels only add noise, and braces read like
shell syntax. ``install()`` restores click's forms: ``NAME`` when required, ``[NAME]`` when
optional, ``...`` when repeatable, and ``--port INTEGER``, ``--level [a|b]`` for options without
a metavar. If typer's internals differ, it does nothing (tests/test_cli_conventions.py checks
the help text itself).
"""

from __future__ import annotations

from typing import Any


_CLICK_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "bool": "BOOLEAN"}


def click_name(label: str) -> str:
    """typer's ``<int range>``, ``<list[str]>``, ``<a|b>`` as click names them: INTEGER, TEXT, [a|b]."""
    label = label.strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    label = label.removesuffix(" range")
    if "|" in label:
        return f"[{label}]"
    return _CLICK_NAMES.get(label, label.upper())


def install() -> bool:
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:
        return False
    if not all(hasattr(TyperArgument, a) for a in ("_usage_display_name", "display_type_rich")) or not all(
            hasattr(TyperOption, a) for a in ("display_type", "display_type_rich")):
        return False

    def usage_name(self: Any) -> str:
        raw = self.display_name_raw
        if self.nargs != 1 and raw.endswith("..."):  # a metavar that spells out its form: as written
            return raw
        name = raw if self.required else f"[{raw}]"
        return f"{name}..." if self.nargs != 1 else name

    def no_type(self: Any, ctx: Any) -> None:
        return None

    def option_type(self: Any, ctx: Any) -> str | None:
        if self.metavar is not None:
            return str(self.metavar)
        shown = self.display_type(ctx)
        if shown is None:
            return None
        return click_name(str(shown)) + ("..." if self.nargs != 1 else "")

    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    TyperArgument.display_type_rich = no_type  # type: ignore[method-assign, assignment]
    TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    return True
