"""What the API commands share: a client from the environment, output as tables for people or
JSON for scripts, and errors turned into readable messages and exit codes (docs/cli.md): 0 done,
1 refused, 2 the command line itself was wrong, 3 the server or the network failed, 4 gave up
waiting."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

# The client (httpx, pydantic models) is imported when a command runs, not when `hostplane`
# starts: `--help` stays quick.
if TYPE_CHECKING:
    from hostplane.client import Hostplane



def _console(stderr: bool = False) -> Console:
    """Output for people. Into a pipe, a file or a CI log, lines are as long as they are (a
    value is never cut at 80 columns); on a terminal, or with COLUMNS set, they fit its width."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=100_000 if piped else None)


console = _console()
err_console = _console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts (the API's own "
                                                       "objects; see docs/cli.md).")]
USER_ERROR, USAGE_ERROR, SERVER_ERROR, TIMED_OUT = 1, 2, 3, 4  # 2: also click's own


def client() -> Hostplane:
    """HOSTPLANE_API_URL and HOSTPLANE_API_KEY (or MIOSA_BASE_URL and MIOSA_API_KEY)."""
    from hostplane.client import Hostplane

    return Hostplane()


def api_command(fn: F) -> F:
    """Run an API command: errors become a message on stderr (JSON with --json) and an exit
    code."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        from hostplane.client import errors

        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except errors.ApiError as exc:
            report(exc.code, exc.message, exc.details, exc.request_id, as_json)
            raise typer.Exit(SERVER_ERROR if exc.status >= 500 else USER_ERROR) from None
        except errors.ConnectionFailed as exc:
            report("CONNECTION_FAILED", str(exc), {"fix": "Check HOSTPLANE_API_URL and that "
                                                          "the server is running."}, None, as_json)
            raise typer.Exit(SERVER_ERROR) from None
        except errors.HostplaneError as exc:
            report("CLIENT_ERROR", str(exc), {}, None, as_json)
            raise typer.Exit(USER_ERROR) from None

    return run  # type: ignore[return-value]


def usage_error(message: str, fix: str, as_json: bool) -> NoReturn:
    """A command line that can't be right (options that exclude each other), as click reports
    a bad option: exit code 2."""
    report("USAGE_ERROR", message, {"fix": fix}, None, as_json)
    raise typer.Exit(USAGE_ERROR)


def report(code: str, message: str, details: dict[str, Any], request_id: str | None,
            as_json: bool) -> None:
    if as_json:
        err_console.print_json(json.dumps({"error": {"code": code, "message": message,
                                                     "details": details,
                                                     "request_id": request_id}}))
        return
    err_console.print(f"[red]error[/red] {code}: {message}", highlight=False)
    for key in ("field", "rule", "fix"):
        if details.get(key):
            err_console.print(f"  {key}: {details[key]}", highlight=False)
    if request_id:
        err_console.print(f"  request id: {request_id}", style="dim", highlight=False)


def plain(value: Any) -> Any:
    """Models and lists of models as JSON-ready data."""
    if hasattr(value, "model_dump"):  # a pydantic model
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    print(json.dumps(plain(value), indent=2, sort_keys=True))


def table(rows: Iterable[Any], columns: Sequence[str], title: str | None = None) -> None:
    """A table of `columns` (attribute or key names) for people."""
    grid = Table(title=title, show_lines=False)
    for column in columns:
        grid.add_column(column)
    for row in rows:
        data = plain(row)
        grid.add_row(*("" if data.get(c) is None else str(data.get(c)) for c in columns))
    console.print(grid)


def fields(value: Any, keys: Sequence[str]) -> None:
    """One object as `key: value` lines."""
    data = plain(value)
    for key in keys:
        if data.get(key) is not None:
            console.print(f"[bold]{key}[/bold]: {data[key]}", highlight=False)
