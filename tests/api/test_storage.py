"""Uploads cost what they weigh, not what they unpack to; one organization's storage has a quota
that GET /usage shows; deleting a workspace or project leaves nothing of it running or kept
(issue 14 item 6 and the lifecycle rule)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
import tracemalloc
import uuid
from pathlib import Path

import pytest

from tests.api.test_branding import image

DEPLOYMENTS = "/api/v1/deployments"
MIB = 2**20
MEMORY_BOUND = 8 * MIB  # what one upload may hold, far below what it carries or unpacks to


def tar_gz(path: Path, name: str, size: int, source: io.RawIOBase) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, source)
    return path


def pieces(path: Path):
    with open(path, "rb") as file:
        while chunk := file.read(64 * 1024):
            yield chunk


def upload(org, deployment_id: str, path: Path, **headers: str):
    """The archive sent a piece at a time, so the client holds none of it whole either."""
    return org.post(f"{DEPLOYMENTS}/{deployment_id}/versions", content=pieces(path),
                    headers={"content-type": "application/gzip", **headers})


def traced(call):
    """The call's answer and the most memory Python held at once during it (every thread of
    this process, the API server's included)."""
    tracemalloc.start()
    try:
        answer = call()
        return answer, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def deployment(org, **where):
    made = org.post(DEPLOYMENTS, {"name": f"site {uuid.uuid4().hex[:6]}", **where})
    assert made.status_code == 201, made.text
    return made.json()["data"]


def staged(container) -> list[Path]:
    folder = container.releases.root / "staging"
    return list(folder.iterdir()) if folder.exists() else []


def test_a_decompression_bomb_is_refused_early_holding_little_memory(org, container, tmp_path):
    with open("/dev/zero", "rb") as zeros:  # the probe's: one 199 MB file in ~200 KB
        bomb = tar_gz(tmp_path / "bomb.tar.gz", "big.bin", 199 * MIB, zeros)
    assert bomb.stat().st_size < 300_000
    dep = deployment(org)
    resp, peak = traced(lambda: upload(org, dep["id"], bomb))
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "ARCHIVE_BOMB" and err["details"]["field"] == "archive"
    assert "rule" in err["details"] and "fix" in err["details"]
    assert peak < MEMORY_BOUND, f"held {peak / MIB:.1f} MiB"
    assert org.get(f"{DEPLOYMENTS}/{dep['id']}/versions").json()["data"] == []
    assert staged(container) == []


def test_a_large_real_build_streams_through_in_small_pieces(org, container, tmp_path):
    data = os.urandom(24 * MIB)  # incompressible: the upload is as big as what it unpacks to
    (tmp_path / "app.js").write_bytes(data)
    with open(tmp_path / "app.js", "rb") as source:
        build = tar_gz(tmp_path / "build.tar.gz", "app.js", len(data), source)
    del data
    dep = deployment(org)
    key = {"idempotency-key": uuid.uuid4().hex}  # a retry-safe upload is held on disk too
    resp, peak = traced(lambda: upload(org, dep["id"], build, **key))
    assert resp.status_code == 201, resp.text
    assert peak < MEMORY_BOUND, f"held {peak / MIB:.1f} MiB"
    manifest = resp.json()["data"]["version"]["artifact_manifest"]
    assert manifest["file_count"] == 1 and staged(container) == []
    again = upload(org, dep["id"], build, **key)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == resp.json()


def test_the_storage_quota_refuses_with_a_code_and_usage_shows_it(org, container, tmp_path,
                                                                  monkeypatch):
    quota_mb = 258
    monkeypatch.setattr(container, "capacity",
                        dataclasses.replace(container.capacity, storage_quota_mb=quota_mb))
    made = org.post("/api/v1/sandboxes", {"disk_mb": 256})
    assert made.status_code == 201, made.text
    over = org.post("/api/v1/sandboxes", {"disk_mb": 256})
    assert over.status_code == 413, over.text
    err = over.json()["error"]
    assert err["code"] == "STORAGE_QUOTA_EXCEEDED" and err["details"]["field"] == "storage"
    assert err["details"]["available_bytes"] == 2 * MIB and "fix" in err["details"]

    dep = deployment(org)
    payload = os.urandom(3 * MIB)  # more than the 2 MiB left
    big = tar_gz(tmp_path / "big.tar.gz", "big.bin", len(payload), io.BytesIO(payload))
    resp = upload(org, dep["id"], big)
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "STORAGE_QUOTA_EXCEEDED"
    assert org.get(f"{DEPLOYMENTS}/{dep['id']}/versions").json()["data"] == []
    assert staged(container) == []  # nothing half-written

    small = tar_gz(tmp_path / "small.tar.gz", "index.html", 1000, io.BytesIO(os.urandom(1000)))
    assert upload(org, dep["id"], small).status_code == 201
    storage = org.get("/api/v1/usage").json()["data"]["storage"]
    assert storage == {"used_bytes": 256 * MIB + 1000, "quota_bytes": quota_mb * MIB,
                       "available_bytes": 2 * MIB - 1000, "releases_bytes": 1000,
                       "assets_bytes": 0, "sandboxes_bytes": 256 * MIB}

    logo = image("PNG", size=(64, 64))
    assert org.client.put("/api/v1/tenant/branding/logo", content=logo,
                          headers={"content-type": "image/png"}).status_code == 200
    assert org.get("/api/v1/usage").json()["data"]["storage"]["assets_bytes"] == len(logo)
    monkeypatch.setattr(container, "capacity",
                        dataclasses.replace(container.capacity, storage_quota_mb=256))
    full = org.client.put("/api/v1/tenant/branding/logo", content=image("PNG", size=(65, 65)),
                          headers={"content-type": "image/png"})
    assert full.status_code == 413 and full.json()["error"]["code"] == "STORAGE_QUOTA_EXCEEDED"


