"""TLS in front of the edge (issue 13 §6): a real Caddy with its own CA and on-demand TLS, asking
GET /internal/tls/ask before each certificate; the `hostplane caddyfile` it runs from; and the
ask endpoint's answers name by name and caller by caller. Real DNS on loopback, real HTTPS."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hostplane.api.routers.tls import allowed
from tests.api.test_spec_example import create_dns
from tests.edge.test_deployments import DEPLOYMENTS, fallback, published

ASK = "/internal/tls/ask"
CADDY = shutil.which("caddy")
needs_caddy = pytest.mark.skipif(CADDY is None, reason="caddy is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def caddyfile(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`hostplane caddyfile ARGS` as an operator runs it, with these HOSTPLANE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTPLANE_")}
    env.update({f"HOSTPLANE_{k.upper()}": v for k, v in settings.items()})
    return subprocess.run([sys.executable, "-m", "hostplane.cli", "caddyfile", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def caddy_env(home: Path) -> dict[str, str]:
    """Caddy's certificates, keys and autosaved config in a directory of the test's own."""
    return {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config")}


class Caddy:
    def __init__(self, https_port: int, data: Path) -> None:
        self.https_port, self.data = https_port, data

    def context(self) -> ssl.SSLContext:
        """A client context that trusts only this Caddy's local CA."""
        return ssl.create_default_context(
            cafile=str(self.data / "caddy/pki/authorities/local/root.crt"))

    def handshake(self, name: str) -> dict[str, Any]:
        """The certificate Caddy presents for SNI `name` (raises ssl.SSLError without one)."""
        with socket.create_connection(("127.0.0.1", self.https_port), timeout=30) as raw, \
                self.context().wrap_socket(raw, server_hostname=name) as tls:
            return tls.getpeercert()

    def get(self, name: str, path: str = "/") -> httpx.Response:
        """An HTTPS request to `name`, connecting to Caddy on loopback."""
        with httpx.Client(verify=self.context(), timeout=30) as client:
            return client.get(f"https://127.0.0.1:{self.https_port}{path}",
                              headers={"Host": name}, extensions={"sni_hostname": name})


