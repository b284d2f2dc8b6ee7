"""`hostplane webhooks …`: endpoints that receive the event log, signed."""

from __future__ import annotations

from typing import Annotated

import typer

from hostplane.cli._api import (
    USER_ERROR,
    JsonFlag,
    api_command,
    client,
    console,
    emit_json,
    err_console,
    table,
)

webhooks = typer.Typer(help="Webhooks: the event log sent to your own endpoints.",
                       no_args_is_help=True)
WebhookId = Annotated[str, typer.Argument(help="The webhook's id.")]
COLUMNS = ("id", "url", "events", "state", "failures", "disabled_reason")


@webhooks.command("list")
@api_command
def webhooks_list(as_json: JsonFlag = False) -> None:
    """List the organization's webhooks and whether each is delivering."""
    with client() as hp:
        found = hp.webhooks.list()
    emit_json(found) if as_json else table(found, COLUMNS)


@webhooks.command("create")
@api_command
def webhooks_create(
    url: Annotated[str, typer.Argument(help="The endpoint, https://… (it gets a POST per "
                                            "event).")],
    event: Annotated[list[str], typer.Option(
        "--event", "-e", help="An event type pattern it wants ('sandbox.*', "
                              "'domain.verified', '*'); repeat for several.")],
    description: Annotated[str | None, typer.Option("--description",
                                                    help="A note for people.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a webhook; prints its signing secret, shown this once."""
    with client() as hp:
        made = hp.webhooks.create(url, event, description=description)
    if as_json:
        emit_json(made)  # {"data": the webhook, "secret": …}
        return
    console.print(f"webhook {made.data.id} → {made.data.url}", highlight=False)
    console.print(made.secret, highlight=False)
    err_console.print("the signing secret above is shown once: store it now", style="dim")


@webhooks.command("delete")
@api_command
def webhooks_delete(webhook_id: WebhookId, as_json: JsonFlag = False) -> None:
    """Delete a webhook: nothing more is sent to it."""
    with client() as hp:
        gone = hp.webhooks.delete(webhook_id)
    emit_json(gone) if as_json else console.print(f"deleted webhook {webhook_id}",
                                                  highlight=False)


@webhooks.command("test")
@api_command
def webhooks_test(webhook_id: WebhookId, as_json: JsonFlag = False) -> None:
    """Send a webhook.test event now and print what the endpoint answered; exits 1 when it did
    not accept it (no 2xx)."""
    with client() as hp:
        delivery = hp.webhooks.test(webhook_id)
    if as_json:
        emit_json(delivery)
    elif delivery.success:
        console.print(f"delivered: HTTP {delivery.status_code} in {delivery.duration_ms} ms",
                      highlight=False)
    else:
        err_console.print(f"[red]not delivered[/red]: {delivery.error}", highlight=False)
    if not delivery.success:
        raise typer.Exit(USER_ERROR)
