"""Schema fuzzing: Schemathesis feeds every documented operation generated requests on the real server.

The schema is hostplane's own GET /openapi.json, read from the server the `base_url` fixture runs (once
on SQLite, once on PostgreSQL), and every request carries an organization's API key. For every operation
under /api/v1 and /healthz, and every response:

- never a 5xx (Schemathesis' `not_a_server_error`);
- Content-Type application/json and an x-request-id header;
- a 4xx body is the error envelope {"error": {"code", "message", "details"}, "request_id"};
- a 2xx body matches the response schema the document gives for that status
  (Schemathesis' `response_schema_conformance`).

Generated ids rarely name anything, so each operation also gets objects of its own (a workspace, a
project, a spare API key, ...) and path parameters and id fields in bodies take their ids half the time;
that is what makes the 2xx paths run. The key the requests are sent with is never among them, so the
fuzzer cannot revoke or rotate its own credential.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import Org, unique

FUZZED_PATHS = r"^/(api/v1/|healthz$)"
UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")


# --- the checks every response must pass --------------------------------------------------------


def _header(response: schemathesis.Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


def json_with_request_id(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Content-Type application/json and an x-request-id header, whatever the status."""
    content_type = _header(response, "content-type") or ""
    assert content_type.split(";")[0].strip().lower() == "application/json", (
        f"{response.status_code} response has Content-Type {content_type!r}, not application/json"
    )
    assert _header(response, "x-request-id"), f"{response.status_code} response has no x-request-id header"


def error_envelope(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """4xx: {"error": {"code": UPPER_SNAKE, "message": non-empty, "details": {}}, "request_id": str}."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error", "request_id"}, (
        f"{response.status_code} body is not the error envelope: {body!r}"
    )
    error = body["error"]
    assert isinstance(error, dict), f"error is not an object: {error!r}"
    code = error.get("code")
    assert isinstance(code, str) and UPPER_SNAKE.fullmatch(code), f"error.code {code!r} is not UPPER_SNAKE"
    message = error.get("message")
    assert isinstance(message, str) and message.strip(), f"error.message {message!r} is empty"
    assert isinstance(error.get("details"), dict), f"error.details {error.get('details')!r} is not an object"
    assert isinstance(body["request_id"], str), f"request_id {body['request_id']!r} is not a string"


def success_matches_schema(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """2xx: the body conforms to the schema documented for that status (undocumented ones are skipped)."""
    if 200 <= response.status_code < 300:
        response_schema_conformance(ctx, response, case)


CHECKS = [not_a_server_error, json_with_request_id, error_envelope, success_matches_schema]


# --- real ids for path parameters and body fields -----------------------------------------------


ID_FIELDS = ("tenant_id", "id_or_slug", "workspace_id", "target_workspace_id", "project_id", "key_id")


def _seed(org: Org) -> dict[str, list[str]]:
    """Fresh objects for one operation, so one operation deleting its objects cannot starve the next."""
    workspace, other = org.workspace(), org.workspace()
    project = org.project(workspace["id"])
    projects = org.get(f"/api/v1/workspaces/{workspace['id']}/projects").json()["data"]
    default_project = next(p for p in projects if p["is_default"])
    spare_key = org.post("/api/v1/api-keys", {"name": unique("Spare")})
    assert spare_key.status_code == 201, spare_key.text
    return {
        "tenant_id": [org.tenant_id, org.slug],
        "id_or_slug": [org.tenant_id, org.slug],
        "workspace_id": [workspace["id"]],
        "target_workspace_id": [other["id"], workspace["id"]],
        "project_id": [project["id"], default_project["id"]],
        "key_id": [spare_key.json()["data"]["id"]],
    }


class RealIds:
    """Per operation: objects of its own, and a strategy that swaps generated ids for theirs."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.seeds: dict[str, dict[str, list[str]]] = {}

    def swap(self, operation: schemathesis.APIOperation, values: Any) -> st.SearchStrategy[Any]:
        """Each id field keeps its generated value or takes one of the operation's real ids."""
        if not isinstance(values, dict) or not set(values) & set(ID_FIELDS):
            return st.just(values)
        if operation.label not in self.seeds:
            self.seeds[operation.label] = _seed(self.org)
        real = self.seeds[operation.label]
        return st.fixed_dictionaries(
            {name: st.sampled_from([value, *real.get(name, [])]) for name, value in values.items()}
        )


# --- the schema and the test --------------------------------------------------------------------


@pytest.fixture
def api_schema(base_url: str, org: Org) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    loaded.config.update(base_url=base_url, headers={"Authorization": f"Bearer {org.api_key}"})
    import os
    exec(os.environ.get("CFG", ""))
    real_ids = RealIds(org)

    @loaded.hook
    def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: Any) -> Any:
        return real_ids.swap(context.operation, path_parameters)

    @loaded.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> Any:
        return real_ids.swap(context.operation, body)

    return loaded


schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex=FUZZED_PATHS)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_survives_generated_requests(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
