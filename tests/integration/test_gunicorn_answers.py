"""Through the real ``spine-auc serve`` (gunicorn, 2 workers): the app's own 414/431 OperationOutcomes,
gunicorn's beyond its limits (documented in README), metrics aggregated across workers, private files."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.serve_cli import Served


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with Served(tmp_path_factory.mktemp("serve") / "data", workers=2) as served:
        yield served


def _raw_get(server: Served, target: str, headers: str = "") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def test_a_long_uri_gets_the_apps_414_operation_outcome(server: Served) -> None:
    status, body = _raw_get(server, "/healthz?x=" + "a" * 6000)  # over our 4096, under gunicorn's 8190
    assert status == 414
    assert b'"resourceType":"OperationOutcome"' in body


def test_a_long_header_gets_the_apps_431_operation_outcome(server: Served) -> None:
    status, body = _raw_get(server, "/healthz", f"X-Big: {'b' * 12000}\r\n")  # over 8192, under 16380
    assert status == 431
    assert b'"resourceType":"OperationOutcome"' in body


def test_beyond_gunicorns_own_limit_gunicorn_answers_as_documented(server: Served) -> None:
    status, body = _raw_get(server, "/healthz?x=" + "a" * 9000)
    assert status == 414  # gunicorn's own plain-text page, not an OperationOutcome (README)
    assert b"OperationOutcome" not in body


def test_metrics_add_up_every_workers_requests(server: Served) -> None:
    session = requests.Session()
    for _ in range(40):
        assert session.get(server.url + "/healthz", headers={"Connection": "close"}, timeout=10).ok
    text = requests.get(server.url + "/metrics", timeout=10).text
    total = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "spine_auc_http_requests_total" and sample.labels.get("route") == "/healthz"
    )
    assert total >= 40  # both workers' counts (a single worker would show about half)
    metrics_dir = server.data_dir / "metrics"
    assert stat.S_IMODE(metrics_dir.stat().st_mode) == 0o700
    assert len(list(metrics_dir.glob("*.db"))) >= 2


def test_the_data_directory_and_database_are_private(server: Served) -> None:
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    for name in ("spine-auc.db", "spine-auc.db-wal", "spine-auc.db-shm"):
        assert stat.S_IMODE((server.data_dir / name).stat().st_mode) == 0o600, name


def test_readyz_answers_through_gunicorn(server: Served) -> None:
    response = requests.get(server.url + "/readyz", timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "ready"
