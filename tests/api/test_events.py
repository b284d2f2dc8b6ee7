"""The event log (issue "Events, webhooks …" item 1): every state change is an event written with
the change, read with filters and an id cursor, and streamed as server-sent events that resume
with Last-Event-ID — as the official client's `events.stream(types=[...])` reads them."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import pytest

from tests.api.test_publish import build
from tests.api.test_spec_example import create_dns

EVENTS = "/api/v1/events"


def events(org, **params):
    resp = org.get(EVENTS, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_a_sandbox_lifecycle_is_told_in_order_with_where_it_lives(org):
    start = max([e["id"] for e in events(org)] or [0])
    made = org.post("/api/v1/sandboxes", {"external_workspace_id": "clinic_1",
                                          "external_project_id": "lead_2"}).json()["data"]
    sid = made["id"]
    assert org.post(f"/api/v1/sandboxes/{sid}/stop").status_code == 200
    assert org.post(f"/api/v1/sandboxes/{sid}/start").status_code == 200
    assert org.post(f"/api/v1/sandboxes/{sid}/pause").status_code == 200
    assert org.post(f"/api/v1/sandboxes/{sid}/resume").status_code == 200
    assert org.delete(f"/api/v1/sandboxes/{sid}").status_code in (200, 204)
    mine = [e for e in events(org, types="sandbox.*", after=start, limit=200)
            if e["object_id"] == sid]
    assert [e["type"] for e in mine] == [
        "sandbox.created", "sandbox.stopped", "sandbox.started", "sandbox.paused",
        "sandbox.resumed", "sandbox.destroyed"]
    ids = [e["id"] for e in mine]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    first = mine[0]
    assert first["object_type"] == "sandbox"
    assert (first["workspace_id"], first["project_id"]) == (made["workspace_id"],
                                                            made["project_id"])
    assert (first["external_workspace_id"], first["external_project_id"]) == ("clinic_1",
                                                                              "lead_2")
    assert mine[0]["data"]["state"] == "running"  # created and started in one transaction
    assert mine[1]["data"]["previous_state"] == "running"
    # Workspace and project were made on the way (auto-resolve): their events are there too.
    made_too = {e["type"] for e in events(org, after=start, limit=200)}
    assert {"workspace.created", "project.created"} <= made_too


def test_filters_cursor_and_paging(org):
    start = max([e["id"] for e in events(org)] or [0])
    ws = [org.workspace() for _ in range(3)]
    page = events(org, types="workspace.created", after=start, limit=2)
    assert [e["object_id"] for e in page] == [w["id"] for w in ws[:2]]
    resp = org.get(EVENTS, params={"types": "workspace.created", "after": start, "limit": 2})
    rest = events(org, types="workspace.created", cursor=resp.json()["next_cursor"])
    assert [e["object_id"] for e in rest] == [ws[2]["id"]]
    by_object = events(org, object_id=ws[1]["id"])
    assert [e["type"] for e in by_object] == ["workspace.created"]
    assert events(org, types="deployment.*,domain.*", after=start) == []
    renamed = org.patch(f"/api/v1/workspaces/{ws[0]['id']}",
                        {"name": "Renamed " + uuid.uuid4().hex[:6]})
    assert renamed.status_code == 200, renamed.text
    assert [e["type"] for e in events(org, object_id=ws[0]["id"])] == ["workspace.created",
                                                                       "workspace.updated"]


@pytest.mark.parametrize("bad", ["Sandbox.*", "sandbox.**", "sand box", "*.created", "a" * 70,
                                 ",".join(f"t{i}" for i in range(21)), "sandbox.%"])
def test_bad_type_patterns_are_422_naming_the_field(org, bad):
    for path in (EVENTS, f"{EVENTS}/stream"):
        resp = org.get(path, params={"types": bad})
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["code"] == "EVENT_TYPES_INVALID" and error["details"]["field"] == "types"
        assert error["details"]["fix"]


def test_another_organization_sees_none_of_it_and_reading_needs_the_permission(
        org, other_org, new_org):
    org.workspace()
    assert events(org) and events(other_org) == []
    assert all(e["object_id"] != org.tenant_id for e in events(other_org))
    key = org.post("/api/v1/api-keys", {"name": "ro", "scopes": ["workspace:read"]})
    assert key.status_code == 201, key.text
    secret = key.json().get("key") or key.json()["data"]["key"]
    denied = httpx.get(str(org.client.base_url) + EVENTS,
                       headers={"Authorization": f"Bearer {secret}"})
    assert denied.status_code == 403 and "event:read" in denied.text


def test_publish_promote_rollback_and_domain_and_token_events(org, zone):
    start = max([e["id"] for e in events(org)] or [0])
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    dep = org.post("/api/v1/deployments", {"name": "Site " + uuid.uuid4().hex[:6]}).json()["data"]
    for html in ("<h1>1</h1>", "<h1>2</h1>"):
        build(org, sandbox["id"], html)
        published = org.post(f"/api/v1/deployments/{dep['id']}/publish",
                             {"source_sandbox_id": sandbox["id"], "output_path": "dist"})
        assert published.status_code == 201, published.text
    assert org.post(f"/api/v1/deployments/{dep['id']}/rollback", {}).status_code == 200
    kinds = [e["type"] for e in events(org, types="deployment.*", after=start)
             if e["object_id"] == dep["id"]]
    assert kinds == ["deployment.created", "deployment.version.published",
                     "deployment.version.promoted", "deployment.version.published",
                     "deployment.version.promoted", "deployment.version.rolled_back"]

    name = f"app{uuid.uuid4().hex[:8]}.example.org"
    domain = org.post(f"/api/v1/deployments/{dep['id']}/domains", {"domain": name}).json()["data"]
    create_dns(zone, domain["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{domain['id']}/verify").json()["data"]["verified"]
    told = events(org, types="domain.*", object_id=domain["id"])
    assert [e["type"] for e in told] == ["domain.pending", "domain.verified"]
    assert told[1]["data"]["domain"] == name

    token = org.post("/api/v1/browser-tokens", {"permissions": ["sandbox:read"],
                                                "workspace_id": sandbox["workspace_id"],
                                                "external_user_id": "u-1", "ttl_seconds": 600})
    assert token.status_code == 201, token.text
    token_id = token.json()["data"]["id"]
    assert org.delete(f"/api/v1/browser-tokens/{token_id}").status_code in (200, 204)
    assert [e["type"] for e in events(org, object_id=token_id)] == ["browser_token.revoked"]


def test_a_change_that_rolls_back_leaves_no_event(org, container):
    from hostplane.db.scope import Scope
    from hostplane.tenancy.models import Workspace

    before = events(org)
    with pytest.raises(RuntimeError):
        with container.database.transaction() as session:
            scope = Scope(session, org.tenant_id)
            scope.add(Workspace(name="Never", name_key="never", slug="never"))
            session.flush()
            raise RuntimeError("the request failed after its change was flushed")
    assert events(org) == before


def read_frames(response, count):
    """The first `count` SSE frames of a streaming response, as (id, event, data)."""
    frames, current = [], {}
    for line in response.iter_lines():
        if not line:
            if "data" in current:
                frames.append((int(current["id"]), current["event"], json.loads(current["data"])))
                if len(frames) == count:
                    return frames
            current = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            current[key] = value.strip()
    return frames


def test_the_stream_delivers_new_events_and_resumes_with_last_event_id(org):
    url = str(org.client.base_url) + f"{EVENTS}/stream"
    headers = {"Authorization": f"Bearer {org.api_key}"}
    made: list[dict] = []

    def create_later():
        threading.Event().wait(0.5)
        made.extend(org.workspace() for _ in range(2))

    creator = threading.Thread(target=create_later)
    creator.start()
    with httpx.stream("GET", url, params={"types": "workspace.*"}, headers=headers,
                      timeout=15) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        first = read_frames(resp, 1)
    assert first[0][1] == "workspace.created" and first[0][2]["type"] == "workspace.created"
    # Resume after the first: exactly the second comes next, nothing twice.
    with httpx.stream("GET", url, params={"types": "workspace.*"},
                      headers={**headers, "Last-Event-ID": str(first[0][0])}, timeout=15) as resp:
        second = read_frames(resp, 1)
    creator.join(10)
    assert second[0][0] > first[0][0]
    assert [first[0][2]["object_id"], second[0][2]["object_id"]] == [w["id"] for w in made]


def test_the_official_client_streams_events(org, base_url):
    miosa = pytest.importorskip("miosa")
    client = miosa.Miosa(api_key=org.api_key, base_url=base_url)
    got: list[dict] = []

    def listen():
        for event in client.events.stream(types=["workspace.*"]):
            got.append(event)
            return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    threading.Event().wait(0.5)
    ws = org.workspace()
    listener.join(10)
    assert got and got[0]["type"] == "workspace.created" and got[0]["object_id"] == ws["id"]


def test_a_reader_following_the_cursor_misses_nothing_while_writers_race(org):
    """Ids are handed out in commit order, so a reader that only ever asks for events after the
    last id it saw gets every event, while several transactions commit at once."""
    start = max([e["id"] for e in events(org)] or [0])
    seen: list[int] = []
    done = threading.Event()

    def follow():
        cursor = start
        while True:
            finished = done.is_set()
            for e in events(org, after=cursor, limit=200):
                seen.append(e["id"])
                cursor = e["id"]
            if finished:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    writers = [threading.Thread(target=lambda: [org.workspace() for _ in range(5)])
               for _ in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join(30)
    everything = [e["id"] for e in events(org, after=start, limit=200)]
    assert len(everything) == 40  # 20 workspaces, each with its default project
    assert seen == everything


def test_a_stream_ends_when_its_key_is_revoked(org):
    """A revoked key's open stream is closed within seconds, and gets nothing after it."""
    made = org.post("/api/v1/api-keys", {"name": "streamer"}).json()["data"]
    url = str(org.client.base_url) + f"{EVENTS}/stream"
    got: list[str] = []
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {made['key']}"},
                      timeout=30) as resp:
        assert resp.status_code == 200
        assert org.delete(f"/api/v1/api-keys/{made['id']}").status_code == 200
        threading.Timer(0.3, org.workspace).start()
        started = time.monotonic()
        for line in resp.iter_lines():  # ends when the server closes the stream
            got.append(line)
    assert time.monotonic() - started < 15
    assert not any(line.startswith("event: workspace") for line in got)
