"""Schema fuzzing: Schemathesis sends generated requests to every documented operation of the real server.

The schema is hostplane's own GET /openapi.json, read from the server the `base_url` fixture runs (on
SQLite, and on PostgreSQL when one is reachable), and every request carries an organization's API key.
For every operation under /api/v1 and /healthz, every response must have:

- no 5xx status (Schemathesis' `not_a_server_error`);
- Content-Type application/json and an x-request-id header;
- for a 4xx, the error envelope {"error": {"code", "message", "details"}, "request_id"} as its body;
- for a 2xx, a body that matches the schema the document gives for that status
  (Schemathesis' `response_schema_conformance`; statuses the document does not list are not checked).

Generated ids rarely name anything, so each operation gets objects of its own (two workspaces, a
project, a spare API key) and path parameters and id fields in bodies take their ids about half the
time; that is what makes the 2xx paths run. The key the requests are sent with is never one of them,
so the fuzzer cannot revoke or rotate its own credential.

Phases: Schemathesis' coverage phase sends its deterministic boundary cases for valid input only,
then the fuzzing phase draws `max_examples` valid and invalid requests per operation. (The coverage
phase's invalid cases, mostly one wrong type per field, are many and only ever reach the same 422
handler; fuzzing still sends invalid input.)
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import Org, unique

FUZZED_PATHS = r"^/(api/v1/|healthz$)"
UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


# --- what every response must satisfy -----------------------------------------------------------


def _header(response: Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


def json_with_request_id(ctx: Any, response: Response, case: Case) -> None:
    """Content-Type application/json and an x-request-id header, whatever the status."""
    content_type = _header(response, "content-type") or ""
    if response.status_code == 200 and case.path.endswith("/stream"):
        return  # server-sent events, as documented (their refusals are JSON like any other)
    assert content_type.split(";")[0].strip().lower() == "application/json", (
        f"{response.status_code} response has Content-Type {content_type!r}, not application/json"
    )
    assert _header(response, "x-request-id"), f"{response.status_code} response has no x-request-id header"


def error_envelope(ctx: Any, response: Response, case: Case) -> None:
    """4xx: {"error": {"code": UPPER_SNAKE, "message": non-empty, "details": {...}}, "request_id": str}."""
    if not 400 <= response.status_code < 500:
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.content[:200]!r}") from None
    assert isinstance(body, dict) and set(body) == {"error", "request_id"}, (
        f"{response.status_code} body is not the error envelope: {body!r}"
    )
    error, request_id = body["error"], body["request_id"]
    assert isinstance(error, dict), f"error is not an object: {error!r}"
    code, message, details = error.get("code"), error.get("message"), error.get("details")
    assert isinstance(code, str) and UPPER_SNAKE.fullmatch(code), f"error.code {code!r} is not UPPER_SNAKE"
    assert isinstance(message, str) and message.strip(), f"error.message {message!r} is empty"
    assert isinstance(details, dict), f"error.details {details!r} is not an object"
    assert isinstance(request_id, str), f"request_id {request_id!r} is not a string"


def documented_success(ctx: Any, response: Response, case: Case) -> None:
    """2xx: the body conforms to the response schema documented for that status."""
    if 200 <= response.status_code < 300:
        response_schema_conformance(ctx, response, case)


CHECKS = [not_a_server_error, json_with_request_id, error_envelope, documented_success]


# --- real ids for path parameters and body fields -----------------------------------------------

ID_FIELDS = frozenset(
    {"tenant_id", "id_or_slug", "workspace_id", "target_workspace_id", "project_id", "key_id",
     "sandbox_id", "preview_id", "database_id", "deployment_id", "computer_id",
     "production_deployment_id"}
)
# Generated shell commands are not run: exec, streamed exec and background processes get real
# sandbox ids only from their own tests.
NO_REAL_SANDBOX = re.compile(r"/(exec|exec/stream|processes)$")


def _made(resp: Any) -> dict[str, Any]:
    assert resp.status_code in (200, 201), resp.text
    body = resp.json()
    return body["data"] if "data" in body else body


def _objects_for_one_operation(org: Org) -> dict[str, list[str]]:
    workspace, other = org.workspace(), org.workspace()
    project = org.project(workspace["id"])
    listed = org.get("/api/v1/projects", params={"workspace_id": workspace["id"]}).json()["data"]
    default_project = next(p for p in listed if p["is_default"])
    spare_key = org.post("/api/v1/api-keys", {"name": unique("Spare key")})
    assert spare_key.status_code == 201, spare_key.text
    sandbox = _made(org.post("/api/v1/sandboxes", {"project_id": project["id"]}))
    preview = _made(org.post(f"/api/v1/sandboxes/{sandbox['id']}/previews", {"port": 5173}))
    deployment = _made(org.post("/api/v1/deployments", {"name": "Site",
                                                        "project_id": project["id"]}))
    database = _made(org.post("/api/v1/databases", {"project_id": project["id"],
                                                     "engine": "sqlite"}))
    computer = _made(org.post("/api/v1/computers", {"name": "desk",
                                                    "workspace_id": workspace["id"]}))
    return {
        "sandbox_id": [sandbox["id"]],
        "preview_id": [preview["id"]],
        "deployment_id": [deployment["id"]],
        "production_deployment_id": [deployment["id"]],
        "database_id": [database["id"]],
        "computer_id": [computer["id"]],
        "tenant_id": [org.tenant_id, org.slug],
        "id_or_slug": [org.tenant_id, org.slug],
        "workspace_id": [workspace["id"]],
        "target_workspace_id": [other["id"], workspace["id"]],
        "project_id": [project["id"], default_project["id"]],
        "key_id": [spare_key.json()["data"]["id"]],
    }


class RealIds:
    """Per operation, objects of its own: one operation deleting them cannot starve the next."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.by_operation: dict[str, dict[str, list[str]]] = {}

    def swap(self, operation: schemathesis.APIOperation, values: Any) -> st.SearchStrategy[Any]:
        """Each id field keeps its generated value or takes one of the operation's real ids."""
        if not isinstance(values, dict) or not ID_FIELDS & set(values):
            return st.just(values)
        if operation.label not in self.by_operation:
            self.by_operation[operation.label] = _objects_for_one_operation(self.org)
        real = dict(self.by_operation[operation.label])
        if NO_REAL_SANDBOX.search(operation.path):
            real.pop("sandbox_id")
        return st.fixed_dictionaries(
            {name: st.sampled_from([value, *real.get(name, [])]) for name, value in values.items()}
        )


