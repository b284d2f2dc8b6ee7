"""`hostplane backup` and `hostplane restore` for the embedded SQLite default: one archive with the
database (copied online, with SQLite's backup API, while hostplane keeps serving), the release
files, the branding images and the organizations' SQLite databases; sandboxes' files on request.
On PostgreSQL they say to use pg_dump (docs/operators.md)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
import tarfile
import tempfile
from pathlib import Path
from typing import Annotated

import typer

# What a backup holds besides the database, relative to the data dir.
FOLDERS = ("releases", "assets")
TENANT_DATABASES = "databases"
SANDBOXES = "sandboxes"
DATABASE = "hostplane.db"


def backup(
    destination: Annotated[Path, typer.Argument(help="The archive to write (.tar.gz).")],
    sandboxes: Annotated[bool, typer.Option(
        "--sandboxes", help="Also the sandboxes' files (large; copied as they are).")] = False,
) -> None:
    """Copy everything hostplane keeps into one archive, without stopping it."""
    data_dir, database = _sqlite_paths()
    if destination.exists():
        _fail(f"{destination} exists; choose a new file name.")
    # Owner-only from the first byte: it holds every organization's data and webhook secrets.
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with tempfile.TemporaryDirectory() as scratch, os.fdopen(fd, "wb") as raw, \
            tarfile.open(fileobj=raw, mode="w:gz") as archive:
        archive.add(_online_copy(database, Path(scratch) / DATABASE), arcname=DATABASE)
        for folder in FOLDERS + ((SANDBOXES,) if sandboxes else ()):
            if (data_dir / folder).is_dir():
                archive.add(data_dir / folder, arcname=folder)
        tenant_dbs = [p for p in sorted((data_dir / TENANT_DATABASES).glob("**/*"))
                      if p.is_file() and _is_sqlite(p)]
        for number, tenant_db in enumerate(tenant_dbs):
            copy = _online_copy(tenant_db, Path(scratch) / f"{number}.db")
            archive.add(copy, arcname=str(tenant_db.relative_to(data_dir)))
    typer.echo(f"backed up {data_dir} to {destination}")


def restore(
    source: Annotated[Path, typer.Argument(help="An archive written by hostplane backup.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the database already in the data dir.")] = False,
) -> None:
    """Put a backup back into the data dir. Stop hostplane first."""
    data_dir, database = _sqlite_paths()
    if not source.is_file():
        _fail(f"{source} is not a file.")
    if database.exists() and not force:
        _fail(f"{database} exists. Stop hostplane, then run again with --force to replace it.")
    with tarfile.open(source, "r:gz") as archive:
        if DATABASE not in archive.getnames():
            _fail(f"{source} is not a hostplane backup (it holds no {DATABASE}).")
        data_dir.mkdir(parents=True, exist_ok=True)
        # Unpacked beside the data dir first, and moved in only once all of it is out: a
        # backup that fails half-way changes nothing.
        staging = Path(tempfile.mkdtemp(dir=data_dir.parent, prefix=".restore-"))
        try:
            for member in archive:
                # Sandboxes' files may hold links (a Python venv has absolute ones): kept as
                # links, never followed; everything else as plain data. Neither filter lets a
                # member land outside the staging folder.
                sandbox = member.name.split("/", 1)[0] == SANDBOXES
                archive.extract(member, staging, filter="tar" if sandbox else "data")
        except (tarfile.TarError, OSError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            _fail(f"{source} could not be restored ({type(exc).__name__}: {exc}); nothing "
                  "was changed.")
    for suffix in ("-wal", "-shm"):  # a stale log must not replay over the restored file
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    (staging / DATABASE).replace(database)  # where HOSTPLANE_DATABASE_URL says it lives
    for entry in staging.iterdir():
        target = data_dir / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        entry.rename(target)
    staging.rmdir()
    typer.echo(f"restored {source} into {data_dir}")


def _sqlite_paths() -> tuple[Path, Path]:
    from hostplane.settings import get_settings

    settings = get_settings()
    url = settings.sqlalchemy_url
    if not url.startswith("sqlite:///"):
        _fail("The database is PostgreSQL: back it up with pg_dump, and the data dir's releases "
              "and assets folders with it (docs/operators.md, Backups).")
    return settings.data_dir.resolve(), Path(url.removeprefix("sqlite:///"))


def _online_copy(source: Path, target: Path) -> Path:
    """A consistent copy of a live SQLite database (its writers carry on meanwhile)."""
    if not source.exists():
        _fail(f"There is no database at {source}.")
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as live, \
            closing(sqlite3.connect(target)) as copy:
        live.backup(copy)
    return target


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)
