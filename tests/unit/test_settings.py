"""Settings: every HOSTPLANE_* variable of DESIGN.md, read from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hostplane.settings import Settings

DESIGN_VARIABLES = {
    "HOSTPLANE_DATA_DIR": ("data_dir", "/srv/hp"),
    "HOSTPLANE_DATABASE_URL": ("database_url", "postgresql+psycopg://u@h/db"),
    "HOSTPLANE_MANAGED_DOMAIN": ("managed_domain", "miosa.app"),
    "HOSTPLANE_PREVIEW_DOMAIN": ("preview_domain", "miosa.ai"),
    "HOSTPLANE_COMPUTER_DOMAIN": ("computer_domain", "computer.miosa.ai"),
    "HOSTPLANE_PROXY_TARGET": ("proxy_target", "proxy.miosa.ai"),
    "HOSTPLANE_PUBLIC_SCHEME": ("public_scheme", "https"),
    "HOSTPLANE_PUBLIC_PORT": ("public_port", ""),
    "HOSTPLANE_DNS_NAMESERVERS": ("dns_nameservers", "127.0.0.1:5353,127.0.0.2"),
    "HOSTPLANE_POSTGRES_ADMIN_URL": ("postgres_admin_url", "postgresql://postgres@127.0.0.1/postgres"),
    "HOSTPLANE_API_URL": ("api_url", "https://api.miosa.ai"),
}


def test_defaults_serve_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DESIGN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.managed_domain == "localhost"
    assert settings.computer_domain == "computer.localhost"
    assert settings.public_scheme == "http" and settings.public_port == "8000"
    assert settings.sqlalchemy_url.startswith("sqlite:///") and settings.sqlalchemy_url.endswith(
        ".hostplane/hostplane.db"
    )
    assert settings.nameservers == []


def test_every_design_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (_field, value) in DESIGN_VARIABLES.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    for name, (field, value) in DESIGN_VARIABLES.items():
        assert str(getattr(settings, field)) == value, name
    assert settings.nameservers == ["127.0.0.1:5353", "127.0.0.2"]


def test_plain_postgres_urls_use_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTPLANE_DATABASE_URL", "postgres://u@h:5432/db")
    assert Settings().sqlalchemy_url == "postgresql+psycopg://u@h:5432/db"


@pytest.mark.parametrize(("name", "value"), [("HOSTPLANE_PUBLIC_SCHEME", "ftp"),
                                             ("HOSTPLANE_PUBLIC_PORT", "99999"),
                                             ("HOSTPLANE_PUBLIC_PORT", "http")])
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_the_sandbox_uid_range_is_read_and_must_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTPLANE_SANDBOX_UID_BASE", "3000000000")
    monkeypatch.setenv("HOSTPLANE_SANDBOX_UID_COUNT", "1000")
    settings = Settings()
    assert (settings.sandbox_uid_base, settings.sandbox_uid_count) == (3_000_000_000, 1000)
    monkeypatch.setenv("HOSTPLANE_SANDBOX_UID_COUNT", str(2**31))
    with pytest.raises(ValidationError, match="HOSTPLANE_SANDBOX_UID_BASE"):
        Settings()