# --- the schema and the test --------------------------------------------------------------------


@pytest.fixture
def api_schema(base_url: str, org: Org) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    loaded.config.update(base_url=base_url, headers={"Authorization": f"Bearer {org.api_key}"})
    loaded.config.phases.coverage.generation.update(modes=[GenerationMode.POSITIVE])
    real_ids = RealIds(org)

    @loaded.hook
    def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: Any) -> Any:
        return real_ids.swap(context.operation, path_parameters)

    @loaded.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> Any:
        return real_ids.swap(context.operation, body)

    return loaded


# Four groups of operations, each its own test, so that the suite's workers share the fuzzing
# (one test would keep one worker busy long after the others are done).
_BIG = "sandboxes|computers|databases|deployments|projects|workspaces"
GROUPS = {
    "sandboxes": r"^/api/v1/sandboxes",
    "computers_databases": r"^/api/v1/(computers|databases)",
    "projects_deployments": r"^/api/v1/(deployments|projects|workspaces)",
    "the_rest": rf"^/(healthz$|api/v1/(?!({_BIG})(/|$)))",
}


def _schema(group: str) -> Any:
    return schemathesis.pytest.from_fixture("api_schema").include(path_regex=GROUPS[group])


# In CI the draws are fixed (derandomize), so a run passes or fails on the code alone; elsewhere
# every run explores new inputs, and Hypothesis replays any failure it found before first.
_SETTINGS = settings(max_examples=20, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                     derandomize=os.environ.get("CI") == "true")


@_schema("sandboxes").parametrize()
@_SETTINGS
def test_sandbox_operations_get_well_formed_answers(case: Case) -> None:
    case.call_and_validate(checks=CHECKS)


@_schema("computers_databases").parametrize()
@_SETTINGS
def test_computer_and_database_operations_get_well_formed_answers(case: Case) -> None:
    case.call_and_validate(checks=CHECKS)


@_schema("projects_deployments").parametrize()
@_SETTINGS
def test_workspace_project_and_deployment_operations_get_well_formed_answers(case: Case) -> None:
    case.call_and_validate(checks=CHECKS)


@_schema("the_rest").parametrize()
@_SETTINGS
def test_every_other_operation_gets_well_formed_answers(case: Case) -> None:
    case.call_and_validate(checks=CHECKS)


def test_the_groups_cover_every_fuzzed_path(base_url: str) -> None:
    """Each documented path is in exactly one group, so nothing goes unfuzzed."""
    import httpx

    paths = [p for p in httpx.get(f"{base_url}/openapi.json").json()["paths"]
             if re.match(FUZZED_PATHS, p)]
    assert paths
    for path in paths:
        assert sum(bool(re.match(g, path)) for g in GROUPS.values()) == 1, path
