"""Deployments that publish (issue "Local compute driver" §5): a static site built in a sandbox
becomes an immutable, content-addressed version; promote and rollback choose what is served; an
uploaded archive is read safely (no traversal, links, devices or bombs)."""

from __future__ import annotations

import io
import tarfile

import pytest

DEPLOYMENTS = "/api/v1/deployments"


def build(org, sandbox_id, html):
    ran = org.post(f"/api/v1/sandboxes/{sandbox_id}/exec", {
        "command": f"mkdir -p dist/assets && printf '{html}' > dist/index.html && "
                   "printf 'body{{}}' > dist/assets/site.css"})
    assert ran.status_code == 200 and ran.json()["data"]["exit_code"] == 0, ran.text


def served(container, org, dep_id, path):
    """What the release store serves for `path` of the deployment's active version."""
    from hostplane.db.scope import Scope
    from hostplane.resources.models import Deployment, DeploymentVersion

    with container.database.transaction(write=False) as session:
        scope = Scope(session, org.tenant_id)
        dep = scope.find(Deployment, id=dep_id)
        version = scope.find(DeploymentVersion, id=dep.active_version_id)
        found = container.releases.open(version.artifact_manifest, path)
    if found is None:
        return None
    blob, content_type = found
    return blob.read_bytes().decode(), content_type


def test_publish_promote_and_rollback_a_site_built_in_a_sandbox(org, container):
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    dep = org.post(DEPLOYMENTS, {"name": "Lead Magnet"}).json()["data"]
    assert dep["state"] == "pending" and dep["active_version_id"] is None

    build(org, sandbox["id"], "<h1>v1</h1>")
    first = org.post(f"{DEPLOYMENTS}/{dep['id']}/publish",
                     {"source_sandbox_id": sandbox["id"], "output_path": "dist"})
    assert first.status_code == 201, first.text
    result = first.json()["data"]
    v1 = result["version"]
    assert (v1["version_number"], v1["state"], v1["kind"]) == (1, "ready", "static")
    assert v1["artifact_manifest"]["file_count"] == 2 and result["promoted"] is True
    assert result["deployment"]["active_version_id"] == v1["id"]
    assert result["deployment"]["state"] == "running"
    assert served(container, org, dep["id"], "/") == ("<h1>v1</h1>", "text/html")
    assert served(container, org, dep["id"], "assets/site.css")[1] == "text/css"
    assert served(container, org, dep["id"], "missing.html") is None

    build(org, sandbox["id"], "<h1>v2</h1>")
    v2 = org.post(f"{DEPLOYMENTS}/{dep['id']}/publish",
                  {"source_sandbox_id": sandbox["id"], "output_path": "/workspace/dist"}
                  ).json()["data"]["version"]
    assert v2["version_number"] == 2 and v2["digest"] != v1["digest"]
    assert served(container, org, dep["id"], "index.html")[0] == "<h1>v2</h1>"

    back = org.post(f"{DEPLOYMENTS}/{dep['id']}/rollback", {}).json()["data"]
    assert back["active_version_id"] == v1["id"]
    assert served(container, org, dep["id"], "/")[0] == "<h1>v1</h1>"
    again = org.post(f"{DEPLOYMENTS}/{dep['id']}/versions/{v2['id']}/promote").json()["data"]
    assert again["active_version_id"] == v2["id"]
    listed = org.get(f"{DEPLOYMENTS}/{dep['id']}/versions").json()["data"]
    assert [v["version_number"] for v in listed] == [1, 2]
    first_again = org.get(f"{DEPLOYMENTS}/{dep['id']}/versions/{v1['id']}").json()["data"]
    assert first_again["digest"] == v1["digest"]  # immutable

    # The same files again: a new version, the same content address.
    build(org, sandbox["id"], "<h1>v1</h1>")
    v3 = org.post(f"{DEPLOYMENTS}/{dep['id']}/publish",
                  {"source_sandbox_id": sandbox["id"], "output_path": "dist", "promote": False}
                  ).json()["data"]
    assert v3["version"]["digest"] == v1["digest"] and v3["promoted"] is False
    assert v3["deployment"]["active_version_id"] == v2["id"]


def test_nothing_to_roll_back_and_unknown_versions(org):
    dep = org.post(DEPLOYMENTS, {"name": "Empty"}).json()["data"]
    none = org.post(f"{DEPLOYMENTS}/{dep['id']}/rollback", {})
    assert none.status_code == 409 and none.json()["error"]["code"] == "NOTHING_TO_ROLL_BACK"
    missing = org.post(f"{DEPLOYMENTS}/{dep['id']}/versions/nope/promote")
    assert missing.status_code == 404


