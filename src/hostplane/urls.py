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
    return platform.url(f"{port}-{sandbox_slug}.sandbox.{domain}")


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
    fallback = platform.url(f"{deployment_slug}.{org.slug}.{platform.managed_domain}")
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
    desktop_path = "/desktop/index.html"
    host_url = platform.url(f"{computer_slug}.{platform.computer_domain}", desktop_path)
    custom = tuple(platform.url(host, desktop_path) for host in custom_domains)
    preview_domain = org.active_preview_domain or platform.preview_domain
    sandbox_url = platform.url(f"{computer_slug}.sandbox.{preview_domain}")
    return ComputerUrls(custom[0] if custom else host_url, sandbox_url, host_url, custom)
