"""The URL engine: the one place hostnames and URLs are built (spec §3 and §7).

Pure: given the platform's settings, the organization's domains and a resource, it returns every URL
layer of that resource and the one that wins. Precedence for deployments: an exact verified resource
domain, then `{slug}.{verified organization deployment domain}`, then the managed fallback
`{slug}.{organization slug}.{managed domain}`. Sandbox previews and computer desktops are separate
layers; an exact domain attached to a computer wins over its desktop host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hostplane import errors
from hostplane.settings import Settings

MAX_LABEL = 63
MAX_HOSTNAME = 253
PREVIEW_LABEL = "sandbox"  # previews live under sandbox.{preview domain}
DESKTOP_PATH = "/desktop/index.html"


@dataclass(frozen=True)
class Platform:
    """The operator's naming (HOSTPLANE_* settings)."""

    managed_domain: str
    preview_domain: str
    computer_domain: str
    scheme: str = "https"
    port: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        return cls(
            managed_domain=settings.managed_domain,
            preview_domain=settings.preview_domain,
            computer_domain=settings.computer_domain,
            scheme=settings.public_scheme,
            port=settings.public_port,
        )

    def url(self, host: str, path: str = "") -> str:
        check_hostname(host)
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{host}{port}{path}"


@dataclass(frozen=True)
class OrganizationDomains:
    """What the organization has set up. A domain that is not verified is never used."""

    slug: str
    preview_domain: str | None = None
    preview_verified: bool = False
    deployment_domain: str | None = None
    deployment_verified: bool = False

    @property
    def active_preview_domain(self) -> str | None:
        return self.preview_domain if self.preview_domain and self.preview_verified else None

    @property
    def active_deployment_domain(self) -> str | None:
        return (
            self.deployment_domain if self.deployment_domain and self.deployment_verified else None
        )


@dataclass(frozen=True)
class DeploymentUrls:
    fallback: str
    branded: str | None
    custom: tuple[str, ...]
    public_url: str
    source: str  # "custom" | "branded" | "fallback": which layer won

    def layers(self) -> dict[str, object]:
        return {"fallback": self.fallback, "branded": self.branded, "custom": list(self.custom)}


@dataclass(frozen=True)
class ComputerUrls:
    desktop_url: str
    sandbox_url: str
    desktop_host_url: str
    custom: tuple[str, ...] = field(default_factory=tuple)


def check_hostname(host: str, *, field: str = "slug") -> str:
    """Refuse a hostname no DNS can carry: a label over 63 characters or a name over 253."""
    labels = host.split(".")
    too_long = next((label for label in labels if len(label) > MAX_LABEL), None)
    if too_long is not None or len(host) > MAX_HOSTNAME or not all(labels):
        raise errors.Invalid(
            f"The URL host {host!r} would not be a valid DNS name.",
            code="HOSTNAME_TOO_LONG",
            field=field,
            rule=f"every DNS label at most {MAX_LABEL} characters, the name at most "
            f"{MAX_HOSTNAME}",
            fix="Use a shorter name or slug.",
        )
    return host


def sandbox_preview_url(
    platform: Platform, org: OrganizationDomains, sandbox_slug: str, port: int
) -> str:
    """`{scheme}://{port}-{sandbox}.sandbox.{preview domain}`: the organization's verified preview
    domain, else the platform's."""
    if not 1 <= port <= 65535:
        raise errors.Invalid(
            f"Port {port} is not a TCP port.", field="port", rule="1-65535",
            fix="Expose the port your app listens on, e.g. 5173.",
        )
    domain = org.active_preview_domain or platform.preview_domain
    return platform.url(preview_host(domain, sandbox_slug, port))


def preview_host(preview_domain: str, sandbox_slug: str, port: int) -> str:
    """`{port}-{sandbox}.sandbox.{preview domain}`: the shape read back by `read_host`."""
    return f"{port}-{sandbox_slug}.{PREVIEW_LABEL}.{preview_domain}"


