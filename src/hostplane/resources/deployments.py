"""Deployments (spec §3, §7; contract §10): a slug from the name, unique in the organization,
and every URL layer from the engine. A project's first deployment is its production deployment,
the one an exact domain attached to the project routes to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from hostplane import errors
from hostplane.db.helpers import Page, apply_or_raise, next_free_slug, try_insert
from hostplane.db.scope import Scope
from hostplane.domains.custom_domains import detach_all, verified_hosts
from hostplane.domains.tenant_domains import organization_domains
from hostplane.resources.common import ResourceFilters, get_resource, list_resources, owned
from hostplane.resources.deployment_schemas import DeploymentCreate, DeploymentUpdate
from hostplane.resources.env import Env
from hostplane.resources.models import Deployment
from hostplane.resources.storage import drop_files_on_commit
from hostplane.tenancy import slugs
from hostplane.tenancy.models import Project
from hostplane.urls import DeploymentUrls, OrganizationDomains, deployment_urls

_ATTEMPTS = 8
WHAT = "deployment"
NOT_PUBLISHED = "Nothing has been published to this deployment yet."


@dataclass(frozen=True)
class DeploymentView:
    deployment: Deployment
    urls: DeploymentUrls
    is_production: bool


def create_deployment(scope: Scope, body: DeploymentCreate, env: Env) -> DeploymentView:
    ownership, columns = owned(scope, body)
    org = organization_domains(scope)
    wanted = body.slug
    if wanted is not None:
        slugs.label_slug(wanted, field="slug")
    base = wanted or slugs.normalize(body.name) or "app"
    deployment = Deployment(
        **columns, name=body.name, source_type=body.source_type, repo_url=body.repo_url,
        branch=body.branch, build_command=body.build_command, run_command=body.run_command,
        auto_deploy=body.auto_deploy, meta=body.metadata or {}, state="pending",
        status_reason=NOT_PUBLISHED,
    )
    deployment.tenant_id = scope.tenant_id  # added by try_insert, after the slug is chosen
    live = (Deployment.tenant_id == scope.tenant_id, Deployment.destroyed_at.is_(None))
    for _ in range(_ATTEMPTS):
        deployment.slug = wanted or next_free_slug(scope.session, Deployment.slug, base, *live)
        _urls(env, org, deployment.slug)  # 422 before anything is stored, never a broken URL
        if try_insert(scope.session, deployment):
            break
        if wanted is not None:
            raise slugs.slug_taken("deployment", wanted)
    else:
        raise errors.Conflict("Deployment slugs are being taken concurrently; retry.", code="RETRY")
    project = ownership.project
    if project.production_deployment_id is None:
        # Conditional, so of two first deployments created at once only one becomes production.
        scope.session.execute(
            update(Project)
            .where(Project.id == project.id, Project.production_deployment_id.is_(None))
            .values(production_deployment_id=deployment.id)
            .execution_options(synchronize_session=False)
        )
        scope.session.refresh(project, ["production_deployment_id"])
    return _view(scope, deployment, org, env)


def get_deployment(scope: Scope, deployment_id: str, env: Env) -> DeploymentView:
    deployment = get_resource(scope, Deployment, deployment_id, WHAT)
    return _view(scope, deployment, organization_domains(scope), env)


def list_deployments(scope: Scope, filters: ResourceFilters, env: Env, *, limit: int,
                     cursor: str | None, offset: int) -> Page[DeploymentView]:
    page = list_resources(scope, Deployment, filters, limit=limit, cursor=cursor, offset=offset)
    org = organization_domains(scope)
    return Page(_views(scope, page.items, org, env), page.next_cursor, page.total)


def update_deployment(scope: Scope, deployment_id: str, body: DeploymentUpdate,
                      env: Env) -> DeploymentView:
    deployment = get_resource(scope, Deployment, deployment_id, WHAT)
    org = organization_domains(scope)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "slug" in changes:
        slugs.label_slug(changes["slug"], field="slug")
        _urls(env, org, changes["slug"])
    if "metadata" in changes:
        changes["meta"] = changes.pop("metadata")

    def apply() -> None:
        for key, value in changes.items():
            setattr(deployment, key, value)

    apply_or_raise(scope.session, apply, slugs.slug_taken("deployment", changes.get("slug", "")))
    return _view(scope, deployment, org, env)


def delete_deployment(scope: Scope, deployment_id: str, env: Env) -> Deployment:
    """Delete it (the row stays for usage, its slug is free again, its versions' files go); a
    project it was the production deployment of takes its next-oldest live deployment."""
    deployment = get_resource(scope, Deployment, deployment_id, WHAT)
    drop_files_on_commit(scope, env.releases, Deployment.id == deployment.id)
    deployment.destroyed_at, deployment.state = env.now, "stopped"
    scope.session.flush()
    detach_all(scope, "deployment", deployment.id, env.now)
    project = scope.get(Project, deployment.project_id, what="project")
    if project.production_deployment_id == deployment.id:
        successor = scope.session.scalars(
            scope.select(Deployment)
            .where(Deployment.project_id == project.id, Deployment.destroyed_at.is_(None))
            .order_by(Deployment.created_at, Deployment.id).limit(1)
        ).first()
        project.production_deployment_id = successor.id if successor else None
        scope.session.flush()
    return deployment


def _view(scope: Scope, deployment: Deployment, org: OrganizationDomains,
          env: Env) -> DeploymentView:
    return _views(scope, [deployment], org, env)[0]


def _views(scope: Scope, deployments: list[Deployment], org: OrganizationDomains,
           env: Env) -> list[DeploymentView]:
    """Every deployment's URL layers, with the projects and exact domains they need read in
    three queries for the whole page, not per deployment."""
    project_ids = {d.project_id for d in deployments}
    projects = {p.id: p for p in scope.session.scalars(
        scope.select(Project).where(Project.id.in_(project_ids)))} if project_ids else {}
    production = {d.id for d in deployments if _is_production(d, projects.get(d.project_id))}
    own = verified_hosts(scope, "deployment", [d.id for d in deployments])
    by_project = verified_hosts(scope, "project", [d.project_id for d in deployments
                                                   if d.id in production])
    return [DeploymentView(d, deployment_urls(
        env.platform, org, d.slug, own.get(d.id, []),
        project_domains=by_project.get(d.project_id, []), is_production=d.id in production,
    ), d.id in production) for d in deployments]


def _is_production(deployment: Deployment, project: Project | None) -> bool:
    return project is not None and project.production_deployment_id == deployment.id


def _urls(env: Env, org: OrganizationDomains, slug: str) -> DeploymentUrls:
    """The generated layers only: what a slug must fit before it is stored."""
    return deployment_urls(env.platform, org, slug)
