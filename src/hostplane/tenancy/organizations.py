"""Organization identity: creation with a temporary slug, the one-time setup, and the setup gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hostplane import errors
from hostplane.db.helpers import apply_or_raise, try_insert
from hostplane.db.scope import Scope
from hostplane.keys.cache import key_changed
from hostplane.tenancy import slugs
from hostplane.tenancy.models import Tenant


@dataclass(frozen=True)
class SetupState:
    required: bool
    reason_code: str | None
    reason: str | None


def setup_state(tenant: Tenant) -> SetupState:
    """Whether the organization must still choose its name, and why."""
    if slugs.is_temporary(tenant.slug):
        return SetupState(
            True,
            "TEMPORARY_SLUG",
            f"The organization still has the temporary slug {tenant.slug!r}; set its name to fix "
            "the permanent slug.",
        )
    if not tenant.name.strip():
        return SetupState(True, "NAME_MISSING", "The organization has no name yet; set it.")
    expected = slugs.normalize(tenant.name)
    if tenant.slug != expected:
        return SetupState(
            True,
            "SLUG_MISMATCH",
            f"The slug {tenant.slug!r} does not match the name {tenant.name!r} "
            f"(which gives {expected!r}); set the name again to fix the slug.",
        )
    return SetupState(False, None, None)


def require_setup_of(scope: Scope) -> None:
    """The setup gate for a request: no query when its credential already showed the
    organization set up (which is permanent)."""
    if not scope.set_up:
        require_setup(scope.tenant())


def require_setup(tenant: Tenant) -> None:
    """The setup gate: creating anything waits until the organization has its permanent name."""
    if setup_state(tenant).required:
        raise errors.setup_required()


def find_organization(session: Session, id_or_slug: str) -> Tenant | None:
    return session.scalars(
        select(Tenant).where(or_(Tenant.id == id_or_slug, Tenant.slug == id_or_slug))
    ).first()


def create_organization(
    session: Session, *, name: str | None, email: str | None, now: datetime
) -> Tenant:
    """A new account: named and set up when a name is given, else on a temporary slug."""
    if name:
        name = name.strip()
        tenant = Tenant(name=name, slug=slugs.organization_slug(name), email=email)
        tenant.setup_completed_at = now
        if not try_insert(session, tenant):
            raise _slug_taken(tenant.slug)
        return tenant
    for _ in range(5):
        tenant = Tenant(name="", slug=slugs.temporary_slug(), email=email)
        if try_insert(session, tenant):
            return tenant
    raise errors.Conflict("Could not allocate a temporary slug; try again.", code="RETRY")


def own_organization(scope: Scope, id_or_slug: str) -> Tenant:
    """The caller's own organization named by id or slug; any other is not found."""
    tenant: Tenant = scope.tenant()
    if id_or_slug not in (tenant.id, tenant.slug):
        raise errors.NotFound(
            f"No organization {id_or_slug!r} for this credential.",
            code="ORG_NOT_FOUND",
            fix="Use the id from GET /api/v1/platform/tenants/current.",
        )
    return tenant


def setup_organization(
    scope: Scope, id_or_slug: str, *, name: str, slug: str | None, now: datetime
) -> Tenant:
    tenant = own_organization(scope, id_or_slug)
    # Lock the row: two concurrent setups must not both see "setup required" (PostgreSQL;
    # SQLite writers are serialized anyway).
    scope.session.refresh(tenant, with_for_update=True)
    return set_identity(scope.session, tenant, name=name, slug=slug, now=now)


def set_identity(
    session: Session, tenant: Tenant, *, name: str, slug: str | None, now: datetime
) -> Tenant:
    """Spec §1: set the name once, derive the slug; afterwards both are permanent."""
    name = name.strip()
    if not setup_state(tenant).required:
        if name == tenant.name and slug in (None, tenant.slug):
            return tenant
        raise errors.Conflict(
            f"The organization name {tenant.name!r} and slug {tenant.slug!r} are permanent once "
            "set up and cannot be changed.",
            code="ORGANIZATION_IDENTITY_PERMANENT",
            field="name",
            rule="name and slug are immutable after setup",
            fix="Keep the current name; use branding (custom_app_name) to change what users see.",
        )
    expected = slugs.organization_slug(name)
    if slug is not None and slug != expected:
        raise errors.Invalid(
            f"The name {name!r} normalizes to {expected!r}, but slug {slug!r} was given.",
            field="slug",
            rule="a supplied slug must equal the normalized organization name",
            fix=f"Send slug {expected!r}, or leave slug out.",
            details={"expected_slug": expected},
        )

    def apply() -> None:
        tenant.name, tenant.slug, tenant.setup_completed_at = name, expected, now

    # Two organizations racing for one slug: the unique constraint decides.
    apply_or_raise(session, apply, _slug_taken(expected))
    key_changed(session)  # cached keys carry the slug that X-MIOSA-Tenant is checked against
    return tenant


def _slug_taken(slug: str) -> errors.Conflict:
    return errors.Conflict(
        f"The slug {slug!r} is already held by another organization.",
        code="SLUG_TAKEN",
        field="name",
        rule="organization slugs are unique across the platform",
        fix="Use a more specific organization name.",
    )