@pytest.fixture(scope="module")
def caddy(base_url: str, edge_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caddy]:
    """One Caddy for the module, with its own CA, in front of the test edge and asking the test
    API; stopped at the end."""
    if CADDY is None:
        pytest.skip("caddy is not installed")
    home = tmp_path_factory.mktemp("caddy")
    https_port = _free_port()
    made = caddyfile("--api-port", str(urlsplit(base_url).port),
                     "--edge-port", str(urlsplit(edge_url).port), "--internal-ca",
                     "--http-port", str(_free_port()), "--https-port", str(https_port),
                     "--admin", "off")
    assert made.returncode == 0, made.stderr
    # A test must never add its throwaway CA to this machine's trust store.
    assert "skip_install_trust" in made.stdout
    config = home / "Caddyfile"
    config.write_text(made.stdout)
    log = (home / "caddy.log").open("w")
    process = subprocess.Popen([CADDY, "run", "--adapter", "caddyfile", "--config", str(config)],
                               env=caddy_env(home), stdout=log, stderr=subprocess.STDOUT)
    served = Caddy(https_port, home / "data")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (home / "caddy.log").read_text()
            root = served.data / "caddy/pki/authorities/local/root.crt"
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                if root.exists():
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "caddy did not start"
            time.sleep(0.05)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def verified_domain(org: Any, zone: Any, dep: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A customer's exact domain on `dep`, its DNS created on the loopback server and verified."""
    name = f"www.site{uuid.uuid4().hex[:10]}.com"
    record = org.post(f"{DEPLOYMENTS}/{dep['id']}/domains", {"domain": name}).json()["data"]
    create_dns(zone, record["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    return name, record


def ask(client: httpx.Client, domain: str) -> int:
    return client.get(ASK, params={"domain": domain}).status_code


# Through a real Caddy


@needs_caddy
def test_a_verified_domain_gets_a_certificate_and_its_site(org, zone, caddy):
    dep, _ = published(org, files=[("index.html", b"<h1>over TLS</h1>")])
    name, _ = verified_domain(org, zone, dep)
    cert = caddy.handshake(name)
    assert ("DNS", name) in cert["subjectAltName"]
    resp = caddy.get(name)
    assert (resp.status_code, resp.text) == (200, "<h1>over TLS</h1>")
    # End users never learn what serves them.
    assert "server" not in resp.headers and "via" not in resp.headers
    assert not [h for h in resp.headers.multi_items() if "caddy" in repr(h).lower()]
    fallback_name = fallback(org, dep)
    assert caddy.get(fallback_name).text == "<h1>over TLS</h1>"


@needs_caddy
def test_a_name_that_does_not_route_gets_no_certificate(org, zone, caddy):
    dep, _ = published(org)
    pending = f"www.pending{uuid.uuid4().hex[:10]}.com"
    made = org.post(f"{DEPLOYMENTS}/{dep['id']}/domains", {"domain": pending})
    assert made.status_code == 201, made.text
    for name in (f"nothing{uuid.uuid4().hex[:8]}.example.com", pending,
                 f"no-such-deployment.{org.slug}.miosa.app"):
        with pytest.raises(ssl.SSLError):
            caddy.handshake(name)
    # Refused because it did not route then: once verified, the same name gets one.
    record = made.json()["data"]
    create_dns(zone, record["dns_records"])
    assert org.post(f"/api/v1/custom-domains/{record['id']}/verify").json()["data"]["verified"]
    assert ("DNS", pending) in caddy.handshake(pending)["subjectAltName"]
    assert caddy.get(pending).text == "<h1>v1</h1>"


def test_the_caddyfile_validates(tmp_path):
    if CADDY is None:
        pytest.skip("caddy is not installed")
    platform = {"preview_domain": "miosa.ai", "managed_domain": "miosa.app",
                "computer_domain": "computer.miosa.ai", "edge_port": "8001"}
    for args, settings in (((), {}),
                           (("--email", "ops@example.com"),
                            {**platform, "api_url": "https://api.miosa.ai"}),
                           (("--internal-ca", "--api-port", "9090", "--admin", "off"),
                            platform)):
        made = caddyfile(*args, **settings)
        assert made.returncode == 0, made.stderr
        text = made.stdout
        (tmp_path / "Caddyfile").write_text(text)
        checked = subprocess.run([CADDY, "validate", "--adapter", "caddyfile", "--config",
                                  str(tmp_path / "Caddyfile")], env=caddy_env(tmp_path),
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert '"level":"warn"' not in checked.stderr, checked.stderr
        formatted = subprocess.run([CADDY, "fmt", str(tmp_path / "Caddyfile")],
                                   capture_output=True, text=True, timeout=60)
        assert formatted.stdout == text  # as `caddy fmt` would write it
        assert "\theader -Server" in text and "\t\ton_demand" in text
        port = "9090" if "--api-port" in args else "8080"
        assert f"ask http://127.0.0.1:{port}/internal/tls/ask" in text
        assert ("reverse_proxy 127.0.0.1:8001" if settings else "reverse_proxy 127.0.0.1:8000") \
            in text
        assert ("https://api.miosa.ai {" in text) == ("api_url" in settings)
        assert ("local_certs" in text) == ("--internal-ca" in args)
        assert ("skip_install_trust" in text) == ("--internal-ca" in args)
    assert "*.sandbox.miosa.ai, *.computer.miosa.ai" in text


def test_caddyfile_has_help():
    from typer.testing import CliRunner

    from hostplane.cli.main import app

    result = CliRunner().invoke(app, ["caddyfile", "--help"])
    assert result.exit_code == 0 and "--internal-ca" in result.output


# The ask endpoint, asked directly


def test_ask_approves_exactly_the_names_that_route_now(org, zone, anon):
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    preview = urlsplit(sandbox["preview_url"]).hostname
    assert preview.endswith(".sandbox.miosa.ai")
    other_port = preview.replace(f"{sandbox.get('preview_port', 5173)}-", "3000-", 1)
    dep = org.post(DEPLOYMENTS, {"name": "Not yet published"}).json()["data"]
    computer = org.post("/api/v1/computers", {"name": "Desk"}).json()
    desktop = urlsplit(computer["desktop_url"]).hostname
    for name in (preview, other_port, fallback(org, dep), desktop):
        assert ask(anon, name) == 200, name

    name, record = verified_domain(org, zone, dep)
    for spelling in (name, name.upper(), name + ".", name + ":443"):
        assert ask(anon, spelling) == 200, spelling
    org.delete(f"/api/v1/custom-domains/{record['id']}")
    assert ask(anon, name) == 403  # removed a moment ago: no new certificate


def test_ask_refuses_unknown_unverified_and_malformed_names(org, anon):
    dep = org.post(DEPLOYMENTS, {"name": "Site"}).json()["data"]
    pending = f"www.pending{uuid.uuid4().hex[:10]}.com"
    assert org.post(f"{DEPLOYMENTS}/{dep['id']}/domains", {"domain": pending}).status_code == 201
    for name in (pending, f"unknown{uuid.uuid4().hex[:8]}.example.com",
                 f"no-such-deployment.{org.slug}.miosa.app", f"{dep['slug']}.no-such-org.miosa.app",
                 "5173-nosuchsandbox.sandbox.miosa.ai", "nosuchcomputer.computer.miosa.ai",
                 "miosa.app", "", "not a host", "a..b.com", "-bad.example.com", "[::1]",
                 "127.0.0.1", "x" * 300 + ".com", "ex\u00e4mple..com", "*.miosa.app"):
        assert ask(anon, name) == 403, name
    assert anon.get(ASK).status_code == 403  # no name at all
    assert anon.get(ASK, params={"domain": "a\x00b.com"}).status_code >= 400
    assert anon.post(ASK, params={"domain": pending}).status_code == 405


def test_ask_answers_only_the_allowed_networks(org, base_url, anon):
    dep = org.post(DEPLOYMENTS, {"name": "Site"}).json()["data"]
    name = fallback(org, dep)
    assert ask(anon, name) == 200
    # Another loopback address is outside the default 127.0.0.1/32: the route does not exist.
    elsewhere = httpx.Client(base_url=base_url, timeout=30,
                             transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with elsewhere:
        refused = elsewhere.get(ASK, params={"domain": name})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "NOT_FOUND"
    # Behind a proxy on this machine, the client it names is the one that counts.
    relayed = anon.get(ASK, params={"domain": name}, headers={"X-Forwarded-For": "10.1.2.3"})
    assert relayed.status_code == 404


def test_allowed_networks():
    default = "127.0.0.1/32,::1/128"
    assert allowed("127.0.0.1", default) and allowed("::1", default)
    assert allowed("::ffff:127.0.0.1", default)  # an IPv4 peer on a dual-stack listener
    assert not allowed("127.0.0.2", default) and not allowed("10.0.0.1", default)
    assert allowed("10.9.8.7", "10.0.0.0/8, 192.168.1.5") and allowed("192.168.1.5", "192.168.1.5")
    assert not allowed("192.168.1.6", "10.0.0.0/8, 192.168.1.5")
    for peer in (None, "", "testclient", "not-an-ip"):
        assert not allowed(peer, default)
    assert not allowed("127.0.0.1", "not-a-network")  # a setting that does not parse: closed
    assert not allowed("127.0.0.1", "")
