"""`hostplane down`: stop every sandbox of this data dir (they outlive `hostplane serve` on
purpose), or end the processes of sandboxes whose data dir was deleted (`--orphans`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hostplane.cli._api import console, err_console, usage_error
from hostplane.cli._operator import container

if TYPE_CHECKING:
    from hostplane.compute.leftovers import Leftover

REASON = "stopped by `hostplane down`"


def down(
    orphans: Annotated[bool, typer.Option(
        "--orphans", help="Instead: end the processes of sandboxes whose data dir no longer "
                          "exists (anywhere on this machine, or under --under).")] = False,
    under: Annotated[Path | None, typer.Option(
        "--under", metavar="PATH", help="With --orphans: only data dirs that were under PATH.")]
    = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List the sandboxes and processes; change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
    = False,
) -> None:
    """Stop every sandbox of this data dir (HOSTPLANE_DATA_DIR): their processes end, their
    files stay, and they stay stopped until started again. Stop `hostplane serve` first. With
    --orphans, end what is left of sandboxes whose data dir was deleted."""
    from hostplane.compute import leftovers
    from hostplane.settings import get_settings

    if under is not None and not orphans:
        usage_error("--under only narrows --orphans; this data dir is HOSTPLANE_DATA_DIR.",
                    "Add --orphans, or set HOSTPLANE_DATA_DIR to the data dir to stop.", as_json)
    settings = get_settings()
    stopped: list[str] = []
    if orphans:
        found = [item for item in leftovers.find(under) if item.orphaned]
    else:
        if not dry_run and (settings.data_dir / "sandboxes").is_dir():
            stopped = _stop_recorded()
        found = leftovers.find(settings.data_dir / "sandboxes")
    alive = [] if dry_run else [pid for item in found for pid in leftovers.end(item)]
    _report(stopped, found, alive, dry_run=dry_run, as_json=as_json)
    if alive:
        raise typer.Exit(1)


def _stop_recorded() -> list[str]:
    from hostplane.resources.sandbox_lifecycle import stop_all

    return stop_all(container(), REASON)


def _report(stopped: list[str], found: list[Leftover], alive: list[int], *, dry_run: bool,
            as_json: bool) -> None:
    # A sandbox found only by its mounted disk had nothing running: its disk is detached
    # quietly, and it is not reported as something that was stopped.
    found = [item for item in found if item.pids]
    if as_json:
        result: dict[str, Any] = {"stopped": stopped, "processes": [i.view() for i in found],
                                  "dry_run": dry_run, "still_running": alive}
        print(json.dumps(result))
        return
    for sandbox_id in stopped:
        console.print(f"stopped sandbox {sandbox_id}", highlight=False)
    verb = "would end" if dry_run else "ended"
    for item in found:
        where = f"{item.data_dir}" + (" (deleted)" if item.orphaned else "")
        console.print(f"{verb} sandbox {item.sandbox_id} of {where}: "
                      f"{len(item.pids)} process(es) {' '.join(map(str, sorted(item.pids)))}",
                      highlight=False, soft_wrap=True)
    if alive:
        err_console.print(f"[red]error[/red] still running after SIGKILL: {alive}; they may "
                          "belong to another user (run as root) or be stuck in the kernel.",
                          highlight=False)
    elif not stopped and not found:
        console.print("nothing to stop: no sandbox process is running", highlight=False)
