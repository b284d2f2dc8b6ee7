"""Ownership resolution, straight through the service on both databases, including the race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select

from hostplane import errors
from hostplane.db.scope import CrossTenantAccess, Scope
from hostplane.tenancy.models import Project, Workspace
from hostplane.tenancy.organizations import create_organization
from hostplane.tenancy.ownership import Selectors, resolve_ownership
from tests.factories import unique


@pytest.fixture
def tenant_id(container) -> str:
    with container.database.transaction() as session:
        return create_organization(session, name=unique("Owner"), email=None,
                                   now=container.clock.now()).id


def resolve(container, tenant_id: str, **selectors: str):
    with container.database.transaction() as session:
        owned = resolve_ownership(Scope(session, tenant_id), Selectors(**selectors))
        return owned.workspace.id, owned.project.id, owned.created_workspace, owned.created_project


def test_spec_example_creates_then_finds(container, tenant_id):
    spec = {"workspace_slug": "dr-smith-clinic", "workspace_name": "Dr. Smith Clinic",
            "project_slug": "summer-lead-magnet", "project_name": "Summer Lead Magnet",
            "external_workspace_id": "clinic_123", "external_user_id": "dr-smith-456",
            "external_project_id": "project_789"}
    ws, project, new_ws, new_project = resolve(container, tenant_id, **spec)
    assert new_ws and new_project
    with container.database.transaction(write=False) as session:
        workspace = session.get(Workspace, ws)
        assert (workspace.name, workspace.slug, workspace.external_workspace_id) == (
            "Dr. Smith Clinic", "dr-smith-clinic", "clinic_123")
        proj = session.get(Project, project)
        assert (proj.name, proj.slug, proj.external_project_id, proj.workspace_id) == (
            "Summer Lead Magnet", "summer-lead-magnet", "project_789", ws)
    # Any one selector now finds the same pair, without creating anything.
    for selectors in ({"workspace_slug": "dr-smith-clinic", "project_slug": "summer-lead-magnet"},
                      {"external_workspace_id": "clinic_123", "external_project_id": "project_789"},
                      {"workspace_id": ws, "project_id": project},
                      {"project_id": project},
                      {"external_project_id": "project_789"}):
        assert resolve(container, tenant_id, **selectors) == (ws, project, False, False)


def test_no_selectors_means_the_default_workspace_and_project(container, tenant_id):
    first = resolve(container, tenant_id)
    second = resolve(container, tenant_id)
    assert first[:2] == second[:2]
    ws_only = resolve(container, tenant_id, external_workspace_id="solo")
    assert ws_only[2] is True and ws_only[3] is False  # its default project


def test_contradicting_selectors_are_422(container, tenant_id):
    a = resolve(container, tenant_id, workspace_slug="alpha", external_workspace_id="ext-a")
    resolve(container, tenant_id, workspace_slug="beta", external_workspace_id="ext-b")
    bad = [
        {"workspace_slug": "alpha", "external_workspace_id": "ext-b"},
        {"workspace_id": a[0], "workspace_slug": "beta"},
        {"workspace_slug": "beta", "project_id": a[1]},
    ]
    for selectors in bad:
        with pytest.raises(errors.Invalid) as caught:
            resolve(container, tenant_id, **selectors)
        assert caught.value.code == "SELECTOR_CONFLICT", selectors
        assert caught.value.details["fix"]


def test_unknown_ids_are_404_and_bad_slugs_422(container, tenant_id):
    with pytest.raises(errors.NotFound):
        resolve(container, tenant_id, workspace_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(errors.NotFound):
        resolve(container, tenant_id, project_id="nope")
    with pytest.raises(errors.Invalid):
        resolve(container, tenant_id, workspace_slug="Not A Slug")


def test_external_id_is_adopted_by_a_workspace_found_by_slug(container, tenant_id):
    ws = resolve(container, tenant_id, workspace_slug="adopter")[0]
    assert resolve(container, tenant_id, workspace_slug="adopter",
                   external_workspace_id="ext-adopt")[0] == ws
    assert resolve(container, tenant_id, external_workspace_id="ext-adopt")[0] == ws


def test_other_organizations_objects_are_invisible(container, tenant_id):
    other = resolve(container, tenant_id, workspace_slug="mine")
    with container.database.transaction() as session:
        stranger = create_organization(session, name=unique("Stranger"), email=None,
                                       now=container.clock.now()).id
    with pytest.raises(errors.NotFound):
        resolve(container, stranger, workspace_id=other[0])
    # The same slug in another organization is another workspace.
    assert resolve(container, stranger, workspace_slug="mine")[0] != other[0]


def test_the_session_guard_refuses_rows_of_other_organizations(container, tenant_id):
    ws = resolve(container, tenant_id, workspace_slug="guarded")[0]
    with container.database.transaction() as session:
        stranger = create_organization(session, name=unique("Guard"), email=None,
                                       now=container.clock.now()).id
    with container.database.transaction(write=False) as session:
        Scope(session, stranger)
        with pytest.raises(CrossTenantAccess):
            session.get(Workspace, ws)


def test_fifty_concurrent_calls_create_one_workspace_and_one_project(container, tenant_id):
    selectors = {"external_workspace_id": unique("race-ws"), "workspace_name": "Race Clinic",
                 "external_project_id": unique("race-project"), "project_name": "Race Project",
                 "external_user_id": "u1"}
    barrier = Barrier(50)

    def call(_: int):
        barrier.wait()
        return resolve(container, tenant_id, **selectors)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(50)))
    assert len({r[:2] for r in results}) == 1
    assert sum(r[2] for r in results) == 1 and sum(r[3] for r in results) == 1
    with container.database.transaction(write=False) as session:
        count_ws = session.scalar(select(func.count()).select_from(Workspace).where(
            Workspace.external_workspace_id == selectors["external_workspace_id"]))
        count_projects = session.scalar(select(func.count()).select_from(Project).where(
            Project.external_project_id == selectors["external_project_id"]))
    assert count_ws == 1 and count_projects == 1
