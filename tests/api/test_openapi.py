"""The OpenAPI document as a client generator and a reader meet it (readable operation ids,
described tags, clean schema names, servers), and /docs working without internet access."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hostplane.api.openapi import CAMEL_CASE


def _operations(document: dict) -> list[dict]:
    return [op for methods in document["paths"].values() for op in methods.values()]


def test_operation_ids_are_unique_camel_case_names(anon):
    document = anon.get("/openapi.json").json()
    ids = [op["operationId"] for op in _operations(document)]
    assert len(ids) > 100 and len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    assert [i for i in ids if not CAMEL_CASE.fullmatch(i)] == []
    assert {"createSandbox", "listDeployments", "getSettingsBranding", "patchOrganization",
            "verifyCustomDomain"} <= set(ids)
    by_path = {(path, method): op["operationId"]
               for path, methods in document["paths"].items() for method, op in methods.items()}
    assert by_path[("/api/v1/sandboxes", "post")] == "createSandbox"


def test_tags_schemas_servers_and_descriptions(anon):
    document = anon.get("/openapi.json").json()
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    used = {tag for op in _operations(document) for tag in op.get("tags", ())}
    assert used <= set(described) and all(described.values())
    names = set(document["components"]["schemas"])
    assert not [n for n in names if n.startswith(("Data_", "DataList_", "Body_"))], names
    assert {"SandboxData", "SandboxPage", "Deleted"} <= names
    assert document["servers"][0]["url"] == "/"
    answers = [a for op in _operations(document) for status, a in op["responses"].items()
               if status.startswith("2")]
    assert not [a for a in answers if a["description"] == "Successful Response"]
    exec_op = document["paths"]["/api/v1/sandboxes/{sandbox_id}/exec"]["post"]
    assert "exit_code" in exec_op["description"]
    deleted = document["paths"]["/api/v1/deployments/{deployment_id}"]["delete"]
    assert deleted["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/DeletedData"}
    # What a reader sees names no spec or contract section.
    texts = [op.get("summary", "") + op.get("description", "") for op in _operations(document)]
    assert not [t for t in texts + list(described.values()) if re.search(r"§|contract", t)]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_docs_load_without_internet(anon):
    page = anon.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "swagger-ui" in page.text.lower()
    links = _Links()
    links.feed(page.text)
    assert links.urls and not [u for u in links.urls
                               if re.match(r"[a-z]+://", u) or u.startswith("//")]
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", page.text), page.text
    assert "/openapi.json" in page.text and '"validatorUrl": null' in page.text
    for url in links.urls:
        if url.startswith("/"):
            asset = anon.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
    types = {anon.get(u).headers["content-type"].split(";")[0] for u in links.urls
             if u.startswith("/")}
    assert types == {"text/javascript", "text/css"} or \
        types == {"application/javascript", "text/css"}, types
