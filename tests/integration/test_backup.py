"""`hostplane backup` / `hostplane restore` (issue "Events, webhooks …" item 5), run as an
operator runs them: real processes, the real data dir, a database written meanwhile."""

from __future__ import annotations

import json
import sqlite3
import tarfile
import threading
import time

from tests.integration.test_cli import env, run  # noqa: F401 - the fixture, shared

__all__ = ["env"]


def account(env, name):  # noqa: F811
    made = run(env, "accounts", "create", "--name", f"{name} {time.time_ns()}", "--json")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


def test_a_backup_taken_while_writing_restores_what_it_held(env, tmp_path, database_url):  # noqa: F811
    archive = tmp_path / "backup.tar.gz"
    if not database_url.startswith("sqlite"):
        refused = run(env, "backup", str(archive))
        assert refused.returncode == 1 and "pg_dump" in refused.stderr
        assert not archive.exists()
        return
    kept = account(env, "Kept")
    database = tmp_path / "data" / "hostplane.db"
    stop = threading.Event()

    def write() -> None:  # another process's writes, while the backup runs
        with sqlite3.connect(database, timeout=30) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS scratch (n INTEGER)")
            while not stop.is_set():
                conn.execute("INSERT INTO scratch VALUES (1)")
                conn.commit()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        made = run(env, "backup", str(archive))
    finally:
        stop.set()
        writer.join()
    assert made.returncode == 0, made.stderr
    with tarfile.open(archive) as tar:
        assert "hostplane.db" in tar.getnames()
    again = run(env, "backup", str(archive))
    assert again.returncode == 1 and "exists" in again.stderr  # never overwritten

    later = account(env, "Later")
    refused = run(env, "restore", str(archive))
    assert refused.returncode == 1 and "--force" in refused.stderr
    restored = run(env, "restore", str(archive), "--force")
    assert restored.returncode == 0, restored.stderr
    keys = run(env, "keys", "create", "--tenant", kept["slug"], "--json")
    assert keys.returncode == 0, keys.stderr
    gone = run(env, "keys", "create", "--tenant", later["slug"], "--json")
    assert gone.returncode == 1 and "ORG_NOT_FOUND" in gone.stderr


def test_restore_refuses_what_is_not_a_backup(env, tmp_path, database_url):  # noqa: F811
    if not database_url.startswith("sqlite"):
        return
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        (tmp_path / "x").write_text("x")
        tar.add(tmp_path / "x", arcname="x")
    result = run(env, "restore", str(bogus))
    assert result.returncode == 1 and "not a hostplane backup" in result.stderr


def test_sandboxes_files_with_links_come_back_and_archives_are_owner_only(env, tmp_path,  # noqa: F811
                                                                        database_url):
    """A sandbox's files may hold absolute links (every Python venv does): they come back as
    links, never followed; the archive is readable by its owner only."""
    import os
    import stat

    if not database_url.startswith("sqlite"):
        return
    account(env, "Links")
    home = tmp_path / "data" / "sandboxes" / "sbx-test" / "workspace"
    home.mkdir(parents=True)
    (home / "python").symlink_to("/usr/bin/python3")
    (home / "notes.txt").write_text("kept")
    archive = tmp_path / "with-sandboxes.tar.gz"
    made = run(env, "backup", str(archive), "--sandboxes")
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    restored = run(env, "restore", str(archive), "--force")
    assert restored.returncode == 0, restored.stderr
    assert os.readlink(home / "python") == "/usr/bin/python3"
    assert (home / "notes.txt").read_text() == "kept"
