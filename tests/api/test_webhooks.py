"""Webhooks (issue "Events, webhooks …" item 2) against a real receiver on loopback: managed as
the official client does, deliveries signed so its verify_signature accepts them, in order per
endpoint, retried with backoff, disabled after sustained failure (and saying so), secrets rotated
with an overlap, and the address rules of the wallpaper fetcher."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from miosa.resources.webhooks import verify_signature
from sqlalchemy import update

from hostplane.webhooks.deliver import deliver_due
from hostplane.webhooks.models import Webhook

WEBHOOKS = "/api/v1/webhooks"


class Receiver:
    """An HTTP endpoint that records what it is sent and answers the next status in `answers`
    (200 once they run out)."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        # A path of its own: a port the system hands out again must not bring this receiver
        # the deliveries of an earlier test's webhook.
        self.path = f"/hooks/{uuid.uuid4().hex}"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != receiver.path:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.server.shutdown()


def hook(org, receiver, events=("workspace.*",)):
    resp = org.post(WEBHOOKS, {"url": receiver.url, "events": list(events)})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["secret"].startswith("whsec_") and body["data"]["enabled"] is True
    return body["data"], body["secret"]


def test_a_delivery_is_signed_as_the_official_client_verifies_it(org, receiver, container):
    webhook, secret = hook(org, receiver)
    assert secret not in org.get(f"{WEBHOOKS}/{webhook['id']}").text
    ws = org.workspace()
    org.project(ws["id"])  # a project event: not wanted by this webhook
    deliver_due(container)
    assert [e["type"] for e in receiver.events()] == ["workspace.created"]
    headers, body = receiver.got[0]
    assert verify_signature(body, headers["x-miosa-signature"], secret)
    assert verify_signature(body, headers["webhook-signature"], secret)  # t=…,v1=…
    assert not verify_signature(body, headers["x-miosa-signature"], "whsec_wrong")
    event = receiver.events()[0]
    assert event["data"]["object_id"] == ws["id"] and headers["webhook-id"] == event["id"]
    assert "hostplane" not in json.dumps(headers).lower()
    deliveries = org.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["data"]
    assert [(d["event_type"], d["status"], d["status_code"]) for d in deliveries] == [
        ("workspace.created", "delivered", 200)]
    deliver_due(container)
    assert len(receiver.got) == 1  # delivered once


def test_failures_retry_with_backoff_and_keep_the_order(org, receiver, container, clock):
    webhook, _ = hook(org, receiver)
    first, second = org.workspace(), org.workspace()
    receiver.answers = [500, 503]
    deliver_due(container)
    assert len(receiver.got) == 1  # the first failed; the second waits behind it
    got = org.get(f"{WEBHOOKS}/{webhook['id']}").json()["data"]
    assert got["failures"] == 1 and got["next_attempt_at"]
    deliver_due(container)
    assert len(receiver.got) == 1  # not due yet
    clock.advance(11)
    deliver_due(container)
    clock.advance(21)
    deliver_due(container)
    ids = [e["data"]["object_id"] for e in receiver.events()]
    assert ids == [first["id"], first["id"], first["id"], second["id"]]
    attempts = org.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["data"][::-1]
    assert [(d["attempt"], d["status"]) for d in attempts] == [
        (1, "failed"), (2, "failed"), (3, "delivered"), (1, "delivered")]


def test_an_endpoint_failing_for_days_is_disabled_and_says_so(org, receiver, container):
    webhook, _ = hook(org, receiver)
    org.workspace()
    receiver.answers = [500] * 5
    deliver_due(container)
    with container.database.transaction() as session:  # it has been failing for three days
        session.execute(update(Webhook).where(Webhook.id == webhook["id"]).values(
            failing_since=container.clock.now().replace(year=2000), next_attempt_at=None))
    deliver_due(container)
    got = org.get(f"{WEBHOOKS}/{webhook['id']}").json()["data"]
    assert got["state"] == "disabled" and got["enabled"] is False
    assert "failed" in got["disabled_reason"]
    told = org.get("/api/v1/events", params={"types": "webhook.*"}).json()["data"]
    assert [e["type"] for e in told] == ["webhook.disabled"]
    audit = org.get("/api/v1/audit-log", params={"resource_id": webhook["id"]}).json()["data"]
    assert "webhook.disable" in [a["action"] for a in audit]
    count = len(receiver.got)
    deliver_due(container)
    assert len(receiver.got) == count  # disabled: nothing is sent
    again = org.patch(f"{WEBHOOKS}/{webhook['id']}", {"enabled": True}).json()["data"]
    assert again["enabled"] is True and again["failures"] == 0
    deliver_due(container)
    assert len(receiver.got) == count + 1  # it resumes where it stopped


def test_a_rotated_secret_overlaps_and_test_sends_now(org, receiver, container):
    webhook, old = hook(org, receiver)
    rotated = org.post(f"{WEBHOOKS}/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["data"]["secret_rotated_until"]
    tested = org.post(f"{WEBHOOKS}/{webhook['id']}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["data"]["success"] is True
    headers, body = receiver.got[-1]
    assert json.loads(body)["type"] == "webhook.test"
    assert verify_signature(body, headers["x-miosa-signature"], new)
    stamped = headers["webhook-signature"]
    assert stamped.count("v1=") == 2  # the old secret still signs, for a day
    assert verify_signature(body, stamped, new)  # the client reads the last v1: the new one
    t, v_old, _ = stamped.split(",")
    assert verify_signature(body, f"{t},{v_old}", old)


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://example.org/x", "WEBHOOK_URL_INVALID"),
    ("http://example.org/hooks", "WEBHOOK_URL_INVALID"),  # plain http only to loopback
    ("https://user:pw@example.org/hooks", "WEBHOOK_URL_INVALID"),
    ("not a url", "WEBHOOK_URL_INVALID"),
])
def test_bad_urls_are_refused(org, url, code):
    resp = org.post(WEBHOOKS, {"url": url, "events": ["*"]})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == code, resp.text
    assert resp.json()["error"]["details"]["field"] == "url"


