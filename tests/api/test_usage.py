"""Usage (contract §16), and the rules every resource shares: the setup gate, what deleting a
workspace and moving a project mean for the resources inside."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from tests.factories import unique

WIDE = {"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
KINDS = ("sandboxes", "databases", "deployments", "computers")


def error_of(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    if code is not None:
        assert err["code"] == code, err
    return err


def make(org, kind, **body):
    """One resource of `kind`; answers its JSON object."""
    payload = {"name": unique(kind[:-1]), **body}
    resp = org.post(f"/api/v1/{kind}", payload)
    assert resp.status_code == 201, resp.text
    data = resp.json()
    return data if kind == "computers" else data["data"]


def read(org, kind, resource_id):
    resp = org.get(f"/api/v1/{kind}/{resource_id}")
    assert resp.status_code == 200, resp.text
    data = resp.json()
    return data if kind == "computers" else data["data"]


def usage(org, **params):
    resp = org.get("/api/v1/usage", params={**WIDE, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def rows(org, group_by, **params):
    return {r["group"]: r for r in usage(org, group_by=group_by, **params)["results"]}


def counts(row):
    return tuple(row[k] for k in KINDS)


# Usage


def test_usage_is_wrapped_with_the_period_and_results(org):
    resp = org.get("/api/v1/usage")
    assert resp.status_code == 200, resp.text
    assert set(resp.json()) == {"data"}
    data = resp.json()["data"]
    assert {"period_start", "period_end", "results"} <= set(data)
    assert data["period_start"] < data["period_end"]
    assert data["results"] == []
    for period in ("7d", "30d", "month-to-date"):
        again = org.get("/api/v1/usage", params={"period": period})
        assert again.status_code == 200, again.text


def test_group_by_workspace_counts_every_kind(org):
    a, b = org.workspace(), org.workspace()
    for kind in KINDS:
        make(org, kind, workspace_id=a["id"])
    make(org, "sandboxes", workspace_id=b["id"])
    make(org, "sandboxes", workspace_id=b["id"])
    make(org, "databases", workspace_id=b["id"])
    got = rows(org, "workspace_id")
    assert set(got) == {a["id"], b["id"]}
    assert counts(got[a["id"]]) == (1, 1, 1, 1)
    assert counts(got[b["id"]]) == (2, 1, 0, 0)
    assert got[a["id"]]["workspace_id"] == a["id"]


def test_group_by_external_user_counts_every_kind(org):
    u1, u2 = unique("user"), unique("user")
    for kind in KINDS:
        make(org, kind, external_user_id=u1)
    make(org, "deployments", external_user_id=u2)
    make(org, "sandboxes")
    got = rows(org, "external_user_id")
    assert counts(got[u1]) == (1, 1, 1, 1)
    assert counts(got[u2]) == (0, 0, 1, 0)
    assert got[u1]["external_user_id"] == u1
    only = usage(org, group_by="external_user_id", external_user_id=u2)["results"]
    assert [r["group"] for r in only] == [u2]


def test_group_by_external_project_counts_every_kind(org):
    p1, p2 = unique("proj"), unique("proj")
    ws = unique("ws")
    for kind in KINDS:
        make(org, kind, external_workspace_id=ws, external_project_id=p1)
    make(org, "sandboxes", external_workspace_id=ws, external_project_id=p2)
    got = rows(org, "external_project_id")
    assert counts(got[p1]) == (1, 1, 1, 1)
    assert counts(got[p2]) == (1, 0, 0, 0)


def test_runtime_grows_while_running_and_stops_once_destroyed(org, clock):
    ws = org.workspace()
    sbx = make(org, "sandboxes", workspace_id=ws["id"])

    def runtime():
        return rows(org, "workspace_id")[ws["id"]]["runtime_seconds"]

    first = runtime()
    clock.advance(seconds=120)
    second = runtime()
    assert second >= first + 120
    assert org.delete(f"/api/v1/sandboxes/{sbx['id']}").status_code == 200
    stopped = runtime()
    assert stopped >= second
    clock.advance(seconds=120)
    assert runtime() == stopped
    assert rows(org, "workspace_id")[ws["id"]]["sandboxes"] == 1  # it existed in the period


def test_runtime_counts_only_the_part_inside_the_period(org, clock):
    ws = org.workspace()
    sbx = make(org, "sandboxes", workspace_id=ws["id"])
    started = datetime.fromisoformat(sbx["started_at"])
    clock.advance(seconds=100)

    def window(start_s, end_s):
        params = {"group_by": "workspace_id",
                  "start": (started + timedelta(seconds=start_s)).isoformat(),
                  "end": (started + timedelta(seconds=end_s)).isoformat()}
        resp = org.get("/api/v1/usage", params=params)
        assert resp.status_code == 200, resp.text
        return {r["group"]: r for r in resp.json()["data"]["results"]}

    inside = window(30, 60)[ws["id"]]
    assert inside["sandboxes"] == 1 and inside["runtime_seconds"] == pytest.approx(30, abs=0.01)
    org.delete(f"/api/v1/sandboxes/{sbx['id']}")
    destroyed = datetime.fromisoformat(read(org, "sandboxes", sbx["id"])["destroyed_at"])
    after = (destroyed - started).total_seconds()
    assert ws["id"] not in window(after + 10, after + 20)


def test_bad_usage_queries_are_422(org):
    err = error_of(org.get("/api/v1/usage", params={"group_by": "bogus"}), 422)
    assert err["details"]["field"] == "group_by"
    err = error_of(org.get("/api/v1/usage", params={"start": "2025-02-01T00:00:00Z",
                                                    "end": "2025-01-01T00:00:00Z"}), 422)
    assert err["details"]["field"] == "start"
    error_of(org.get("/api/v1/usage", params={"period": "1y"}), 422)
    error_of(org.get("/api/v1/usage", params={"start": "yesterday"}), 422)


def test_workspace_usage_counts_its_live_resources(org):
    ws, other = org.workspace(), org.workspace()
    for kind in KINDS:
        make(org, kind, workspace_id=ws["id"])
    gone = make(org, "sandboxes", workspace_id=ws["id"])
    make(org, "sandboxes", workspace_id=ws["id"])
    org.delete(f"/api/v1/sandboxes/{gone['id']}")
    make(org, "sandboxes", workspace_id=other["id"])
    resp = org.get(f"/api/v1/workspaces/{ws['id']}/usage")
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["workspace_id"] == ws["id"]
    assert counts(data) == (2, 1, 1, 1)
    assert data["projects"] == 1
    error_of(org.get(f"/api/v1/workspaces/{uuid.uuid4()}/usage"), 404)


# What workspace and project changes do to the resources inside


def test_deleting_a_workspace_removes_its_sandboxes_directories(org, container):
    ws, keep = org.workspace(), org.workspace()
    doomed = [make(org, "sandboxes", workspace_id=ws["id"]) for _ in range(2)]
    kept = make(org, "sandboxes", workspace_id=keep["id"])
    root = container.settings.data_dir / "sandboxes"
    assert all((root / s["id"]).is_dir() for s in doomed + [kept])
    resp = org.delete(f"/api/v1/workspaces/{ws['id']}")
    assert resp.status_code == 200, resp.text
    assert not any((root / s["id"]).exists() for s in doomed)
    assert (root / kept["id"]).is_dir()
    for s in doomed:
        error_of(org.get(f"/api/v1/sandboxes/{s['id']}"), 404)
    assert [s["id"] for s in org.get("/api/v1/sandboxes").json()["data"]] == [kept["id"]]


def test_moving_a_project_moves_its_resources(org):
    a, b = org.workspace(), org.workspace()
    project = org.project(a["id"])
    made = {kind: make(org, kind, project_id=project["id"]) for kind in KINDS}
    bystander = make(org, "sandboxes", workspace_id=a["id"])
    assert all(r["workspace_id"] == a["id"] for r in made.values())
    resp = org.post(f"/api/v1/projects/{project['id']}/move", {"target_workspace_id": b["id"]})
    assert resp.status_code == 200, resp.text
    for kind, resource in made.items():
        got = read(org, kind, resource["id"])
        assert (got["workspace_id"], got["project_id"]) == (b["id"], project["id"]), kind
    assert read(org, "sandboxes", bystander["id"])["workspace_id"] == a["id"]
    listed = org.get("/api/v1/sandboxes", params={"workspace_id": b["id"]}).json()["data"]
    assert [s["id"] for s in listed] == [made["sandboxes"]["id"]]


def test_moved_resources_take_the_new_workspaces_external_id(org):
    """A resource's external_workspace_id is its workspace's (filters and chargeback use it)."""
    ext_a, ext_b = unique("clinic-a"), unique("clinic-b")
    a = org.workspace(external_workspace_id=ext_a)
    b = org.workspace(external_workspace_id=ext_b)
    project = org.project(a["id"])
    made = {kind: make(org, kind, project_id=project["id"]) for kind in KINDS}
    assert all(r["external_workspace_id"] == ext_a for r in made.values())
    resp = org.post(f"/api/v1/projects/{project['id']}/move", {"target_workspace_id": b["id"]})
    assert resp.status_code == 200, resp.text
    for kind, resource in made.items():
        assert read(org, kind, resource["id"])["external_workspace_id"] == ext_b, kind
    listed = org.get("/api/v1/sandboxes", params={"external_workspace_id": ext_b}).json()["data"]
    assert [s["id"] for s in listed] == [made["sandboxes"]["id"]]


def test_deleting_a_project_removes_its_sandboxes_directories(org, container):
    ws = org.workspace()
    project = org.project(ws["id"])
    doomed = make(org, "sandboxes", project_id=project["id"])
    home = container.settings.data_dir / "sandboxes" / doomed["id"]
    assert home.is_dir()
    assert org.delete(f"/api/v1/projects/{project['id']}").status_code == 200
    assert not home.exists()
    error_of(org.get(f"/api/v1/sandboxes/{doomed['id']}"), 404)


# The setup gate


@pytest.fixture
def unset(new_org):
    return new_org(name=None)


CREATES = [
    ("POST", "/api/v1/sandboxes", {}),
    ("POST", "/api/v1/databases", {"name": "db"}),
    ("POST", "/api/v1/deployments", {"name": "Lead Magnet"}),
    ("POST", f"/api/v1/projects/{uuid.uuid4()}/deployments", {"name": "Lead Magnet"}),
    ("POST", "/api/v1/computers", {"name": "desk"}),
    ("PUT", "/api/v1/tenant/preview-domain", {"preview_domain": "cliniciq.dev"}),
    ("PUT", "/api/v1/tenant/deployment-domain", {"deployment_domain": "apps.cliniciq.com"}),
]


def test_an_organization_that_needs_setup_can_create_nothing(unset):
    for method, path, body in CREATES:
        resp = unset.client.request(method, path, json=body)
        error_of(resp, 409, "SETUP_REQUIRED")
    for path in ("/api/v1/sandboxes", "/api/v1/databases", "/api/v1/deployments",
                 "/api/v1/workspaces", "/api/v1/projects"):
        resp = unset.get(path)
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"] == [], path
    computers = unset.get("/api/v1/computers").json()
    assert computers["computers"] == [] and computers["total"] == 0
    for path in ("/api/v1/tenant/preview-domain", "/api/v1/tenant/deployment-domain"):
        assert unset.get(path).json()["status"] == "unconfigured"
