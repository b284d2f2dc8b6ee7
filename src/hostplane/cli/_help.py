"""How `--help` reads: parameters named by the usual command-line conventions (`SANDBOX_ID`,
`[NAME]`, `TEXT`, `INTEGER`, nothing after a flag) instead of typer's own (`{sandbox_id}`, `<str>`,
`<bool>`), and docstrings reflowed to the terminal's width (typer keeps their line breaks in
command lists). Applied once, when the command line is built; tests/integration/test_cli_help.py
checks every command's help, so a typer upgrade that changes these hooks fails there."""

from __future__ import annotations

import inspect
from typing import Any

from typer import core, rich_utils

_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "file": "FILE",
           "directory": "DIRECTORY"}


def _label(shown: str | None) -> str | None:
    """`<int>` → `INTEGER`, `<list[str]>` → `TEXT`, `<a|b>` → `[a|b]`."""
    if not shown:
        return None
    bare = shown.strip("<>")
    if bare.startswith("list[") and bare.endswith("]"):
        bare = bare[5:-1]
    if "|" in bare:
        return f"[{bare}]"
    return _LABELS.get(bare, bare.upper())


def _argument_name(self: core.TyperArgument) -> str:
    return self.metavar or (self.name or "").upper()


def _argument_usage(self: core.TyperArgument) -> str:
    name = _argument_name(self)
    if not self.required:
        name = f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


def _argument_type(self: core.TyperArgument, ctx: Any) -> None:
    return None  # the name says what it is (SANDBOX_ID, PORT); the help says the rest


def _option_type_rich(self: core.TyperOption, ctx: Any) -> str | None:
    if self.is_flag or self.count:
        return None
    if self.metavar is not None:
        return self.metavar
    label = _label(core.TyperOption.display_type(self, ctx))
    return label + "..." if label and self.nargs != 1 else label


def _reflow(text: str) -> str:
    """Each paragraph on one line (the console wraps it); paragraphs stay apart."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n"))


_command_help = rich_utils._make_command_help


def _command_help_reflowed(*, help_text: str, markup_mode: Any) -> Any:
    return _command_help(help_text=_reflow(help_text), markup_mode=markup_mode)


def _paragraphs_reflowed(paragraphs: list[str], markup_mode: Any) -> str:
    return _reflow("\n\n".join(paragraphs))


def install() -> None:
    core.TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[assignment]
    core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]
    core.TyperOption.display_type_rich = _option_type_rich  # type: ignore[method-assign]
    rich_utils._make_command_help = _command_help_reflowed
    rich_utils._fix_linebreaks = _paragraphs_reflowed
