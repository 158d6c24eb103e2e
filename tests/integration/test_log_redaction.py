"""The real server's logs (gunicorn access and error logs included) are JSON lines without secrets (#12 f. 4/5).

Starts ``spine-auc serve`` on a free loopback port and speaks real HTTP to it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.serve import Served, serve
from tests.jwt_keys import KeyPair, api_claims

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
QUERY_SECRET = "query-secret-5f2c9e"
HEADER_SECRET = "header-secret-8d41a7"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = serve(tmp_path_factory.mktemp("logs"), {}, cwd=REPO)
    yield running
    running.stop()


def raw_request(url: str, request: bytes) -> None:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        sock.recv(65536)


def test_no_token_or_query_string_reaches_any_log_line(served: Served) -> None:
    jwt_secret = KeyPair("ES384").sign(api_claims("https://auth.example.org", served.url, "x"))
    refused = requests.get(
        served.url + f"/api/v1/consultations?patient=Patient/p1&access_token={QUERY_SECRET}",
        headers={"Authorization": f"Bearer {HEADER_SECRET}"},
        timeout=10,
    )
    assert refused.status_code == 401
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
    assert requests.get(served.url + f"/healthz?access_token={jwt_secret}", timeout=10).status_code == 401
    assert requests.get(
        served.url + "/api/v1/consultations?patient=Patient/p1",
        headers={"Authorization": f"Basic {HEADER_SECRET}"},
        timeout=10,
    ).status_code in (200, 401)
    # A request gunicorn itself rejects (bad header line) still leaves no secret behind.
    raw_request(
        served.url,
        f"GET /cds-services?access_token={QUERY_SECRET} HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".encode(),
    )
    served.stop()  # flushes every worker's output

    text = served.logs()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        entry = json.loads(line)  # every line, gunicorn's own included, is one JSON object
        assert isinstance(entry, dict) and {"ts", "level", "logger", "msg"} <= entry.keys()
    for secret in (QUERY_SECRET, HEADER_SECRET, jwt_secret, jwt_secret.split(".")[2]):
        assert secret not in text
    access = [json.loads(line) for line in lines if json.loads(line)["logger"] == "gunicorn.access"]
    statuses = {(e["http"]["path"], e["http"]["status"]) for e in access}
    assert ("/api/v1/consultations", 401) in statuses and ("/healthz", 200) in statuses
    assert all(e["http"]["query"] in (None, "[redacted]") for e in access)
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "gunicorn.error" for e in entries)
    # The embedded default (no issuers, loopback) says at start that the API is open.
    assert any(e["level"] == "WARNING" and "OPEN MODE" in e["msg"] for e in entries)
