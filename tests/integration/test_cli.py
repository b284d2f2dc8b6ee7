"""The operator commands, run as a user runs them: real processes, real files, real HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hostplane.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(tmp_path, database_url) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("HOSTPLANE_")}
    values["HOSTPLANE_DATA_DIR"] = str(tmp_path / "data")
    if not database_url.startswith("sqlite"):
        values["HOSTPLANE_DATABASE_URL"] = database_url
    return values


@pytest.mark.parametrize("args", [[], ["accounts"], ["accounts", "create"], ["keys"],
                                  ["keys", "create"], ["db"], ["db", "upgrade"], ["serve"],
                                  ["api"], ["worker"], ["tenants"],
                                  ["tenants", "set-deployment-domain"], ["keys", "rotate-signing"],
                                  ["keys", "signing-keys"], ["keys", "revoke-signing"],
                                  ["backup"], ["restore"]])
def test_help_everywhere(args):
    from typer.testing import CliRunner

    from hostplane.cli.main import app

    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output.splitlines()) > 5


def test_accounts_and_keys_print_json(env):
    made = run(env, "accounts", "create", "--json")
    assert made.returncode == 0, made.stderr
    account = json.loads(made.stdout)
    assert set(account) == {"tenant_id", "slug", "name", "api_key"}
    assert re.fullmatch(r"org-[a-z0-9]{8}", account["slug"]) and account["name"] == ""
    named = json.loads(run(env, "accounts", "create", "--name", f"Cli Org {time.time_ns()}",
                           "--email", "ops@example.com", "--json").stdout)
    assert named["slug"].startswith("cli-org-")
    key = json.loads(run(env, "keys", "create", "--tenant", named["slug"], "--name", "ci",
                         "--json").stdout)
    assert set(key) == {"id", "api_key", "key_prefix"}
    assert key["api_key"].startswith(key["key_prefix"])
    missing = run(env, "keys", "create", "--tenant", "no-such-org", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stderr)["error"]["details"]["field"] == "tenant"
    # With --json, refusals are JSON too, naming the field, the rule and the fix.
    taken = run(env, "accounts", "create", "--name", named["name"], "--json")
    assert taken.returncode == 1 and taken.stdout == ""
    error = json.loads(taken.stderr)["error"]
    assert error["code"] == "SLUG_TAKEN" and error["details"]["field"] == "name"
    assert error["details"]["fix"]
    people = run(env, "accounts", "create", "--name", named["name"])
    assert "SLUG_TAKEN" in people.stderr and "fix:" in people.stderr


def test_db_upgrade_reports_the_revision(env):
    result = run(env, "db", "upgrade", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["revision"]


def test_serve_answers_healthz_and_the_api(env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    account = json.loads(run(env, "accounts", "create", "--name", f"Serve {time.time_ns()}",
                             "--json").stdout)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        edge_port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "hostplane.cli", "serve", "--port", str(port)],
                            env={**env, "HOSTPLANE_EDGE_PORT": str(edge_port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {account['api_key']}"}
        current = httpx.get(f"{base}/api/v1/platform/tenants/current", headers=headers).json()
        assert current["id"] == account["tenant_id"]
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert account["api_key"] not in output  # secrets never reach the logs


def test_operator_sets_a_deployment_domain(env, container, base_url):
    """Spec §5 leaves the deployment domain operator-managed: the command sets it, and with
    --verified deployment URLs use it at once (checked through the API of the same database)."""
    if env.get("HOSTPLANE_DATABASE_URL") is None:
        env["HOSTPLANE_DATABASE_URL"] = container.settings.sqlalchemy_url
    name = f"Domain Org {time.time_ns()}"
    account = json.loads(run(env, "accounts", "create", "--name", name, "--json").stdout)
    refused = run(env, "tenants", "set-deployment-domain", "not a domain", "--tenant",
                  account["slug"])
    assert refused.returncode == 1 and "INVALID_DOMAIN" in refused.stderr
    missing = run(env, "tenants", "set-deployment-domain", "apps.example.com", "--tenant", "nobody")
    assert missing.returncode == 1 and "ORG_NOT_FOUND" in missing.stderr
    made = run(env, "tenants", "set-deployment-domain", "Apps.Example.com", "--tenant",
               account["slug"], "--verified", "--json")
    assert made.returncode == 0, made.stderr
    record = json.loads(made.stdout)
    assert (record["domain"], record["status"]) == ("apps.example.com", "verified")
    with httpx.Client(base_url=base_url,
                      headers={"Authorization": f"Bearer {account['api_key']}"}) as client:
        dep = client.post("/api/v1/deployments", json={"name": "Lead Magnet"}).json()["data"]
        assert dep["url"] == "https://lead-magnet.apps.example.com"
        assert dep["urls"]["fallback"] == f"https://lead-magnet.{account['slug']}.miosa.app"


def test_signing_keys_rotate_and_revoke(env):
    first = json.loads(run(env, "keys", "rotate-signing", "--json").stdout)
    second = json.loads(run(env, "keys", "rotate-signing", "--json").stdout)
    listed = {k["kid"]: k["status"] for k in
              json.loads(run(env, "keys", "signing-keys", "--json").stdout)["keys"]}
    assert listed[first["kid"]] == "previous" and listed[second["kid"]] == "active"
    revoked = run(env, "keys", "revoke-signing", first["kid"], "--json")
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    missing = run(env, "keys", "revoke-signing", "no-such-key")
    assert missing.returncode == 1 and "SIGNING_KEY_NOT_FOUND" in missing.stderr
    assert "private" not in run(env, "keys", "signing-keys", "--json").stdout


def test_the_command_line_starts_without_the_server_or_the_client():
    """`hostplane --help` and the API commands start without importing the database layer,
    the services or the HTTP client (it took 1.5 s of CPU per call; issue 15 item 11)."""
    probe = ("import sys, hostplane.cli.main; "
             "print(sorted(m for m in ('sqlalchemy', 'httpx', 'pydantic', 'hostplane.api', "
             "'hostplane.client', 'hostplane.settings', 'uvicorn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"
    started = time.monotonic()
    assert subprocess.run([sys.executable, "-m", "hostplane.cli", "--help"],
                          capture_output=True).returncode == 0
    assert time.monotonic() - started < 5  # generous: the machine is shared; 0.3 s when quiet