def deployment_urls(
    platform: Platform,
    org: OrganizationDomains,
    deployment_slug: str,
    custom_domains: Sequence[str] = (),
    *,
    project_domains: Sequence[str] = (),
    is_production: bool = False,
) -> DeploymentUrls:
    """Every layer of a deployment and the winner. `custom_domains` are its own verified exact
    domains; `project_domains`, its project's, route to it only when it is the project's
    production deployment. The first exact domain wins (its own before its project's)."""
    fallback = platform.url(fallback_host(platform, org.slug, deployment_slug))
    domain = org.active_deployment_domain
    branded = platform.url(f"{deployment_slug}.{domain}") if domain else None
    exact = [*custom_domains, *(project_domains if is_production else ())]
    custom = tuple(platform.url(host) for host in dict.fromkeys(exact))
    if custom:
        return DeploymentUrls(fallback, branded, custom, custom[0], "custom")
    if branded:
        return DeploymentUrls(fallback, branded, custom, branded, "branded")
    return DeploymentUrls(fallback, branded, custom, fallback, "fallback")


def computer_urls(
    platform: Platform,
    org: OrganizationDomains,
    computer_slug: str,
    custom_domains: Sequence[str] = (),
) -> ComputerUrls:
    """The desktop (`{computer}.{computer domain}/desktop/index.html`, or the first verified exact
    domain when one is attached) and the computer's HTTP preview base (`sandbox_url`)."""
    host_url = platform.url(f"{computer_slug}.{platform.computer_domain}", DESKTOP_PATH)
    custom = tuple(platform.url(host, DESKTOP_PATH) for host in custom_domains)
    preview_domain = org.active_preview_domain or platform.preview_domain
    sandbox_url = platform.url(f"{computer_slug}.{PREVIEW_LABEL}.{preview_domain}")
    return ComputerUrls(custom[0] if custom else host_url, sandbox_url, host_url, custom)


def fallback_host(platform: Platform, org_slug: str, deployment_slug: str) -> str:
    """`{deployment}.{organization}.{managed domain}`: always served, whatever else is set."""
    return f"{deployment_slug}.{org_slug}.{platform.managed_domain}"


# Reading hosts back: what the edge router does with a request's Host. The builders above and
# read_host below are the one definition of every shape.

@dataclass(frozen=True)
class HostReading:
    """One way a host can be read. `layer` says which URL layer it would be:
    - "preview": `{port}-{slug}.sandbox.{base}`, base the platform's or an organization's
      preview domain;
    - "deployment": `{slug}.{base}`, base an organization's deployment domain (checked by the
      caller), or `{slug}.{org_slug}.{managed domain}` when `org_slug` is set;
    - "desktop": `{slug}.{computer domain}`."""

    layer: str
    slug: str
    base: str
    port: int | None = None
    org_slug: str | None = None


def read_host(platform: Platform, host: str) -> list[HostReading]:
    """Every reading of a canonical host (lower-case A-labels, no port, no trailing dot), in the
    order the spec's precedence tries them after exact domains: an organization's deployment
    domain, a preview, the managed fallback, a desktop. The caller keeps the first whose
    records exist."""
    first, _, base = host.partition(".")
    if not first or not base:
        return []
    readings = [HostReading("deployment", first, base)]
    port_text, dash, slug = first.partition("-")
    second, _, preview_base = base.partition(".")
    if dash and slug and port_text.isdigit() and len(port_text) <= 5 and \
            second == PREVIEW_LABEL and preview_base and 1 <= int(port_text) <= 65535 \
            and port_text[0] != "0":
        readings.append(HostReading("preview", slug, preview_base, port=int(port_text)))
    managed = "." + platform.managed_domain
    if base.endswith(managed):
        org_slug = base[: -len(managed)]
        if org_slug and "." not in org_slug:
            readings.append(HostReading("deployment", first, base, org_slug=org_slug))
    if base == platform.computer_domain:
        readings.append(HostReading("desktop", first, base))
    return readings
