"""One reusable stub HTTP server on 127.0.0.1 for the tests: routes registered per test.

    def test_x(stub_server):
        stub_server.json("/fhir/Patient/p1", {"resourceType": "Patient", "id": "p1"})
        stub_server.route("/fhir/Condition", lambda req: req.send_json(500, outcome("boom")))
        ... stub_server.url + "/fhir" ...

A route is a path prefix (the longest registered prefix wins) and a handler that gets the request
(``StubRequest``: the ``http.server`` handler with ``send_json`` / ``send_raw`` / ``body`` helpers). Every
request is recorded (method, path, headers, body). A handler that must hang waits on ``server.stopping``,
which is set when the server stops, so teardown is immediate: ``serve_forever`` polls every 10 ms instead
of the default 0.5 s.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubRequest(BaseHTTPRequestHandler):
    """The request as a route handler sees it (``self.server`` is the ``StubServer``'s ``httpd``)."""

    protocol_version = "HTTP/1.0"
    stub: StubServer  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    @property
    def route_path(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        content_type: str = "application/fhir+json",
    ) -> None:
        self.send_raw(status, json.dumps(body).encode(), headers=headers, content_type=content_type)

    def send_raw(
        self,
        status: int,
        data: bytes,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/fhir+json",
        declare_length: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if declare_length:
            self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        self.body = self.read_body() if self.command in ("POST", "PUT") else b""
        self.stub.record(self)
        handler = self.stub.handler_for(self.route_path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if handler is None:
                self.send_json(404, {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]})
            else:
                handler(self)

    do_GET = _handle  # noqa: N815 (http.server naming)
    do_POST = _handle  # noqa: N815
    do_PUT = _handle  # noqa: N815
    do_DELETE = _handle  # noqa: N815


Handler = Callable[[StubRequest], None]


class StubServer:
    """A threaded HTTP server with per-test routes; a context manager (the ``stub_server`` fixture uses it)."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.records: list[Recorded] = []
        self.hits: Counter[str] = Counter()
        self.routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        request_class = type("Request", (StubRequest,), {"stub": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), request_class)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
        )

    @property
    def url(self) -> str:
        """The server's origin, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    # -- routes ----------------------------------------------------------------------------------------

    def route(self, prefix: str, handler: Handler) -> None:
        """Answer every request whose path starts with ``prefix`` (the longest prefix wins)."""
        self.routes[prefix] = handler

    def json(self, path: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Answer ``path`` (and below) with a fixed JSON body."""
        self.route(path, lambda req: req.send_json(status, body, headers))

    def hang(self, prefix: str) -> None:
        """Never answer requests under ``prefix`` (until the server stops)."""
        self.route(prefix, lambda req: self.stopping.wait(30) and None)

    def handler_for(self, path: str) -> Handler | None:
        matches = [p for p in self.routes if path.startswith(p)]
        return self.routes[max(matches, key=len)] if matches else None

    # -- what was asked --------------------------------------------------------------------------------

    def record(self, req: StubRequest) -> None:
        with self._lock:
            self.records.append(Recorded(req.command, req.path, dict(req.headers.items()), req.body))
            self.hits[req.route_path] += 1

    def hits_under(self, prefix: str) -> int:
        with self._lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))

    # -- lifetime --------------------------------------------------------------------------------------

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
