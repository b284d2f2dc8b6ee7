"""`hostplane domains …`, `hostplane preview-domain …` and `hostplane deployment-domain …`: add,
verify (and wait), list, remove, and `doctor`, which explains record by record what is missing or
conflicting and the exact fix."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hostplane.cli._api import (
    TIMED_OUT,
    USER_ERROR,
    JsonFlag,
    api_command,
    client,
    console,
    emit_json,
    err_console,
    report,
    table,
    usage_error,
)
if TYPE_CHECKING:
    from hostplane.client import Hostplane

domains = typer.Typer(help="Exact custom domains of deployments, computers and projects.",
                      no_args_is_help=True)
WaitFlag = Annotated[bool, typer.Option("--wait", help="Check again until verified, showing "
                                                       "progress.")]
TimeoutOpt = Annotated[int, typer.Option("--timeout", min=0, help="With --wait: seconds to wait "
                                                                  "at most.")]
EVERY = 30.0  # seconds between checks while waiting (verify is limited per organization and hour)


@domains.command("add")
@api_command
def domains_add(
    domain: str,
    deployment: Annotated[str | None, typer.Option("--deployment", "--deployment-id",
                                                   help="Deployment id.")] = None,
    computer: Annotated[str | None, typer.Option("--computer", "--computer-id",
                                                 help="Computer id.")] = None,
    project: Annotated[str | None, typer.Option(
        "--project", "--project-id", help="Project id (routes to its production deployment).")]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Attach DOMAIN to one deployment, computer or project, and print the DNS to create."""
    targets = [(t, i) for t, i in (("deployment", deployment), ("computer", computer),
                                   ("project", project)) if i]
    if len(targets) != 1:
        usage_error(f"{len(targets)} targets given for {domain}; a domain serves exactly one.",
                    "Give exactly one of --deployment ID, --computer ID or --project ID.",
                    as_json)
    with client() as hp:
        record = hp.domains.add(domain, target_type=targets[0][0], target_id=targets[0][1])
    if as_json:
        emit_json(record)
        return
    console.print(f"{record.domain}: {record.state} (id {record.id})", highlight=False)
    _records(record)


@domains.command("list")
@api_command
def domains_list(as_json: JsonFlag = False) -> None:
    """List the exact domains and their states."""
    with client() as hp:
        found = list(hp.domains.iter())
    emit_json(found) if as_json else table(
        found, ("id", "domain", "state", "target_type", "target_id", "last_checked_at"))


@domains.command("verify")
@api_command
def domains_verify(domain: Annotated[str, typer.Argument(help="Domain id or name.")],
                   wait: WaitFlag = False, timeout: TimeoutOpt = 600,
                   as_json: JsonFlag = False) -> None:
    """Check DNS now; with --wait, keep checking (every 30 s) until verified, or until --timeout
    seconds have passed (exit code 4)."""
    with client() as hp:
        domain_id = _find(hp, domain).id
        record = _wait(lambda: hp.domains.verify(domain_id), wait, timeout, as_json)
    _finish(record, as_json)


@domains.command("remove")
@api_command
def domains_remove(domain: Annotated[str, typer.Argument(help="Domain id or name.")],
                   as_json: JsonFlag = False) -> None:
    """Detach a domain (whoever claims it next proves it anew)."""
    with client() as hp:
        found = _find(hp, domain)
        result = hp.domains.remove(found.id)
    emit_json(result) if as_json else console.print(f"removed {found.domain}")


@domains.command("doctor")
@api_command
def domains_doctor(name: Annotated[str, typer.Argument(help="A domain name (exact, preview or "
                                                            "deployment domain).")],
                   as_json: JsonFlag = False) -> None:
    """Check a domain now and explain, record by record, what is missing or conflicting and the
    exact fix. Exits 0 when every required record is right."""
    with client() as hp:
        record = _doctor_target(hp, name)
    if as_json:
        emit_json(record)
    else:
        console.print(f"[bold]{record.domain}[/bold]: {record.status}", highlight=False)
        _records(record, explain=True)
    if not record.verified:
        raise typer.Exit(USER_ERROR)


def _doctor_target(hp: Hostplane, name: str) -> Any:
    name = name.strip().lower().rstrip(".")
    for kind in (hp.preview_domain, hp.deployment_domain):
        if kind.get().domain == name:
            return _rate_limited_ok(kind.verify, kind.get)
    found = _find(hp, name)
    return _rate_limited_ok(lambda: hp.domains.verify(found.id), lambda: hp.domains.get(found.id))


def _rate_limited_ok(check: Any, last: Any) -> Any:
    """A fresh check, or the last one when checks are rate-limited right now."""
    from hostplane.client import errors

    try:
        return check()
    except errors.RateLimited:
        return last()


def _find(hp: Hostplane, id_or_name: str) -> Any:
    from hostplane.client import errors

    wanted = id_or_name.strip().lower().rstrip(".")
    for record in hp.domains.iter():
        if wanted in (record.id, record.domain):
            return record
    raise errors.NotFound(404, "DOMAIN_NOT_FOUND", f"No domain {id_or_name!r} here.",
                          {"fix": "hostplane domains list"}, None)


