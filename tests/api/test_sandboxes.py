"""Sandboxes (contract §8): create, list, by-name, destroy; exec and files (§8.4); previews (§8.3)."""

from __future__ import annotations

import base64
import re
import uuid

import pytest

from tests.factories import unique

SLUG = re.compile(r"^sbx[a-z0-9]{8}$")
BASE = "/api/v1/sandboxes"


def create(org, **body):
    resp = org.post(BASE, body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def listed(org, **params):
    resp = org.get(BASE, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def error_of(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    if code is not None:
        assert err["code"] == code, err
    return err


# Create


def test_create_answers_a_running_sandbox_with_its_preview_url(org):
    resp = org.post(BASE, {"template_id": "miosa-sandbox", "name": "app"})
    assert resp.status_code == 201, resp.text
    assert set(resp.json()) == {"data"}
    sbx = resp.json()["data"]
    assert sbx["id"] and sbx["tenant_id"] == org.tenant_id
    assert sbx["state"] == "running" and sbx["ready"] is True
    assert SLUG.match(sbx["slug"]), sbx["slug"]
    assert sbx["preview_url"] == f"https://5173-{sbx['slug']}.sandbox.miosa.ai"
    assert sbx["workspace_id"] and sbx["project_id"]


def test_no_selectors_means_the_default_workspace_and_its_default_project(org):
    sbx = create(org)
    ws = org.get(f"/api/v1/workspaces/{sbx['workspace_id']}")
    assert ws.status_code == 200 and ws.json()["is_default"] is True
    project = org.get(f"/api/v1/projects/{sbx['project_id']}").json()["data"]
    assert project["is_default"] is True and project["workspace_id"] == sbx["workspace_id"]


def test_external_ids_are_stored(org):
    ext_ws, ext_project, user = unique("ws"), unique("proj"), unique("user")
    sbx = create(org, external_workspace_id=ext_ws, external_project_id=ext_project,
                 external_user_id=user)
    again = org.get(f"{BASE}/{sbx['id']}").json()["data"]
    for got in (sbx, again):
        assert (got["external_workspace_id"], got["external_project_id"],
                got["external_user_id"]) == (ext_ws, ext_project, user)
    ws = org.get(f"/api/v1/workspaces/{sbx['workspace_id']}").json()
    assert ws["external_workspace_id"] == ext_ws


def test_idempotency_key_replays_the_first_sandbox(org):
    key = uuid.uuid4().hex
    body = {"template_id": "miosa-sandbox", "name": "once"}
    first = org.post(BASE, body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    before = listed(org)["meta"]["total"]
    again = org.post(BASE, body, headers={"Idempotency-Key": key})
    assert again.status_code == 201, again.text
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert listed(org)["meta"]["total"] == before == 1


def test_explicit_slug_taken_by_another_organization_is_409(org, other_org):
    slug = f"taken{uuid.uuid4().hex[:10]}"
    assert create(other_org, slug=slug)["slug"] == slug
    err = error_of(org.post(BASE, {"slug": slug}), 409, "SLUG_TAKEN")
    assert err["details"]["field"] == "slug"
    assert listed(org)["meta"]["total"] == 0


def test_invalid_slug_is_422(org):
    # "x" * 60 is a DNS label, but 65535-{slug} would not be one: no preview host could carry it.
    for slug in ("Not A Slug", "-edge", "x" * 64, "under_score", "", "x" * 60):
        err = error_of(org.post(BASE, {"slug": slug}), 422)
        assert err["details"]["field"] == "slug", slug
    assert listed(org)["meta"]["total"] == 0


# Lists


def test_list_filters(org):
    a, b = org.workspace(), org.workspace()
    pa = org.project(a["id"])
    user, ext_ws, ext_project = unique("user"), unique("ws"), unique("proj")
    s1 = create(org, workspace_id=a["id"], external_user_id=user)
    s2 = create(org, workspace_id=a["id"], project_id=pa["id"])
    s3 = create(org, external_workspace_id=ext_ws, external_project_id=ext_project)
    s4 = create(org, workspace_id=b["id"])
    org.delete(f"{BASE}/{s4['id']}")

    def ids(**params):
        return {s["id"] for s in listed(org, **params)["data"]}

    assert ids() == {s1["id"], s2["id"], s3["id"]}
    assert ids(workspace_id=a["id"]) == {s1["id"], s2["id"]}
    assert ids(project_id=pa["id"]) == {s2["id"]}
    assert ids(state="running") == {s1["id"], s2["id"], s3["id"]}
    assert ids(state="destroyed") == {s4["id"]}
    assert ids(external_workspace_id=ext_ws) == {s3["id"]}
    assert ids(external_project_id=ext_project) == {s3["id"]}
    assert ids(external_user_id=user) == {s1["id"]}
    assert ids(workspace_id=b["id"]) == set()


def test_list_pages_with_limit_and_cursor_without_duplicates(org):
    made = [create(org)["id"] for _ in range(5)]
    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    for _ in range(10):
        page = listed(org, **params)
        assert len(page["data"]) <= 2
        seen += [s["id"] for s in page["data"]]
        if not page["next_cursor"]:
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == set(made)


def test_tags_filter_before_paging(org):
    tagged = create(org, tags=["blue", "big"])
    create(org, tags=["red"])
    create(org)
    page = listed(org, tags="blue")
    assert [s["id"] for s in page["data"]] == [tagged["id"]]
    assert page["meta"]["total"] == 1
    assert [s["id"] for s in listed(org, tags="big,blue")["data"]] == [tagged["id"]]
    assert listed(org, tags="blue,red")["data"] == []
    # A page holds matching sandboxes only: the one match comes on the first page of one.
    first = listed(org, tags="red", limit=1)
    assert len(first["data"]) == 1 and first["next_cursor"] is None


# By name


def test_by_name_returns_the_newest_live_sandbox(org):
    name = unique("app")
    older = create(org, name=name)
    newer = create(org, name=name)
    found = org.get(f"{BASE}/by-name/{name}")
    assert found.status_code == 200, found.text
    assert found.json()["data"]["id"] == newer["id"]
    org.delete(f"{BASE}/{newer['id']}")
    assert org.get(f"{BASE}/by-name/{name}").json()["data"]["id"] == older["id"]
    org.delete(f"{BASE}/{older['id']}")
    error_of(org.get(f"{BASE}/by-name/{name}"), 404, "SANDBOX_NOT_FOUND")
    error_of(org.get(f"{BASE}/by-name/never-made"), 404, "SANDBOX_NOT_FOUND")


def test_by_name_does_not_see_another_organizations_sandbox(org, other_org):
    name = unique("theirs")
    create(other_org, name=name)
    error_of(org.get(f"{BASE}/by-name/{name}"), 404, "SANDBOX_NOT_FOUND")


# Destroy


def test_delete_destroys_and_stays_readable(org, container):
    sbx = create(org)
    home = container.settings.data_dir / "sandboxes" / sbx["id"]
    assert home.is_dir()
    gone = org.delete(f"{BASE}/{sbx['id']}")
    assert gone.status_code == 200, gone.text
    assert gone.json()["data"]["state"] == "destroyed"
    assert not home.exists()
    got = org.get(f"{BASE}/{sbx['id']}")
    assert got.status_code == 200 and got.json()["data"]["state"] == "destroyed"
    assert got.json()["data"]["ready"] is False
    assert sbx["id"] not in {s["id"] for s in listed(org)["data"]}
    assert sbx["id"] in {s["id"] for s in listed(org, state="destroyed")["data"]}
    again = org.delete(f"{BASE}/{sbx['id']}")
    assert again.status_code == 200 and again.json()["data"]["state"] == "destroyed"


def test_unknown_sandbox_is_404(org):
    error_of(org.get(f"{BASE}/{uuid.uuid4()}"), 404)
    error_of(org.delete(f"{BASE}/{uuid.uuid4()}"), 404)


# Exec


@pytest.fixture
def sandbox(org):
    return create(org)


def run(org, sandbox, **body):
    resp = org.post(f"{BASE}/{sandbox['id']}/exec", body)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_exec_returns_output_exit_code_and_duration(org, sandbox):
    out = run(org, sandbox, command="echo out; echo err >&2")
    assert out["stdout"] == "out\n" and out["stderr"] == "err\n"
    assert out["exit_code"] == 0 and isinstance(out["duration_ms"], int)
    assert out["duration_ms"] >= 0


def test_exec_reports_nonzero_exit_codes(org, sandbox):
    assert run(org, sandbox, command="exit 3")["exit_code"] == 3
    assert run(org, sandbox, command="false")["exit_code"] == 1


def test_exec_runs_in_cwd(org, sandbox):
    write = org.post(f"{BASE}/{sandbox['id']}/fs/write",
                     {"path": "/workspace/sub/marker.txt", "content": "here"})
    assert write.status_code == 200, write.text
    out = run(org, sandbox, command="cat marker.txt", cwd="/workspace/sub")
    assert out["exit_code"] == 0 and out["stdout"] == "here"
    alias = run(org, sandbox, command="cat marker.txt", working_dir="sub")
    assert alias["stdout"] == "here"
    missing = org.post(f"{BASE}/{sandbox['id']}/exec", {"command": "true", "cwd": "/workspace/no"})
    error_of(missing, 404, "FILE_NOT_FOUND")


def test_exec_passes_env(org, sandbox):
    out = run(org, sandbox, command='printf %s "$GREETING"', env={"GREETING": "hello there"})
    assert out["stdout"] == "hello there"


def test_exec_sees_the_create_env_and_exec_env_wins(org):
    sbx = create(org, env={"FROM_CREATE": "one", "BOTH": "create"})
    out = run(org, sbx, command='printf "%s %s" "$FROM_CREATE" "$BOTH"', env={"BOTH": "exec"})
    assert out["stdout"] == "one exec"


def test_exec_stops_a_command_at_its_timeout(org, sandbox):
    out = run(org, sandbox, command="echo started; sleep 10", timeout=1)
    assert out["timed_out"] is True and out["exit_code"] != 0
    assert out["stdout"] == "started\n"
    assert 900 <= out["duration_ms"] < 8000


def test_exec_timeout_over_the_server_limit_is_422(org, sandbox, container):
    over = container.settings.exec_timeout_max_seconds + 1
    resp = org.post(f"{BASE}/{sandbox['id']}/exec", {"command": "true", "timeout": over})
    err = error_of(resp, 422)
    assert err["details"]["field"] == "timeout"


def test_exec_on_a_destroyed_sandbox_is_409(org, sandbox):
    org.delete(f"{BASE}/{sandbox['id']}")
    resp = org.post(f"{BASE}/{sandbox['id']}/exec", {"command": "true"})
    error_of(resp, 409, "SANDBOX_NOT_RUNNING")


# Files


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def download(org, sandbox, path):
    return org.get(f"{BASE}/{sandbox['id']}/fs/download", params={"path": path})


def test_write_with_content_base64_and_download_raw_bytes(org, sandbox):
    data = bytes(range(256))
    resp = org.post(f"{BASE}/{sandbox['id']}/fs/write",
                    {"path": "/workspace/bin.dat", "content_base64": b64(data)})
    assert resp.status_code == 200, resp.text
    entry = resp.json()["data"]
    assert entry["path"] == "/workspace/bin.dat" and entry["size"] == 256
    got = download(org, sandbox, "/workspace/bin.dat")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/octet-stream")
    assert got.content == data


def test_write_plain_content_is_verbatim(org, sandbox):
    resp = org.post(f"{BASE}/{sandbox['id']}/fs/write",
                    {"path": "notes/plain.txt", "content": "aGVsbG8="})
    assert resp.status_code == 200, resp.text
    assert download(org, sandbox, "/workspace/notes/plain.txt").content == b"aGVsbG8="


def test_legacy_post_files_decodes_base64(org, sandbox):
    resp = org.post(f"{BASE}/{sandbox['id']}/files",
                    {"path": "/workspace/legacy.txt", "content": b64(b"legacy bytes")})
    assert resp.status_code == 200, resp.text
    assert download(org, sandbox, "/workspace/legacy.txt").content == b"legacy bytes"


def test_legacy_get_files_path_reads_the_file(org, sandbox):
    org.post(f"{BASE}/{sandbox['id']}/fs/write",
             {"path": "/workspace/dir/read me.txt", "content": "legacy read"})
    encoded = org.get(f"{BASE}/{sandbox['id']}/files/%2Fworkspace%2Fdir%2Fread%20me.txt")
    assert encoded.status_code == 200, encoded.text
    assert encoded.content == b"legacy read"
    relative = org.get(f"{BASE}/{sandbox['id']}/files/dir/read%20me.txt")
    assert relative.status_code == 200 and relative.content == b"legacy read"


def test_list_files_with_path_and_depth(org, sandbox):
    for path in ("/workspace/top.txt", "/workspace/d/inner.txt", "/workspace/d/e/deep.txt"):
        org.post(f"{BASE}/{sandbox['id']}/fs/write", {"path": path, "content": "x"})
    one = org.get(f"{BASE}/{sandbox['id']}/files", params={"path": "/workspace", "depth": 1})
    assert one.status_code == 200, one.text
    paths = {e["path"] for e in one.json()["data"]["entries"]}
    assert paths == {"/workspace/top.txt", "/workspace/d"}
    deep = org.get(f"{BASE}/{sandbox['id']}/files", params={"path": "/workspace/d", "depth": 3})
    entries = {e["path"]: e for e in deep.json()["data"]["entries"]}
    assert set(entries) == {"/workspace/d/inner.txt", "/workspace/d/e", "/workspace/d/e/deep.txt"}
    assert entries["/workspace/d/e"]["is_dir"] is True
    assert entries["/workspace/d/inner.txt"]["is_dir"] is False


def test_stat_on_both_routes(org, sandbox):
    org.post(f"{BASE}/{sandbox['id']}/fs/write", {"path": "/workspace/s.txt", "content": "12345"})
    for route in ("fs/stat", "files/stat"):
        resp = org.post(f"{BASE}/{sandbox['id']}/{route}", {"path": "/workspace/s.txt"})
        assert resp.status_code == 200, resp.text
        entry = resp.json()["data"]
        assert (entry["name"], entry["path"], entry["size"], entry["is_dir"]) == (
            "s.txt", "/workspace/s.txt", 5, False)
        root = org.post(f"{BASE}/{sandbox['id']}/{route}", {"path": "/workspace"}).json()["data"]
        assert root["is_dir"] is True


def test_paths_outside_the_workspace_are_422(org, sandbox):
    sid = sandbox["id"]
    for path in ("../x", "/etc/passwd", "/workspace/../etc/passwd"):
        for resp in (
            org.post(f"{BASE}/{sid}/fs/write", {"path": path, "content": "x"}),
            org.post(f"{BASE}/{sid}/files", {"path": path, "content": b64(b"x")}),
            download(org, sandbox, path),
            org.post(f"{BASE}/{sid}/fs/stat", {"path": path}),
            org.get(f"{BASE}/{sid}/files", params={"path": path}),
        ):
            err = error_of(resp, 422, "PATH_OUTSIDE_WORKSPACE")
            assert err["details"]["field"] == "path", (path, resp.request.url)


def test_exec_cwd_outside_the_workspace_is_422(org, sandbox):
    resp = org.post(f"{BASE}/{sandbox['id']}/exec", {"command": "pwd", "cwd": "/etc"})
    err = error_of(resp, 422, "PATH_OUTSIDE_WORKSPACE")
    assert err["details"]["field"] == "cwd"


def test_missing_file_is_404(org, sandbox):
    error_of(download(org, sandbox, "/workspace/nope.txt"), 404, "FILE_NOT_FOUND")
    resp = org.post(f"{BASE}/{sandbox['id']}/fs/stat", {"path": "/workspace/nope.txt"})
    error_of(resp, 404, "FILE_NOT_FOUND")


def test_invalid_base64_is_422(org, sandbox):
    resp = org.post(f"{BASE}/{sandbox['id']}/fs/write",
                    {"path": "/workspace/a.txt", "content_base64": "not base64!!"})
    assert error_of(resp, 422)["details"]["field"] == "content_base64"
    resp = org.post(f"{BASE}/{sandbox['id']}/files",
                    {"path": "/workspace/a.txt", "content": "%%%"})
    assert error_of(resp, 422)["details"]["field"] == "content"
    error_of(download(org, sandbox, "/workspace/a.txt"), 404, "FILE_NOT_FOUND")


def test_files_on_a_destroyed_sandbox_are_409(org, sandbox):
    org.delete(f"{BASE}/{sandbox['id']}")
    resp = org.post(f"{BASE}/{sandbox['id']}/fs/write", {"path": "a.txt", "content": "x"})
    error_of(resp, 409, "SANDBOX_NOT_RUNNING")
    error_of(download(org, sandbox, "a.txt"), 409, "SANDBOX_NOT_RUNNING")
    error_of(org.post(f"{BASE}/{sandbox['id']}/expose", {"port": 3000}), 409,
             "SANDBOX_NOT_RUNNING")


# Previews


def test_expose_answers_the_preview_url(org, sandbox):
    resp = org.post(f"{BASE}/{sandbox['id']}/expose", {"port": 3000})
    assert resp.status_code == 201, resp.text  # created; 200 when it existed
    preview = resp.json()["data"]
    assert preview["url"] == f"https://3000-{sandbox['slug']}.sandbox.miosa.ai"
    assert preview["port"] == 3000 and preview["sandbox_id"] == sandbox["id"]


def test_expose_twice_is_the_same_preview(org, sandbox):
    first = org.post(f"{BASE}/{sandbox['id']}/expose", {"port": 8080}).json()["data"]
    repeated = org.post(f"{BASE}/{sandbox['id']}/expose", {"port": 8080})
    assert repeated.status_code == 200
    again = repeated.json()["data"]
    assert again["id"] == first["id"] and again["url"] == first["url"]


def test_expose_with_an_empty_body_uses_the_default_port(org, sandbox):
    for resp in (org.post(f"{BASE}/{sandbox['id']}/expose", {}),
                 org.client.post(f"{BASE}/{sandbox['id']}/expose")):
        assert resp.status_code in (200, 201), resp.text
        preview = resp.json()["data"]
        assert preview["port"] == 5173
        assert preview["url"] == sandbox["preview_url"]


def test_expose_refuses_a_port_that_is_not_one(org, sandbox):
    for port in (0, 65536, "abc", -1, None):
        resp = org.post(f"{BASE}/{sandbox['id']}/expose", {"port": port})
        assert error_of(resp, 422)["details"]["field"] == "port", port
        resp = org.post(f"{BASE}/{sandbox['id']}/previews", {"port": port})
        assert error_of(resp, 422)["details"]["field"] == "port", port
    assert org.get(f"{BASE}/{sandbox['id']}/previews").json()["data"] == []


def test_preview_records_create_reuse_list_get_delete(org, sandbox):
    sid = sandbox["id"]
    created = org.post(f"{BASE}/{sid}/previews", {"port": 4000, "name": "api"})
    assert created.status_code == 201, created.text
    preview = created.json()["data"]
    assert preview["reused"] is False
    assert preview["url"] == f"https://4000-{sandbox['slug']}.sandbox.miosa.ai"
    again = org.post(f"{BASE}/{sid}/previews", {"port": 4000})
    assert again.status_code == 200 and again.json()["data"]["reused"] is True
    assert again.json()["data"]["id"] == preview["id"]
    other = org.post(f"{BASE}/{sid}/previews", {"port": 4001}).json()["data"]

    listing = org.get(f"{BASE}/{sid}/previews")
    assert listing.status_code == 200
    assert [p["id"] for p in listing.json()["data"]] == [preview["id"], other["id"]]
    got = org.get(f"{BASE}/{sid}/previews/{preview['id']}")
    assert got.status_code == 200 and got.json()["data"]["url"] == preview["url"]

    gone = org.delete(f"{BASE}/{sid}/previews/{preview['id']}")
    assert gone.status_code == 200, gone.text
    error_of(org.get(f"{BASE}/{sid}/previews/{preview['id']}"), 404, "PREVIEW_NOT_FOUND")
    error_of(org.delete(f"{BASE}/{sid}/previews/{preview['id']}"), 404, "PREVIEW_NOT_FOUND")
    assert [p["id"] for p in org.get(f"{BASE}/{sid}/previews").json()["data"]] == [other["id"]]


def test_previews_of_another_organizations_sandbox_are_404(org, other_org):
    theirs = create(other_org)
    preview = other_org.post(f"{BASE}/{theirs['id']}/expose", {"port": 3000}).json()["data"]
    error_of(org.post(f"{BASE}/{theirs['id']}/expose", {"port": 3000}), 404)
    error_of(org.get(f"{BASE}/{theirs['id']}/previews/{preview['id']}"), 404)


def test_readiness_is_what_wait_until_ready_polls(org):
    """Contract §8.2: the SDK polls GET /sandboxes/{id}/readiness (the SSE stream is optional:
    a 404 there makes it poll) until `ready` or every component reports "ready"."""
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    body = org.get(f"/api/v1/sandboxes/{sandbox['id']}/readiness").json()["data"]
    assert body["ready"] is True and body["state"] == "running"
    assert set(body["readiness"]["components"].values()) == {"ready"}
    assert len(body["readiness"]["components"]) == 8
    assert org.get(f"/api/v1/sandboxes/{sandbox['id']}/readiness/stream").status_code == 404
    org.delete(f"/api/v1/sandboxes/{sandbox['id']}")
    gone = org.get(f"/api/v1/sandboxes/{sandbox['id']}/readiness").json()["data"]
    assert gone["ready"] is False and gone["state"] == "destroyed"
    assert set(gone["readiness"]["components"].values()) == {"not_ready"}


def test_env_values_paths_and_commands_arrive_exactly_as_sent(org):
    """Whitespace matters in these: nothing is stripped."""
    sbx = create(org, env={"PEM": "-----END-----\n", "PAD": "  spaced  "})
    shown = org.post(f"/api/v1/sandboxes/{sbx['id']}/exec", {
        "command": "python3 -c \"import os; print(repr(os.environ['PEM']), "
                   "repr(os.environ['PAD']))\"  "})
    assert shown.json()["data"]["stdout"].strip() == "'-----END-----\\n' '  spaced  '"
    org.post(f"/api/v1/sandboxes/{sbx['id']}/fs/write", {"path": "notes.txt ", "content": "x"})
    listed_names = [e["name"] for e in org.get(f"/api/v1/sandboxes/{sbx['id']}/files")
                    .json()["data"]["entries"]]
    assert "notes.txt " in listed_names


def test_reading_a_socket_is_422_not_a_500(org):
    sbx = create(org)
    made = org.post(f"/api/v1/sandboxes/{sbx['id']}/exec", {
        "command": "python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('sock')\""})
    assert made.json()["data"]["exit_code"] == 0, made.text
    for resp in (org.get(f"/api/v1/sandboxes/{sbx['id']}/fs/download", params={"path": "sock"}),
                 org.get(f"/api/v1/sandboxes/{sbx['id']}/files/sock")):
        error_of(resp, 422, "NOT_A_REGULAR_FILE")


def test_concurrent_exposes_of_one_port_answer_one_preview(org):
    from concurrent.futures import ThreadPoolExecutor

    sbx = create(org)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda _: org.post(f"/api/v1/sandboxes/{sbx['id']}/expose", {"port": 4000}),
            range(16)))
    assert sorted(r.status_code for r in answers) == [200] * 15 + [201]  # one made it
    assert len({r.json()["data"]["id"] for r in answers}) == 1
