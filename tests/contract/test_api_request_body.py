"""``read_json_body``: media types, the size limit (declared and chunked), JSON errors with positions.

Exercised through a real Flask app and, for chunked bodies, a real HTTP server (werkzeug) on 127.0.0.1,
because the Flask test client cannot send a chunked body without a Content-Length.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from app.web import handlers as web_errors
from app.web.body import read_json_body

LIMIT = 1000


def _make_app() -> Flask:
    app = Flask("request_body_test")
    web_errors.register(app)

    @app.post("/echo")
    def echo() -> Any:
        return jsonify({"got": read_json_body(request, LIMIT)})

    return app


@pytest.fixture()
def client() -> Any:
    return _make_app().test_client()


@pytest.fixture(scope="module")
def live_port() -> Iterator[int]:
    server = make_server("127.0.0.1", 0, _make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(5)


def _outcome_text(response: Any) -> str:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/fhir+json", "application/fhir+json; charset=utf-8", "Application/JSON"],
)
def test_json_media_types_are_accepted(client: Any, content_type: str) -> None:
    response = client.post("/echo", data='{"a": [1, 2]}', headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert response.get_json() == {"got": {"a": [1, 2]}}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_other_media_types_are_415(client: Any, content_type: str) -> None:
    response = client.post("/echo", data="{}", headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert content_type.split(";")[0] in _outcome_text(response)


def test_missing_content_type_is_415(client: Any) -> None:
    response = client.post("/echo", data="{}")
    assert response.status_code == 415
    assert "Content-Type" in _outcome_text(response)


def test_non_utf8_charset_is_415(client: Any) -> None:
    response = client.post("/echo", data="{}", headers={"Content-Type": "application/json; charset=latin-1"})
    assert response.status_code == 415
    assert "latin-1" in _outcome_text(response)


def test_invalid_json_names_line_and_column(client: Any) -> None:
    response = client.post("/echo", data='{\n  "a": 1,\n  "b": }', content_type="application/json")
    assert response.status_code == 400
    text = _outcome_text(response)
    assert "not valid JSON" in text
    assert "line 3 column 8" in text


def test_empty_body_is_400(client: Any) -> None:
    response = client.post("/echo", data="", content_type="application/json")
    assert response.status_code == 400
    assert "empty" in _outcome_text(response)


def test_invalid_utf8_is_400(client: Any) -> None:
    response = client.post("/echo", data=b'{"a": "\xff"}', content_type="application/json")
    assert response.status_code == 400
    assert "UTF-8" in _outcome_text(response)


def test_body_at_the_limit_is_read(client: Any) -> None:
    body = '{"a": "' + "x" * (LIMIT - 9) + '"}'
    assert len(body) == LIMIT
    response = client.post("/echo", data=body, content_type="application/json")
    assert response.status_code == 200


def test_declared_length_over_the_limit_is_413(client: Any) -> None:
    body = '{"a": "' + "x" * LIMIT + '"}'
    response = client.post("/echo", data=body, content_type="application/json")
    assert response.status_code == 413
    assert f"limit of {LIMIT} bytes" in _outcome_text(response)


def _post_chunked(port: int, chunks: list[bytes]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("POST", "/echo")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for chunk in chunks:
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_chunked_body_under_the_limit_is_read(live_port: int) -> None:
    status, body = _post_chunked(live_port, [b'{"a": ', b'"chunked"}'])
    assert status == 200, body
    assert b'"chunked"' in body


def test_chunked_body_over_the_limit_is_413_without_content_length(live_port: int) -> None:
    status, body = _post_chunked(live_port, [b'{"a": "', b"x" * 600, b"y" * 600, b'"}'])
    assert status == 413, body
    assert b"OperationOutcome" in body
    assert b"exceeds the limit" in body
