"""The API commands of the CLI, run as a user runs them (real processes) against a real server:
tables for people, stable JSON for scripts, readable errors and exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from io import BytesIO

import pytest
from PIL import Image

from tests.api.test_spec_example import create_dns


@pytest.fixture
def cli(org, base_url):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HOSTPLANE_", "MIOSA_"))}
    env.update(HOSTPLANE_API_URL=base_url, HOSTPLANE_API_KEY=org.api_key, COLUMNS="200")

    def run(*args: str, code: int = 0, as_json: bool = True):
        argv = [*args, "--json"] if as_json and "--" not in args else list(args)
        done = subprocess.run([sys.executable, "-m", "hostplane.cli", *argv], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == code, (argv, done.stdout, done.stderr)
        return json.loads(done.stdout) if as_json and code == 0 and done.stdout.strip() \
            else done

    run.env = env
    return run


def test_org_workspaces_sandboxes_and_the_checklist(cli, org):
    assert cli("org", "show")["slug"] == org.slug
    ws = cli("workspaces", "create", "Dr Smith Clinic", "--external-workspace-id", "clinic_123")
    assert cli("workspaces", "create", "Dr Smith Clinic", "--external-workspace-id",
               "clinic_123")["id"] == ws["id"]
    assert ws["id"] in {w["id"] for w in cli("workspaces", "list")}
    sandbox = cli("sandboxes", "create", "--workspace-id", ws["id"])
    ran = cli("sandboxes", "exec", sandbox["id"], "--", "python3", "-c", "print(6*7)",
              as_json=False)
    assert ran.stdout.strip() == "42"
    # The command's own exit code comes through, as with ssh and docker exec.
    failed = cli("sandboxes", "exec", sandbox["id"], "--", "exit 7", code=7, as_json=False)
    assert failed.stderr == ""
    paused = cli("sandboxes", "pause", sandbox["id"], as_json=False)
    assert paused.returncode == 0
    refused = cli("sandboxes", "exec", sandbox["id"], "--", "true", code=1, as_json=False)
    assert "hostplane sandboxes resume" in refused.stderr  # the fix for a paused sandbox
    cli("sandboxes", "resume", sandbox["id"], as_json=False)
    preview = cli("sandboxes", "expose", sandbox["id"], "5173")
    assert preview["url"] == f"https://5173-{sandbox['slug']}.sandbox.miosa.ai"
    dep = cli("deployments", "create", "Lead Magnet", "--external-workspace-id", "clinic_123")
    assert cli("deployments", "show", dep["id"])["url"] == dep["url"]
    checklist = cli("setup")
    assert {i["key"]: i["status"] for i in checklist["items"]}["workspaces"] == "done"
    people = cli("setup", as_json=False)
    assert "next:" in people.stdout and "✓ done" in people.stdout


def test_databases_computers_and_the_rest_of_each_group(cli):
    """Every group covers what the API offers for it, with the same selector options."""
    ws = cli("workspaces", "create", "Coverage Clinic", "--external-workspace-id", "cov_1")
    assert cli("workspaces", "show", ws["id"])["external_workspace_id"] == "cov_1"
    project = cli("projects", "create", "Booking Portal", "--workspace-id", ws["id"],
                  "--external-project-id", "cov_p1")
    assert cli("projects", "show", project["id"])["workspace_id"] == ws["id"]
    shown = cli("projects", "show", project["id"], as_json=False)
    assert f"slug: {project['slug']}" in shown.stdout
    db = cli("databases", "create", "--name", "forms", "--project-id", project["id"])
    assert db["project_id"] == project["id"] and db["name"] == "forms"
    assert [d["id"] for d in cli("databases", "list", "--workspace-id", ws["id"])] == [db["id"]]
    assert cli("databases", "show", db["id"])["id"] == db["id"]
    assert cli("databases", "credentials", db["id"])["url"]
    assert cli("databases", "rename", db["id"], "submissions")["name"] == "submissions"
    assert cli("databases", "stop", db["id"])["state"] == "stopped"
    assert cli("databases", "start", db["id"])["state"] != "stopped"
    assert cli("databases", "delete", db["id"])["deleted"] is True
    computer = cli("computers", "create", "Front Desk", "--external-workspace-id", "cov_1")
    assert computer["workspace_id"] == ws["id"] and computer["desktop_url"]
    assert [c["id"] for c in cli("computers", "list", "--workspace-id", ws["id"])] == \
        [computer["id"]]
    renamed = cli("computers", "rename", computer["id"], "Reception")
    assert renamed["name"] == "Reception" and renamed["desktop_url"] == computer["desktop_url"]
    assert cli("computers", "show", computer["id"])["name"] == "Reception"
    cli("computers", "delete", computer["id"])
    dep = cli("deployments", "create", "Portal", "--project-id", project["id"])
    assert [d["id"] for d in cli("deployments", "list", "--workspace-id", ws["id"])] == [dep["id"]]
    assert cli("deployments", "delete", dep["id"])["deleted"] is True
    cli("deployments", "show", dep["id"], code=1)
    assert cli("projects", "delete", project["id"])["deleted"] is True
    gone = cli("projects", "show", project["id"], code=1, as_json=False)
    assert "PROJECT_NOT_FOUND" in gone.stderr


def test_sandboxes_stop_all(cli):
    first, second = cli("sandboxes", "create"), cli("sandboxes", "create")
    stopped = cli("sandboxes", "stop", "--all")
    assert {s["id"] for s in stopped} == {first["id"], second["id"]}
    assert {s["state"] for s in cli("sandboxes", "list")} == {"stopped"}
    assert "0 sandboxes stopped" in cli("sandboxes", "stop", "--all", as_json=False).stdout
    both = cli("sandboxes", "stop", first["id"], "--all", code=2)
    assert json.loads(both.stderr)["error"]["code"] == "USAGE_ERROR"


def test_sandbox_lifecycle_processes_and_ports(cli):
    sandbox = cli("sandboxes", "create")
    started = cli("sandboxes", "spawn", sandbox["id"], "--json", "--",
                  "echo ready; exec python3 -m http.server 5173", as_json=False)
    process = json.loads(started.stdout)
    assert process["state"] == "running" and process["id"].startswith("proc_")
    deadline = time.monotonic() + 10
    while not cli("sandboxes", "ports", sandbox["id"])["ports"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    people = cli("sandboxes", "ports", sandbox["id"], as_json=False)
    assert f"https://5173-{sandbox['slug']}.sandbox.miosa.ai" in people.stdout
    assert cli("sandboxes", "logs", sandbox["id"], process["id"], as_json=False).stdout \
        .startswith("ready\n")
    listed = cli("sandboxes", "processes", sandbox["id"])
    assert [p["id"] for p in listed] == [process["id"]]
    assert cli("sandboxes", "kill", sandbox["id"], process["id"])["state"] == "stopped"
    assert cli("sandboxes", "pause", sandbox["id"])["state"] == "paused"
    assert cli("sandboxes", "resume", sandbox["id"])["state"] == "running"
    stopped = cli("sandboxes", "stop", sandbox["id"], as_json=False)
    assert stopped.stdout.strip() == f"sandbox {sandbox['id']} is stopped: stopped on request"
    assert cli("sandboxes", "start", sandbox["id"])["state"] == "running"
    short = cli("sandboxes", "spawn", sandbox["id"], "--", "echo one; sleep 0.5; echo two",
                as_json=False).stdout.split()[-1]
    followed = cli("sandboxes", "logs", sandbox["id"], short, "--follow", as_json=False)
    assert followed.stdout == "one\ntwo\n"


def test_domains_add_doctor_and_verify_wait(cli, zone):
    dep = cli("deployments", "create", "Site")
    name = f"program.cli{uuid.uuid4().hex[:10]}.com"
    added = cli("domains", "add", name, "--deployment", dep["id"])
    assert added["status"] == "pending"
    doctor = cli("domains", "doctor", name, code=1, as_json=False)
    assert "missing" in doctor.stdout and "fix" in doctor.stdout
    assert f"_hostplane-challenge.{name}" in doctor.stdout
    create_dns(zone, added["dns_records"])
    verified = cli("domains", "verify", name, "--wait", "--timeout", "60")
    assert verified["verified"] is True
    assert cli("domains", "doctor", name, as_json=False).returncode == 0
    assert cli("deployments", "show", dep["id"])["url"] == f"https://{name}"
    assert cli("domains", "remove", name)["deleted"] is True


def test_verify_wait_honours_the_timeout_and_says_so(cli):
    """--timeout 3 waits about 3 s (not one check, not 30 s), shows progress without a terminal
    (plain lines on stderr), then says it gave up: exit code 4, the last record on stdout."""
    dep = cli("deployments", "create", "Waiting")
    name = f"wait.cli{uuid.uuid4().hex[:10]}.com"
    cli("domains", "add", name, "--deployment", dep["id"])
    started = time.monotonic()
    waited = cli("domains", "verify", name, "--wait", "--timeout", "3", code=4)
    assert 3 <= time.monotonic() - started < 25
    assert json.loads(waited.stdout)["verified"] is False
    lines = waited.stderr.splitlines()
    assert any(f"{name} is pending" in line and "next check in" in line for line in lines)
    error = json.loads(waited.stderr[waited.stderr.index("{"):])["error"]
    assert error["code"] == "TIMED_OUT" and "Gave up after 3 s" in error["message"]
    people = cli("domains", "verify", name, "--wait", "--timeout", "0", code=4, as_json=False)
    assert "TIMED_OUT" in people.stderr and f"{name}: pending" in people.stdout


def test_preview_domain_commands(cli, zone):
    name = f"cli{uuid.uuid4().hex[:10]}.dev"
    record = cli("preview-domain", "set", name)
    assert record["status"] == "pending"
    create_dns(zone, record["dns_records"])
    assert cli("preview-domain", "verify", "--wait")["verified"] is True
    assert cli("preview-domain", "show")["active_domain"] == name
    shown = cli("preview-domain", "show", as_json=False)
    assert name in shown.stdout


def test_branding_and_browser_tokens(cli, tmp_path):
    assert cli("branding", "set", "--app-name", "ClinicIQ", "--no-powered-by")[
        "powered_by_visible"] is False
    picture = tmp_path / "wall.png"
    out = BytesIO()
    Image.new("RGB", (800, 600)).save(out, format="PNG")
    picture.write_bytes(out.getvalue())
    uploaded = cli("branding", "wallpaper", str(picture), as_json=False)
    assert "800×600" in uploaded.stdout and "recommended" in uploaded.stdout
    assert cli("branding", "show")["product_name"] == "ClinicIQ"
    ws = cli("workspaces", "create", "Tokens")
    token = cli("browser-tokens", "create", "-p", "sandbox:read", "--workspace-id", ws["id"],
                "--external-user-id", "dr-smith")
    assert token["token"] and token["permissions"] == ["sandbox:read"]
    assert cli("browser-tokens", "revoke", "--user", "dr-smith")["revoked"] == 1


def test_errors_and_exit_codes(cli, base_url):
    missing = cli("sandboxes", "expose", "no-such", "80", code=1, as_json=False)
    assert "SANDBOX_NOT_FOUND" in missing.stderr and "request id" in missing.stderr
    refused = cli("branding", "set", "--support-url", "help.example.com", code=1)
    error = json.loads(refused.stderr)["error"]
    assert error["code"] == "INVALID_URL" and error["details"]["field"] == "support_url"
    env = {**cli.env, "HOSTPLANE_API_URL": "http://127.0.0.1:9"}
    down = subprocess.run([sys.executable, "-m", "hostplane.cli", "org", "show"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert down.returncode == 3 and "CONNECTION_FAILED" in down.stderr
    # A wrong command line is not a refused request: 2, as for any bad option.
    assert cli("org", "show", "--no-such-option", code=2, as_json=False).stderr
    dep = cli("deployments", "create", "Two Targets")
    both = cli("domains", "add", "two.example.com", "--deployment-id", dep["id"], "--project-id",
               dep["project_id"], code=2)
    assert json.loads(both.stderr)["error"]["code"] == "USAGE_ERROR"
    keyless = {k: v for k, v in cli.env.items() if k != "HOSTPLANE_API_KEY"}
    nokey = subprocess.run([sys.executable, "-m", "hostplane.cli", "org", "show"], env=keyless,
                           capture_output=True, text=True, timeout=120)
    assert nokey.returncode == 1 and "hostplane accounts create" in nokey.stderr
    gone = cli("sandboxes", "ports", "no-such", code=1, as_json=False)
    assert "List your sandboxes" in gone.stderr  # not "sandboxs"


@pytest.mark.parametrize("args", [
    ["org"], ["org", "setup"], ["setup"], ["workspaces", "create"], ["projects", "list"],
    ["sandboxes", "exec"], ["deployments", "show"], ["domains", "add"], ["domains", "verify"],
    ["domains", "doctor"], ["preview-domain", "verify"], ["deployment-domain", "set"],
    ["branding", "set"], ["branding", "wallpaper"], ["browser-tokens", "create"],
    ["browser-tokens", "revoke"], ["databases", "create"], ["databases", "credentials"],
    ["computers", "create"], ["computers", "show"], ["workspaces", "show"],
    ["projects", "delete"], ["deployments", "delete"], ["sandboxes", "stop"], ["down"]])
def test_every_command_has_help(args):
    from typer.testing import CliRunner

    from hostplane.cli.main import app

    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_events_and_webhooks(cli, org, backend):
    """`events list|tail` and `webhooks create|list|test|delete`, JSON for scripts and the exit
    codes of docs/cli.md (a test delivery the endpoint refused is 1)."""
    from tests.api.test_webhooks import Receiver

    if backend != "sqlite":
        pytest.skip("the commands talk HTTP: one database is enough")

    receiver = Receiver()
    try:
        made = cli("webhooks", "create", receiver.url, "--event", "workspace.*")
        webhook, secret = made["data"], made["secret"]
        assert secret.startswith("whsec_") and webhook["events"] == ["workspace.*"]
        assert webhook["id"] in {w["id"] for w in cli("webhooks", "list")}
        start = max([e["id"] for e in org.get("/api/v1/events", params={"limit": 200})
                     .json()["data"]] or [0])
        ws = org.workspace()
        listed = cli("events", "list", "--types", "workspace.*", "--after", str(start))
        assert [(e["type"], e["object_id"]) for e in listed] == [("workspace.created", ws["id"])]
        followed = cli("events", "tail", "--after", str(start), "--types", "workspace.*",
                       "--limit", "1")  # the stream, until one event came
        assert followed["object_id"] == ws["id"]
        assert cli("webhooks", "test", webhook["id"])["success"] is True
        receiver.answers = [500]
        refused = cli("webhooks", "test", webhook["id"], code=1, as_json=False)
        assert "HTTP 500" in refused.stderr
        assert cli("webhooks", "delete", webhook["id"])["id"] == webhook["id"]
        missing = cli("webhooks", "test", webhook["id"], code=1)
        assert json.loads(missing.stderr)["error"]["code"].endswith("NOT_FOUND")
    finally:
        receiver.server.shutdown()
