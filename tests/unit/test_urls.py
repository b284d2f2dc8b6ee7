"""The URL engine: the spec's example URLs exactly, and precedence over every combination."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane import errors
from hostplane.urls import (
    OrganizationDomains,
    Platform,
    computer_urls,
    deployment_urls,
    sandbox_preview_url,
)

SPEC = Platform(managed_domain="miosa.app", preview_domain="miosa.ai",
                computer_domain="computer.miosa.ai", scheme="https", port="")
CLINICIQ = OrganizationDomains(slug="cliniciq")


def test_spec_deployment_fallback():
    urls = deployment_urls(SPEC, CLINICIQ, "lead-magnet")
    assert urls.public_url == urls.fallback == "https://lead-magnet.cliniciq.miosa.app"
    assert urls.branded is None and urls.custom == () and urls.source == "fallback"


def test_spec_branded_deployment_and_previews():
    org = OrganizationDomains(slug="cliniciq", preview_domain="cliniciq.com", preview_verified=True,
                              deployment_domain="apps.cliniciq.com", deployment_verified=True)
    urls = deployment_urls(SPEC, org, "lead-magnet")
    assert urls.public_url == "https://lead-magnet.apps.cliniciq.com"
    assert urls.fallback == "https://lead-magnet.cliniciq.miosa.app"
    assert sandbox_preview_url(SPEC, org, "sbx01j9x", 5173) == (
        "https://5173-sbx01j9x.sandbox.cliniciq.com")
    dev = OrganizationDomains(slug="cliniciq", preview_domain="cliniciq.dev", preview_verified=True)
    assert sandbox_preview_url(SPEC, dev, "sbx01j9x", 5173) == (
        "https://5173-sbx01j9x.sandbox.cliniciq.dev")


def test_spec_exact_domain_wins():
    org = OrganizationDomains(slug="cliniciq", deployment_domain="apps.cliniciq.com",
                              deployment_verified=True)
    urls = deployment_urls(SPEC, org, "lead-magnet", ["program.drsmithclinic.com"])
    assert urls.public_url == "https://program.drsmithclinic.com" and urls.source == "custom"
    assert urls.layers() == {"fallback": "https://lead-magnet.cliniciq.miosa.app",
                             "branded": "https://lead-magnet.apps.cliniciq.com",
                             "custom": ["https://program.drsmithclinic.com"]}


def test_spec_computer_desktop():
    urls = computer_urls(SPEC, CLINICIQ, "cmp7k2q9")
    assert urls.desktop_url == "https://cmp7k2q9.computer.miosa.ai/desktop/index.html"
    assert urls.sandbox_url == "https://cmp7k2q9.sandbox.miosa.ai"
    custom = computer_urls(SPEC, CLINICIQ, "cmp7k2q9", ["desktop.drsmithclinic.com"])
    assert custom.desktop_url == "https://desktop.drsmithclinic.com/desktop/index.html"
    assert custom.desktop_host_url == urls.desktop_url


def test_unverified_domains_are_never_used():
    org = OrganizationDomains(slug="cliniciq", preview_domain="cliniciq.dev",
                              deployment_domain="apps.cliniciq.com")
    assert deployment_urls(SPEC, org, "lead-magnet").public_url == (
        "https://lead-magnet.cliniciq.miosa.app")
    assert sandbox_preview_url(SPEC, org, "sbx01j9x", 5173).endswith(".sandbox.miosa.ai")


def test_local_defaults_carry_the_port():
    local = Platform(managed_domain="localhost", preview_domain="localhost",
                     computer_domain="computer.localhost", scheme="http", port="8000")
    assert deployment_urls(local, CLINICIQ, "lead-magnet").public_url == (
        "http://lead-magnet.cliniciq.localhost:8000")
    assert sandbox_preview_url(local, CLINICIQ, "sbx01j9x", 5173) == (
        "http://5173-sbx01j9x.sandbox.localhost:8000")


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_preview_ports_must_be_tcp_ports(port):
    with pytest.raises(errors.Invalid) as caught:
        sandbox_preview_url(SPEC, CLINICIQ, "sbx01j9x", port)
    assert caught.value.details["field"] == "port"


def test_labels_over_63_characters_are_refused():
    with pytest.raises(errors.Invalid) as caught:
        deployment_urls(SPEC, CLINICIQ, "x" * 64)
    assert caught.value.code == "HOSTNAME_TOO_LONG"
    assert deployment_urls(SPEC, CLINICIQ, "x" * 63).public_url.startswith("https://" + "x" * 63)


label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20)
domain = st.lists(label, min_size=2, max_size=3).map(".".join)


@given(slug=label, deployment_slug=label, preview=st.none() | domain, preview_ok=st.booleans(),
       deploy=st.none() | domain, deploy_ok=st.booleans(), custom=st.lists(domain, max_size=3))
def test_deployment_precedence_over_every_combination(slug, deployment_slug, preview, preview_ok,
                                                      deploy, deploy_ok, custom):
    org = OrganizationDomains(slug, preview, preview_ok, deploy, deploy_ok)
    urls = deployment_urls(SPEC, org, deployment_slug, custom)
    assert urls.fallback == f"https://{deployment_slug}.{slug}.miosa.app"
    if custom:
        assert urls.public_url == f"https://{custom[0]}" and urls.source == "custom"
    elif deploy and deploy_ok:
        assert urls.public_url == urls.branded == f"https://{deployment_slug}.{deploy}"
    else:
        assert urls.public_url == urls.fallback and urls.branded is None
    # Previews use the preview domain only, whatever the deployment domain is.
    preview_url = sandbox_preview_url(SPEC, org, "sbx01j9x", 5173)
    expected = preview if preview and preview_ok else "miosa.ai"
    assert preview_url == f"https://5173-sbx01j9x.sandbox.{expected}"


@given(own=st.lists(domain, max_size=2), project=st.lists(domain, max_size=2),
       production=st.booleans(), deploy_ok=st.booleans())
def test_project_domains_route_to_the_production_deployment_only(own, project, production,
                                                                 deploy_ok):
    org = OrganizationDomains("cliniciq", None, False, "apps.cliniciq.com", deploy_ok)
    urls = deployment_urls(SPEC, org, "lead-magnet", own, project_domains=project,
                           is_production=production)
    exact = own + (project if production else [])
    assert urls.custom == tuple(dict.fromkeys(f"https://{h}" for h in exact))
    if exact:
        assert urls.public_url == f"https://{exact[0]}" and urls.source == "custom"
    else:
        assert urls.source == ("branded" if deploy_ok else "fallback")


def test_spec_project_domain_routes_to_its_production_deployment():
    prod = deployment_urls(SPEC, CLINICIQ, "lead-magnet", project_domains=["drsmithclinic.com"],
                           is_production=True)
    other = deployment_urls(SPEC, CLINICIQ, "lead-magnet-2", project_domains=["drsmithclinic.com"])
    assert prod.public_url == "https://drsmithclinic.com"
    assert other.public_url == "https://lead-magnet-2.cliniciq.miosa.app"


@given(slug=label, computer=label, custom=st.lists(domain, max_size=2), preview_ok=st.booleans())
def test_computer_urls_over_every_combination(slug, computer, custom, preview_ok):
    org = OrganizationDomains(slug, "previews.example.org", preview_ok)
    urls = computer_urls(SPEC, org, computer, custom)
    assert urls.desktop_host_url == f"https://{computer}.computer.miosa.ai/desktop/index.html"
    winner = f"https://{custom[0]}/desktop/index.html" if custom else urls.desktop_host_url
    assert urls.desktop_url == winner
    base = "previews.example.org" if preview_ok else "miosa.ai"
    assert urls.sandbox_url == f"https://{computer}.sandbox.{base}"


def test_platform_from_the_spec_settings():
    from hostplane.settings import Settings

    settings = Settings(managed_domain="miosa.app", preview_domain="miosa.ai",
                        computer_domain="computer.miosa.ai", public_scheme="https", public_port="")
    assert Platform.from_settings(settings) == SPEC
