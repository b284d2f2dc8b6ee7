"""`hostplane caddyfile`: the Caddyfile that puts Caddy (TLS) in front of the edge and the API.

TLS ends in Caddy, never in Python. Every name the edge serves (previews, deployment fallbacks,
organization domains, customers' exact domains, desktops) gets its certificate on demand at its
first handshake, once the API's GET /internal/tls/ask says the name routes; the API's own public
name gets an ordinary managed certificate.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:
    from hostplane.settings import Settings


ASK_PATH = "/internal/tls/ask"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _api_site(api_url: str) -> str | None:
    """The site address of the API's public URL, or None when it is only reachable on this
    machine (then Caddy has nothing to serve for it)."""
    parts = urlsplit(api_url)
    if not parts.hostname or _is_loopback(parts.hostname):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or 'https'}://{host}{port}"


def render(settings: Settings, *, api_port: int, edge_port: int, email: str | None = None,
           internal_ca: bool = False, http_port: int = 80, https_port: int = 443,
           admin: str | None = None) -> str:
    """The Caddyfile for these settings (tab-indented, as `caddy fmt` writes it)."""
    options = []
    if admin is not None:
        options.append(f"admin {admin}")
    if http_port != 80:
        options.append(f"http_port {http_port}")
    if https_port != 443:
        options.append(f"https_port {https_port}")
    if email:
        options.append(f"email {email}")
    if internal_ca:
        options += ["# Certificates from Caddy's own local CA, for development and tests. Its root",
                    "# (pki/authorities/local/root.crt in Caddy's data dir) is never added to this",
                    "# machine's trust store by itself: give it to the clients that should trust",
                    "# it, or run `caddy trust`.",
                    "local_certs",
                    "skip_install_trust"]
    options += [
        "# Before a certificate is obtained for a name it has not seen, Caddy asks the API;",
        "# only a 200 (the name routes to something right now) lets it go ahead, so nobody can",
        "# make the platform request certificates for names it does not serve.",
        "on_demand_tls {",
        f"\task http://127.0.0.1:{api_port}{ASK_PATH}",
        "}",
        "# Clients that send their request headers slowly are cut off here, before the edge",
        "# (which has no timeout for reading request headers) holds a connection for them.",
        "# No limit on reading bodies: uploads to previews may be large and slow.",
        "servers {",
        "\ttimeouts {",
        "\t\tread_header 10s",
        "\t\tidle 2m",
        "\t}",
        "}",
    ]
    out = [
        "# Caddy in front of the platform: it terminates TLS and hands every request to the edge",
        "# router (and the API its own name). Generated from the HOSTPLANE_* settings; run the",
        "# edge with HOSTPLANE_EDGE_TRUSTED_PROXIES=127.0.0.1, HOSTPLANE_PUBLIC_SCHEME=https and",
        "# HOSTPLANE_PUBLIC_PORT= (empty).",
        "{",
        *[f"\t{line}" for line in options],
        "}",
        "",
        "# What every site that reaches the edge does. reverse_proxy keeps the request's Host (the",
        "# edge routes on it) and sets X-Forwarded-For to the client's address, replacing any the",
        "# client sent; the edge believes it only from HOSTPLANE_EDGE_TRUSTED_PROXIES. Responses",
        "# carry no Server header: end users never learn what serves them.",
        "(edge) {",
        f"\treverse_proxy 127.0.0.1:{edge_port}",
        "\theader -Server",
        "}",
        "",
        "# Every name, one certificate each, obtained at its first handshake when the ask",
        "# endpoint approves it: sandbox previews, deployment fallbacks, organizations' preview",
        "# and deployment domains, customers' exact domains, desktops. A name that does not route",
        "# gets no certificate, so its handshake fails.",
        "https:// {",
        "\ttls {",
        "\t\ton_demand",
        "\t}",
        "\timport edge",
        "}",
        "",
        *_wildcards(settings),
    ]
    api_site = _api_site(settings.api_url)
    if api_site is not None:
        out += [
            "",
            "# The API at its public name (HOSTPLANE_API_URL), with a certificate managed as",
            "# usual. The internal routes answer only on this machine, never through the proxy.",
            f"{api_site} {{",
            "\trespond /internal/* 404",
            f"\treverse_proxy 127.0.0.1:{api_port}",
            "\theader -Server",
            "}",
        ]
    return "\n".join(out) + "\n"


def _wildcards(settings: Settings) -> list[str]:
    """The platform's wildcard sites, commented out: on-demand TLS above already covers them one
    name at a time, and a wildcard certificate can only be obtained through a DNS-01 challenge."""
    names = [f"*.sandbox.{settings.preview_domain}", f"*.{settings.computer_domain}"]
    return [
        "# Wildcard certificates for the platform's own domains (optional). On-demand TLS above",
        "# already covers these names, one certificate per name. A wildcard certificate saves",
        "# the first handshake's wait and the CA's per-name issuance, but a CA grants one only",
        "# through a DNS-01 challenge: build Caddy with the DNS plugin of your DNS provider",
        "# (`xcaddy build --with github.com/caddy-dns/<provider>`), fill in the `dns` line and",
        "# uncomment. Deployment fallbacks ({deployment}.{organization}."
        f"{settings.managed_domain})",
        "# span two labels, which one wildcard cannot cover: each organization would need its",
        f"# own *.<organization>.{settings.managed_domain} certificate, so leave those on demand.",
        "#",
        f"# {', '.join(names)} {{",
        "# \ttls {",
        "# \t\tdns <provider> {env.DNS_API_TOKEN}",
        "# \t}",
        "# \timport edge",
        "# }",
    ]


def caddyfile(
    api_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the API on this machine "
                                          "(`hostplane serve --port`).")] = 8080,
    edge_port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port of the edge on "
                                                  "this machine (default HOSTPLANE_EDGE_PORT, "
                                                  "8000).")] = None,
    email: Annotated[str | None, typer.Option(help="Contact address for the certificate "
                                              "authority's account (expiry notices).")] = None,
    internal_ca: Annotated[bool, typer.Option("--internal-ca", help="Certificates from Caddy's own "
                                              "local CA instead of a public one: development and "
                                              "tests.")] = False,
    http_port: Annotated[int, typer.Option(min=1, max=65535, help="Caddy's HTTP port (redirects "
                                           "to HTTPS, ACME HTTP challenges).")] = 80,
    https_port: Annotated[int, typer.Option(min=1, max=65535, help="Caddy's HTTPS port.")] = 443,
    admin: Annotated[str | None, typer.Option(help="Caddy's admin endpoint: an address, or `off` "
                                              "(default: Caddy's own, localhost:2019).")] = None,
) -> None:
    """Print a Caddyfile that terminates TLS in front of the edge and the API: every name the
    edge serves gets a certificate on demand once the API's ask endpoint approves it. Save it
    and run `caddy run --config Caddyfile`."""
    from hostplane.settings import get_settings

    settings = get_settings()
    print(render(settings, api_port=api_port, edge_port=edge_port or settings.edge_port,
                 email=email, internal_ca=internal_ca, http_port=http_port,
                 https_port=https_port, admin=admin), end="")
