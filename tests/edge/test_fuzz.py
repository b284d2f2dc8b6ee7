"""Whatever a client sends the edge, it answers with a page of its own (never a 500, never a
provider's name), and never serves one organization's resource on another's host."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTS = st.one_of(
    st.text(min_size=0, max_size=80),
    st.from_regex(r"[0-9]{1,6}-[a-z0-9-]{1,20}\.sandbox\.miosa\.ai(:[0-9]{1,5})?", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,20}\.[a-z0-9-]{1,20}\.miosa\.app\.?", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,20}\.computer\.miosa\.ai", fullmatch=True),
)
PATHS = st.from_regex(r"/[\x21-\x7e]{0,60}", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(host=HOSTS, path=PATHS, html=st.booleans(),
       method=st.sampled_from(["GET", "HEAD", "POST", "DELETE", "OPTIONS"]))
def test_any_host_and_path_get_an_answer_of_the_edge(edge_url, host, path, html, method):
    try:
        headers = {"Host": host, "Accept": "text/html" if html else "application/json"}
        resp = httpx.request(method, edge_url + path, headers=headers, timeout=10)
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
        return  # the client itself refuses to send it
    assert resp.status_code != 500, resp.text
    assert resp.status_code in (400, 404, 405, 410, 503), (host, path, resp.status_code)
    assert not {"server", "x-powered-by", "via"} & set(resp.headers)
    assert "uvicorn" not in resp.text.lower() and "traceback" not in resp.text.lower()