def archive(*members):
    """A .tar.gz of (name, bytes | TarInfo-kind) members."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, bytes):
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                info.type, info.linkname = content
                tar.addfile(info)
    return out.getvalue()


def upload(org, dep_id, data, **params):
    return org.client.post(f"{DEPLOYMENTS}/{dep_id}/versions", content=data, params=params,
                           headers={"Content-Type": "application/gzip"})


def test_an_uploaded_build_becomes_a_version(org, container):
    dep = org.post(DEPLOYMENTS, {"name": "Upload"}).json()["data"]
    resp = upload(org, dep["id"], archive(("./index.html", b"<p>up</p>"),
                                          ("docs/", (tarfile.DIRTYPE, "")),
                                          ("docs/index.html", b"<p>docs</p>")), promote="true")
    assert resp.status_code == 201, resp.text
    assert resp.json()["data"]["version"]["source"] == "upload"
    assert served(container, org, dep["id"], "docs/") == ("<p>docs</p>", "text/html")


@pytest.mark.parametrize(("members", "code"), [
    ([("../escape.html", b"x")], "UNSAFE_ARCHIVE"),
    ([("/etc/passwd", b"x")], "UNSAFE_ARCHIVE"),
    ([("link", (tarfile.SYMTYPE, "/etc/passwd"))], "UNSAFE_ARCHIVE"),
    ([("hard", (tarfile.LNKTYPE, "index.html"))], "UNSAFE_ARCHIVE"),
    ([("dev", (tarfile.CHRTYPE, ""))], "UNSAFE_ARCHIVE"),
    ([("fifo", (tarfile.FIFOTYPE, ""))], "UNSAFE_ARCHIVE"),
])
def test_unsafe_archives_are_refused(org, members, code):
    dep = org.post(DEPLOYMENTS, {"name": "Unsafe"}).json()["data"]
    resp = upload(org, dep["id"], archive(*members))
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == code
    assert org.get(f"{DEPLOYMENTS}/{dep['id']}/versions").json()["data"] == []


def test_bombs_and_garbage_are_refused(org, monkeypatch):
    from hostplane.compute import releases

    dep = org.post(DEPLOYMENTS, {"name": "Bomb"}).json()["data"]
    bomb = archive(("zeros.bin", b"\0" * (3 * 1024 * 1024)))  # 3 MB unpacked, a few KB packed
    monkeypatch.setattr(releases, "MAX_TOTAL_BYTES", 1024 * 1024)  # this process serves the API
    resp = upload(org, dep["id"], bomb)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "RELEASE_TOO_LARGE"
    monkeypatch.setattr(releases, "MAX_FILES", 3)
    many = archive(*[(f"f{i}.html", b"x") for i in range(5)])
    assert upload(org, dep["id"], many).json()["error"]["code"] == "RELEASE_TOO_LARGE"
    garbage = upload(org, dep["id"], b"not an archive at all")
    assert garbage.status_code == 422 and garbage.json()["error"]["code"] == "UNSAFE_ARCHIVE"
    truncated = upload(org, dep["id"], archive(("a.html", b"x" * 10000))[:60])
    assert truncated.status_code == 422


def test_header_bombs_and_odd_names_are_refused(org):
    dep = org.post(DEPLOYMENTS, {"name": "Headers"}).json()["data"]
    long_name = archive(("a" * 5000 + ".html", b"x"))  # a pax/GNU long-name header
    resp = upload(org, dep["id"], long_name)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "UNSAFE_ARCHIVE"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("bad\x01name.html")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    assert upload(org, dep["id"], out.getvalue()).status_code == 422


def test_publishing_counts_what_links_in_the_sandbox_read(org, monkeypatch):
    from hostplane.compute import releases
    from hostplane.resources import versions

    monkeypatch.setattr(versions, "MAX_TOTAL_BYTES", 1024 * 1024)
    monkeypatch.setattr(releases, "MAX_TOTAL_BYTES", 1024 * 1024)
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    org.post(f"/api/v1/sandboxes/{sandbox['id']}/exec", {"command": (
        "mkdir -p site && head -c 300000 /dev/zero > site/big.bin && "
        "for i in 1 2 3 4 5; do ln -s big.bin site/l$i.bin; done")})
    dep = org.post(DEPLOYMENTS, {"name": "Links"}).json()["data"]
    resp = org.post(f"{DEPLOYMENTS}/{dep['id']}/publish",
                    {"source_sandbox_id": sandbox["id"], "output_path": "./site"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "RELEASE_TOO_LARGE"


def test_a_dotted_output_path_keeps_file_names_whole(org, container):
    sandbox = org.post("/api/v1/sandboxes", {}).json()["data"]
    build(org, sandbox["id"], "<h1>dots</h1>")
    dep = org.post(DEPLOYMENTS, {"name": "Dots"}).json()["data"]
    org.post(f"{DEPLOYMENTS}/{dep['id']}/publish",
             {"source_sandbox_id": sandbox["id"], "output_path": "./dist/"})
    assert served(container, org, dep["id"], "index.html")[0] == "<h1>dots</h1>"
    assert served(container, org, dep["id"], "assets/site.css") is not None
