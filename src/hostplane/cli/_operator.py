"""What the operator commands share: this machine's container (database migrated), and errors
turned into a message on stderr (JSON with --json) and exit code 1."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from hostplane import errors
from hostplane.cli._api import USER_ERROR, report

# The server's modules are imported when an operator command runs, not when `hostplane` starts.
if TYPE_CHECKING:
    from hostplane.api.container import Container


def container() -> Container:
    """The database, services and compute driver of HOSTPLANE_DATA_DIR, migrated to the latest
    schema."""
    from hostplane.api.container import Container
    from hostplane.db.migrate import upgrade
    from hostplane.settings import get_settings

    built = Container.build(get_settings())
    upgrade(built.database)
    return built


def fail(exc: errors.HostplaneError, as_json: bool = False) -> NoReturn:
    report(exc.code, exc.message, exc.details, None, as_json)
    raise typer.Exit(USER_ERROR)