def test_bad_event_patterns_are_refused(org, receiver):
    for events in ([], ["Sandbox"], ["sandbox.**"]):
        resp = org.post(WEBHOOKS, {"url": receiver.url, "events": events})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["details"]["field"] == "events"


def test_a_private_address_is_refused_at_delivery(org, container):
    """The address rules hold at every delivery: a name that resolves to a private address
    fails, whatever it resolved to at creation."""
    from hostplane.webhooks.send import post

    sent = post("https://10.0.0.1/hooks", b"{}", {}, allow_loopback=True)
    assert not sent.delivered and "not allowed" in sent.error
    sent = post("https://[64:ff9b::7f00:1]/hooks", b"{}", {}, allow_loopback=False)
    assert not sent.delivered and "not allowed" in sent.error
    # What a name resolves to is never told (a tenant must not map the network with it).
    sent = post("https://no-such-name.invalid/hooks", b"{}", {}, allow_loopback=False)
    assert sent.error == "the endpoint's address is not allowed or does not resolve"
    sent = post("http://127.0.0.1:9/hooks", b"{}", {}, allow_loopback=False)
    assert not sent.delivered and "https" in sent.error


def test_the_official_client_manages_webhooks(org, base_url, receiver):
    miosa = pytest.importorskip("miosa")
    client = miosa.Miosa(api_key=org.api_key, base_url=base_url)
    made = client.webhooks.create(url=receiver.url, events=["sandbox.*"])
    assert made["secret"].startswith("whsec_") and made["url"] == receiver.url
    assert [w["id"] for w in client.webhooks.list()] == [made["id"]]
    client.webhooks.update(made["id"], events=["domain.*"])
    assert client.webhooks.get(made["id"])["events"] == ["domain.*"]
    assert client.webhooks.test(made["id"])["success"] is True
    assert client.webhooks.deliveries(made["id"])[0]["event_type"] == "webhook.test"
    client.webhooks.delete(made["id"])
    assert client.webhooks.list() == []


@pytest.mark.parametrize("fault", ["hang", "reset", "500", "trickle"])
def test_an_endpoint_that_hangs_resets_or_fails_is_a_failed_attempt(org, container, fault,
                                                                    monkeypatch):
    """Whatever the receiver does, the attempt ends (within the send timeout), is recorded with
    why, and the event waits for its retry."""
    import socket
    import struct

    from hostplane.webhooks import send

    monkeypatch.setattr(send, "TIMEOUT", 0.5)
    monkeypatch.setattr(send, "DEADLINE", 1.5)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        if fault == "reset":
            # Linger on, zero seconds: close sends a TCP reset instead of a goodbye.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif fault == "500":
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
        elif fault == "trickle":  # a byte now and then: every read is quick, the whole is not
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100:
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
                threading.Event().wait(0.2)
        else:
            threading.Event().wait(2)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    made = org.post(WEBHOOKS, {"url": f"http://127.0.0.1:{port}/hooks", "events": ["*"]})
    webhook = made.json()["data"]
    org.workspace()
    deliver_due(container)
    listener.close()
    attempt = org.get(f"{WEBHOOKS}/{webhook['id']}/deliveries").json()["data"][0]
    assert attempt["status"] == "failed" and attempt["error"]
    assert attempt["status_code"] == (500 if fault == "500" else None)
    assert attempt["duration_ms"] < 5000
    got = org.get(f"{WEBHOOKS}/{webhook['id']}").json()["data"]
    assert got["failures"] == 1 and got["next_attempt_at"] and got["enabled"]


def test_old_events_are_pruned_but_never_ones_a_webhook_still_owes(org, other_org, receiver,
                                                                   container):
    """Events past HOSTPLANE_EVENT_RETENTION_DAYS go (the worker's prune_events), except those
    after an active webhook's cursor: they wait for their delivery however old they are."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from hostplane.events.jobs import prune_events
    from hostplane.events.models import Event

    webhook, _ = hook(org, receiver, events=("*",))
    for owner in (org, org, org, other_org):
        owner.workspace()
    receiver.answers = [200, 500]
    deliver_due(container)  # the first event is delivered, the second fails and holds the rest
    cursor = org.get(f"{WEBHOOKS}/{webhook['id']}").json()["data"]
    assert cursor["failures"] == 1
    old = container.clock.now() - timedelta(days=container.settings.event_retention_days + 1)
    with container.database.transaction() as session:
        # The log as it would be a month later: everything up to these events is old (ids
        # follow time, which the job relies on; earlier tests' events age with them).
        last = session.scalar(select(func.max(Event.id)))
        session.execute(update(Event).where(Event.id <= last).values(created_at=old))
    fresh = other_org.workspace()  # newer than the cutoff: kept

    def ids(owner):
        return [e["id"] for e in owner.get("/api/v1/events", params={"limit": 200})
                .json()["data"]]

    before = ids(org)
    assert prune_events(container) > 0
    delivered = receiver.events()[0]["id"]
    assert ids(org) == [i for i in before if i > int(delivered)]  # the owed ones stay
    assert [e["object_id"] for e in other_org.get("/api/v1/events").json()["data"]
            if e["type"] == "workspace.created"] == [fresh["id"]]
    assert org.delete(f"{WEBHOOKS}/{webhook['id']}").status_code == 200
    prune_events(container)
    assert ids(org) == []  # no webhook waits for them any more
