"""`hostplane org …` and `hostplane setup`: the organization and its setup checklist."""

from __future__ import annotations

from typing import Annotated

import typer

from hostplane.cli._api import JsonFlag, api_command, client, console, emit_json, fields

org = typer.Typer(help="The organization your API key belongs to.", no_args_is_help=True)
ORG_FIELDS = ("id", "name", "slug", "setup_required", "setup_reason")
MARKS = {"done": "[green]✓ done[/green]", "todo": "[yellow]• to do[/yellow]",
         "optional": "[dim]○ optional[/dim]"}


@org.command("show")
@api_command
def org_show(as_json: JsonFlag = False) -> None:
    """Show the organization: name, permanent slug, whether setup is still required."""
    with client() as hp:
        found = hp.org.show()
    emit_json(found) if as_json else fields(found, ORG_FIELDS)


@org.command("setup")
@api_command
def org_setup(
    name: Annotated[str, typer.Argument(help="The organization's name, e.g. ClinicIQ.")],
    as_json: JsonFlag = False,
) -> None:
    """Name the organization. This fixes its permanent slug (in every fallback URL), once."""
    with client() as hp:
        updated = hp.org.setup(hp.org.show().id, name)
    if as_json:
        emit_json(updated)
    else:
        console.print(f"{updated.name}: slug [bold]{updated.slug}[/bold] (permanent)")


@api_command
def setup(as_json: JsonFlag = False) -> None:
    """The setup checklist, each step from real state, and what to do next."""
    with client() as hp:
        checklist = hp.org.checklist()
    if as_json:
        emit_json(checklist)
        return
    for item in checklist.items:
        console.print(f"{MARKS[item.status]}  {item.title}", highlight=False)
        console.print(f"      {item.detail}", style="dim", highlight=False)
    if checklist.next:
        console.print(f"\nnext: [bold]{checklist.next}[/bold]", highlight=False)
    else:
        console.print("\n[green]setup complete[/green]")
