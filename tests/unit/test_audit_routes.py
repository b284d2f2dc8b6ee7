"""Every write route of the API is described in the audit log by a resource the permission
vocabulary knows and a plain verb (a new route that the rules name oddly fails here)."""

from __future__ import annotations

import re

from hostplane.api.app import API_PREFIX, create_app
from hostplane.audit.service import describe
from hostplane.settings import Settings

RESOURCES = {"tenant", "preview_domain", "deployment_domain", "workspace", "project", "sandbox",
             "preview", "database", "deployment", "computer", "custom_domain", "api_key",
             "browser_token", "browser_origins", "branding", "deployment_version", "webhook",
             "sandbox_process"}


def test_every_write_route_has_a_sensible_audit_name(tmp_path):
    spec = create_app(Settings(data_dir=tmp_path), migrate=True).openapi()
    seen = set()
    for path, operations in spec["paths"].items():
        if not path.startswith(API_PREFIX):
            continue
        for method in operations:
            method = method.upper()
            if method == "GET" and not path.endswith("/verify"):
                continue
            change = describe(method, path, API_PREFIX + "/", {}, None)
            if change is None:
                continue
            assert change.resource_type in RESOURCES, (method, path, change)
            assert re.fullmatch(r"[a-z_]+\.[a-z_]+", change.action), (method, path, change)
            seen.add(change.action)
    assert {"sandbox.exec", "custom_domain.verify", "preview_domain.verify",
            "browser_token.create", "branding.upload_wallpaper"} <= seen
