"""Databases that exist (issue "Local compute driver" §6): a postgresql database and role of its
own on the operator's server, a sqlite file; credentials that connect; stop, start and delete
that the engine feels."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

DATABASES = "/api/v1/databases"


def make(org, **body):
    resp = org.post(DATABASES, {"name": "form submissions", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def creds(org, database_id):
    resp = org.get(f"{DATABASES}/{database_id}/credentials")
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_a_postgresql_database_connects_stops_starts_and_is_dropped(org, container):
    if "postgresql" not in container.databases.engines():
        pytest.skip("no PostgreSQL to make databases on")
    db = make(org)  # the default engine: postgresql when configured
    assert (db["engine"], db["state"]) == ("postgresql", "running")
    found = creds(org, db["id"])
    assert found["url"].startswith("postgresql://") and found["password"]
    assert found["password"] not in org.get(f"{DATABASES}/{db['id']}").text
    with psycopg.connect(found["url"]) as conn:
        conn.execute("CREATE TABLE submissions (email text)")
        conn.execute("INSERT INTO submissions VALUES ('dr@smith.example')")
        assert conn.execute("SELECT count(*) FROM submissions").fetchone() == (1,)

    stopped = org.post(f"{DATABASES}/{db['id']}/stop").json()["data"]
    assert stopped["state"] == "stopped"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(found["url"], connect_timeout=5)
    assert org.post(f"{DATABASES}/{db['id']}/start").json()["data"]["state"] == "running"
    with psycopg.connect(found["url"]) as conn:  # the data survived the stop
        assert conn.execute("SELECT email FROM submissions").fetchone() == ("dr@smith.example",)

    assert org.delete(f"{DATABASES}/{db['id']}").status_code == 200
    assert not container.databases.exists(db["id"], "postgresql")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(found["url"], connect_timeout=5)
    assert org.get(f"{DATABASES}/{db['id']}/credentials").status_code == 404


def test_a_sqlite_database_is_a_file_that_goes_with_it(org, container):
    db = make(org, engine="sqlite")
    found = creds(org, db["id"])
    path = found["database"]
    assert found["url"] == f"sqlite:///{path}" and found["password"] is None
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    org.delete(f"{DATABASES}/{db['id']}")
    assert not container.databases.exists(db["id"], "sqlite")


def test_credentials_stay_out_of_the_audit_log_and_away_from_browser_tokens(org, base_url):
    import httpx

    ws = org.workspace()
    db = make(org, engine="sqlite", workspace_id=ws["id"])
    secret_url = creds(org, db["id"])["url"]
    assert secret_url not in org.get("/api/v1/audit-log", params={"limit": 200}).text
    token = org.post("/api/v1/browser-tokens", {"workspace_id": ws["id"],
                                                "permissions": ["database:read"]}).json()
    with httpx.Client(base_url=base_url, headers={
            "Authorization": f"Bearer {token['data']['token']}"}) as browser:
        assert browser.get(f"{DATABASES}/{db['id']}").status_code == 200
        assert browser.get(f"{DATABASES}/{db['id']}/credentials").status_code == 403


def test_an_unreachable_engine_is_503_without_the_operators_details(tmp_path):
    from hostplane.compute.databases import DatabaseHost, EngineUnavailable

    host = DatabaseHost(tmp_path, "postgresql://operator_admin@127.0.0.1:1/postgres")
    with pytest.raises(EngineUnavailable) as down:
        host.create("0f0f0f0f-0000-4000-8000-000000000000", "postgresql")
    assert down.value.status == 503
    assert "operator_admin" not in down.value.message and "127.0.0.1" not in down.value.message


def test_database_roles_have_a_connection_limit(org, container):
    if "postgresql" not in container.databases.engines():
        pytest.skip("no PostgreSQL to make databases on")
    db = make(org, engine="postgresql")
    found = creds(org, db["id"])
    with psycopg.connect(found["url"]) as conn:
        limit = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user"
                             ).fetchone()[0]
    assert 0 < limit <= 20


@pytest.mark.parametrize("parent", ["workspace", "project"])
def test_deleting_a_workspace_or_project_drops_its_databases(org, container, parent):
    """Deleting what a database belongs to drops it in the engine, role and all: the old
    credentials connect no more (issue 14 item 3), and the sqlite file goes too."""
    ws = org.workspace()
    project = org.project(ws["id"])
    where = {"workspace_id": ws["id"]} if parent == "workspace" else {"project_id": project["id"]}
    made = [make(org, engine="sqlite", **where)]
    if "postgresql" in container.databases.engines():
        made.append(make(org, engine="postgresql", **where))
    found = {db["id"]: creds(org, db["id"]) for db in made}
    target = f"/api/v1/workspaces/{ws['id']}" if parent == "workspace" \
        else f"/api/v1/projects/{project['id']}"
    assert org.delete(target).status_code == 200
    for db in made:
        assert not container.databases.exists(db["id"], db["engine"]), db["engine"]
        if db["engine"] == "postgresql":
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(found[db["id"]]["url"], connect_timeout=5)


def test_a_database_role_connects_to_its_own_database_only(org, other_org, container):
    """Issue 14 item 10: PUBLIC holds CONNECT on every database by default; an organization's
    role must not reach the server's own databases, hostplane's, or another organization's."""
    if "postgresql" not in container.databases.engines():
        pytest.skip("no PostgreSQL to make databases on")
    mine = creds(org, make(org, engine="postgresql")["id"])
    theirs = creds(other_org, make(other_org, engine="postgresql")["id"])
    url = psycopg.conninfo.conninfo_to_dict(mine["url"])
    others = ["postgres", "template1", theirs["database"]]
    if not container.database.is_sqlite:  # hostplane's own database is on the same server here
        others.append(container.database.url.database)
    for name in others:
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(**{**url, "dbname": name}, connect_timeout=5)
    with psycopg.connect(mine["url"]) as conn:  # its own still works
        assert conn.execute("SELECT current_database()").fetchone() == (mine["database"],)


@pytest.mark.parametrize("shared_server", [False, True])
def test_on_a_shared_server_only_the_organizations_databases_are_locked(
        engine_admin, tmp_path, caplog, shared_server):
    """HOSTPLANE_POSTGRES_SHARED_SERVER: hostplane takes CONNECT from PUBLIC on its own database
    when it owns the server, and leaves it (naming it in the log) when the server is shared."""
    import logging
    import uuid

    from hostplane.compute.databases import DatabaseHost
    from hostplane.db.scratch import scratch_database

    admin, prefix = engine_admin
    if admin is None:
        pytest.skip("no PostgreSQL to make databases on")
    with scratch_database(admin, "hpt_own") as own_url:
        host = DatabaseHost(tmp_path, admin, prefix=prefix, own_url=own_url,
                            shared_server=shared_server)
        database_id = str(uuid.uuid4())
        with caplog.at_level(logging.WARNING, logger="hostplane.databases"):
            host.create(database_id, "postgresql")
        try:
            own = own_url.rsplit("/", 1)[-1]
            with host._admin() as conn:
                exposed = conn.execute("SELECT has_database_privilege('public', %s, 'CONNECT')",
                                       (own,)).fetchone()[0]
            assert exposed is shared_server
            assert (own in caplog.text) is shared_server
        finally:
            host.drop(database_id, "postgresql")