def _running(token: str) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("parent", ["workspace", "project"])
def test_deleting_a_workspace_or_project_leaves_nothing_behind(org, container, tmp_path, parent):
    ws = org.workspace()
    project = org.project(ws["id"])
    where = {"workspace_id": ws["id"]} if parent == "workspace" else {"project_id": project["id"]}
    sandbox = org.post("/api/v1/sandboxes", where).json()["data"]
    token = str(100000 + int(uuid.uuid4().int % 800000))  # `sleep N` names the process
    started = org.post(f"/api/v1/sandboxes/{sandbox['id']}/processes",
                       {"command": f"sleep {token}"})
    assert started.status_code == 201, started.text
    databases = [org.post("/api/v1/databases", {"engine": engine, **where}).json()["data"]
                 for engine in container.databases.engines()]
    dep = deployment(org, **where)
    content = os.urandom(2000)  # its own bytes: no other version keeps this file
    site = tar_gz(tmp_path / "site.tar.gz", "index.html", len(content), io.BytesIO(content))
    assert upload(org, dep["id"], site).status_code == 201
    blob = container.releases.blob(hashlib.sha256(content).hexdigest())
    assert blob.exists()
    assert _running(token)
    paused = org.post(f"/api/v1/sandboxes/{sandbox['id']}/pause")  # frozen processes end too
    assert paused.status_code in (200, 409), paused.text  # 409: this host can't pause

    path = f"/api/v1/workspaces/{ws['id']}" if parent == "workspace" else \
        f"/api/v1/projects/{project['id']}"
    assert org.delete(path).status_code == 200

    assert not _running(token)
    assert not (container.settings.data_dir / "sandboxes" / sandbox["id"]).exists()
    for made in databases:
        assert not container.databases.exists(made["id"], made["engine"])
    assert not blob.exists()  # its release files went with it
    assert org.get(f"{DEPLOYMENTS}/{dep['id']}").status_code == 404


def test_the_worker_collects_release_files_no_live_version_keeps(org, container, tmp_path):
    from hostplane.worker.runner import JOBS

    content = os.urandom(1000)
    site = tar_gz(tmp_path / "site.tar.gz", "index.html", len(content), io.BytesIO(content))
    assert upload(org, deployment(org)["id"], site).status_code == 201
    kept = container.releases.blob(hashlib.sha256(content).hexdigest())
    hour_ago = os.stat(kept).st_mtime - 2 * 3600
    os.utime(kept, (hour_ago, hour_ago))
    orphans = []
    for age in (hour_ago, None):  # left by a delete whose clean-up failed; an upload in flight
        orphan = container.releases.blob(hashlib.sha256(os.urandom(8)).hexdigest())
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"orphan")
        if age is not None:
            os.utime(orphan, (age, age))
        orphans.append(orphan)
    died = container.releases.root / "staging" / "release-died"
    died.mkdir(parents=True)
    os.utime(died, (hour_ago, hour_ago))

    container.releases.collected_at = 0.0
    assert JOBS["collect_release_files"](container) >= 2
    assert kept.exists() and not orphans[0].exists() and orphans[1].exists()
    assert not died.exists()
    assert JOBS["collect_release_files"](container) == 0  # not again within the hour


def test_files_of_a_version_that_is_not_recorded_go_again(org, container):
    """Another upload may take the room between storing the files and recording the version:
    the second quota check refuses, and the files it stored are deleted with the rollback."""
    from hostplane import errors
    from hostplane.db.helpers import run_hooks
    from hostplane.db.scope import Scope
    from hostplane.resources import versions
    from hostplane.resources.env import Env

    dep = deployment(org)
    content = os.urandom(3 * MIB)
    release = container.releases.add([("big.bin", content)])
    blob = container.releases.blob(hashlib.sha256(content).hexdigest())
    assert blob.exists()
    env = Env(container.platform, container.driver, container.clock.now(), container.resolver,
              container.databases, container.capacity, container.releases)
    session = container.database.session(write=True)
    try:
        with pytest.raises(errors.TooLarge) as refused:
            versions.record_version(Scope(session, org.tenant_id), dep["id"], release, "upload",
                                    None, False, env, 2)  # a 2 MB quota
        assert refused.value.code == "STORAGE_QUOTA_EXCEEDED"
        session.rollback()
        run_hooks(session, committed=False)
    finally:
        session.close()
    assert not blob.exists()
    assert org.get(f"{DEPLOYMENTS}/{dep['id']}/versions").json()["data"] == []


def test_concurrent_creates_cannot_pass_the_quota_together(org, container, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(container, "capacity",
                        dataclasses.replace(container.capacity, storage_quota_mb=3 * 256))
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(lambda _: org.post("/api/v1/sandboxes", {"disk_mb": 256})
                                .status_code, range(8)))
    assert codes == [201] * 3 + [413] * 5, codes
