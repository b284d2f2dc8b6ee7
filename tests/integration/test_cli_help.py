"""Every command's --help, as a first-time user reads it: usual placeholders (SANDBOX_ID, TEXT,
nothing after a flag), no references to the spec's sections; and output into a pipe is not cut at
80 columns."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from hostplane.cli.main import app


def _commands(group: typer.core.TyperCommand | typer.core.TyperGroup,
              path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if hasattr(group, "commands"):  # a group (typer's own class, not click.Group)
        for name, command in group.commands.items():
            found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_there_are_commands_to_check():
    assert len(COMMANDS) > 60 and ("down",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "hostplane")
def test_help_reads_plainly(path):
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="hostplane",
                                env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    shown = result.output
    assert f"Usage: hostplane {' '.join(path)}".rstrip() in shown
    for placeholder in ("<bool>", "<str>", "<int>", "<list", "<path>", "<float>"):
        assert placeholder not in shown, (path, placeholder)
    assert not re.search(r"\{[a-z_]+\}", shown), shown  # {sandbox_id}: arguments are SANDBOX_ID
    assert "§" not in shown and "spec " not in shown.lower()


def test_help_text_is_reflowed():
    """A docstring's line breaks are not the help's: on a wide terminal a command's summary in
    a list is one line."""
    wide = CliRunner().invoke(app, ["--help"], prog_name="hostplane", env={"COLUMNS": "400"})
    [serve] = [line for line in wide.output.splitlines() if line.startswith("│ serve ")]
    assert "Run everything in one process" in serve and "SQLite by default." in serve


def test_plain_output_is_not_cut_at_80_columns(tmp_path):
    """Into a pipe (no terminal, no COLUMNS), a line is as long as it is: here an error message
    longer than 80 characters, and a table row."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HOSTPLANE_", "MIOSA_")) and k != "COLUMNS"}
    env["HOSTPLANE_DATA_DIR"] = str(tmp_path / "data")
    name = "An Organization Whose Name Is Long Enough To Need More Than Eighty Columns"
    subprocess.run([sys.executable, "-m", "hostplane.cli", "accounts", "create", "--name", name],
                   env=env, capture_output=True, text=True, timeout=120, check=True)
    again = subprocess.run([sys.executable, "-m", "hostplane.cli", "accounts", "create",
                            "--name", name], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 1
    first = again.stderr.splitlines()[0]
    assert first.startswith("error SLUG_TAKEN: ") and len(first) > 100, again.stderr