def _records(record: Any, explain: bool = False) -> None:
    marks = {"ok": "[green]ok[/green]", "missing": "[red]missing[/red]",
             "conflict": "[red]conflict[/red]", None: "[dim]not checked[/dim]"}
    for r in record.dns_records:
        need = "" if r.required else " (optional)"
        # soft_wrap: a record's value must stay on one line, to be copied (or piped) whole.
        console.print(f"  {marks.get(r.status, r.status)}  {r.purpose}{need}: {r.type} "
                      f"{r.name} → {r.value}", highlight=False, soft_wrap=True)
        if explain and r.observed and r.status != "ok":
            console.print(f"      DNS answers: {', '.join(r.observed)}", highlight=False,
                          soft_wrap=True)
    if explain:
        for error in record.errors:
            console.print(f"  [yellow]fix[/yellow] ({error.actor or 'customer'}): {error.fix}",
                          highlight=False, soft_wrap=True)


def _wait(check: Any, wait: bool, timeout: int, as_json: bool) -> Any:
    """One check, or (--wait) checks until verified or `timeout` seconds have passed, saying
    where it stands: a spinner on a terminal, else a line on stderr per check. Out of time, the
    last record is printed as usual and the command ends with TIMED_OUT (exit code 4)."""
    from hostplane.client import errors

    if not wait:
        return check()
    deadline = time.monotonic() + timeout
    record = None
    with _progress() as say:
        while True:
            try:
                record, pause, note = check(), EVERY, None
            except errors.RateLimited as exc:
                pause, note = exc.retry_after or EVERY, "checks are rate-limited"
            if record is not None and record.verified:
                return record
            left = deadline - time.monotonic()
            if left <= 0:
                break
            pause = min(pause, left)
            say(f"{_standing(record, note)}; next check in {pause:.0f} s "
                f"(gives up in {left:.0f} s)")
            time.sleep(pause)
    if record is not None:
        _show(record, as_json)
    missing = _standing(record, "no check got through (rate-limited)")
    report("TIMED_OUT", f"Gave up after {timeout} s: {missing}.",
           {"fix": "Create the DNS records shown (hostplane domains doctor NAME explains "
                   "each), then verify again; DNS changes can take minutes to reach resolvers. "
                   "A longer --timeout waits longer."}, None, as_json)
    raise typer.Exit(TIMED_OUT)


def _standing(record: Any, note: str | None) -> str:
    if record is None:
        return note or "not checked yet"
    missing = [f"{r.type} {r.name}" for r in record.dns_records
               if r.required and r.status != "ok"]
    return (f"{record.domain} is {record.status}"
            + (f", waiting for {', '.join(missing)}" if missing else "")
            + (f" ({note})" if note else ""))


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """Progress on stderr: a spinner on a terminal, else one plain line per update."""
    if err_console.is_terminal:
        with err_console.status("checking DNS…", spinner="dots") as status:
            yield status.update
    else:
        yield lambda line: typer.echo(line, err=True)


def _finish(record: Any, as_json: bool) -> None:
    _show(record, as_json)
    if not record.verified:
        raise typer.Exit(USER_ERROR)


def _show(record: Any, as_json: bool) -> None:
    if as_json:
        emit_json(record)
    else:
        console.print(f"{record.domain}: {record.status}", highlight=False)
        if not record.verified:
            _records(record, explain=True)


def organization_domain(kind: str) -> typer.Typer:
    """`hostplane preview-domain …` or `hostplane deployment-domain …`."""
    group = typer.Typer(help=f"The organization's {kind} domain.", no_args_is_help=True)

    @group.command("set")
    @api_command
    def set_domain(domain: str, as_json: JsonFlag = False) -> None:
        """Set the domain and print the DNS records to create."""
        with client() as hp:
            record = getattr(hp, f"{kind}_domain").set(domain)
        if as_json:
            emit_json(record)
            return
        console.print(f"{kind} domain {record.domain}: {record.status}", highlight=False)
        _records(record)

    @group.command("show")
    @api_command
    def show_domain(as_json: JsonFlag = False) -> None:
        """Show the domain, its state and its DNS records."""
        with client() as hp:
            record = getattr(hp, f"{kind}_domain").get()
        if as_json:
            emit_json(record)
            return
        console.print(f"{kind} domain {record.domain or '(not set)'}: {record.status}; URLs use "
                      f"{record.active_domain}", highlight=False)
        _records(record)

    @group.command("verify")
    @api_command
    def verify_domain(wait: WaitFlag = False, timeout: TimeoutOpt = 600,
                      as_json: JsonFlag = False) -> None:
        """Check DNS now; with --wait, keep checking (every 30 s) until verified, or until
        --timeout seconds have passed (exit code 4)."""
        with client() as hp:
            record = _wait(getattr(hp, f"{kind}_domain").verify, wait, timeout, as_json)
        _finish(record, as_json)

    @group.command("remove")
    @api_command
    def remove_domain(as_json: JsonFlag = False) -> None:
        """Remove the domain; URLs go back to the platform's."""
        with client() as hp:
            record = getattr(hp, f"{kind}_domain").delete()
        emit_json(record) if as_json else console.print(f"{kind} domain removed")

    return group
