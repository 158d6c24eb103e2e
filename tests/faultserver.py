"""A small misbehaving HTTP server on 127.0.0.1 for the FHIR client's fault tests.

The first path segment picks the behaviour, so ``server.base("hang")`` is a FHIR base whose every request
hangs. Every request is recorded (method, path, headers) so tests can assert what was (not) sent.

Behaviours:
  ok            FHIR answers: ``Patient/<id>`` read, ``<Type>?...`` an empty searchset
  hang          never answers (until the server stops)
  hangbody      sends headers, then never the body
  latehang      waits 0.6 s, sends headers, then never the body
  cookie        a Patient, with a ``Set-Cookie`` header
  slow          a 2,000-byte body trickled one byte every 0.1 s
  error500      500 with an OperationOutcome
  unavailable   503 every time (no Retry-After)
  throttle      429 with ``Retry-After: 1`` on the first request of each path, then a Patient
  throttlelong  429 with ``Retry-After: 30`` every time
  loop          a searchset whose ``next`` link is the page itself
  endless       a searchset whose ``next`` link is always a new page (page=N+1)
  pages         three pages of Conditions, two per page
  badjson       200 with a body that is not JSON
  notfhir       200 with JSON that is not a FHIR resource
  huge          a 30 MB body without Content-Length (close-delimited)
  hugedeclared  a 30 MB body with Content-Length
  redirect      302 to the same path on ``redirect_target`` (another origin)
  sameredirect  302 to the same path under ``/ok`` (same origin)
  oo404         404 with an OperationOutcome
  oo401         401 with an OperationOutcome
  record        a small patient record; ``Device`` searches fail with 500; Medications m1, m2
  recordhang    like ``record`` but ``Procedure`` searches hang
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HUGE_BYTES = 30 * 1024 * 1024


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


def outcome(text: str, code: str = "processing") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def searchset(resources: list[dict[str, Any]], self_url: str, next_url: str | None = None) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": links,
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def _med_statement(sid: str, reference: str, contained: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": sid,
        "status": "active",
        "medicationReference": {"reference": reference},
        "subject": {"reference": "Patient/p1"},
    }
    if contained:
        res["contained"] = contained
    return res


RECORD: dict[str, list[dict[str, Any]]] = {
    "Condition": [
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.50"}]},
        }
    ],
    "MedicationStatement": [
        _med_statement("ms1", "Medication/m1"),
        _med_statement("ms2", "Medication/m1"),
        _med_statement(
            "ms3", "#cm", [{"resourceType": "Medication", "id": "cm", "code": {"text": "naproxen"}}]
        ),
    ],
    "MedicationRequest": [
        {
            "resourceType": "MedicationRequest",
            "id": "mr1",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": "Medication/m2"},
            "subject": {"reference": "Patient/p1"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr2",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": "Medication/m1"},
            "subject": {"reference": "Patient/p1"},
        },
    ],
    "Procedure": [],
}


class FaultServer:
    """Threaded HTTP server with scripted faults; use as a context manager."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.records: list[Recorded] = []
        self.hits: Counter[str] = Counter()
        self.redirect_target = "http://127.0.0.2:9"  # replaced by tests with another server's origin
        self._lock = threading.Lock()
        handler = _make_handler(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="faultserver", daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base(self, behaviour: str) -> str:
        return f"{self.origin}/{behaviour}"

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.records.append(Recorded(handler.command, handler.path, dict(handler.headers.items())))
            self.hits[urlsplit(handler.path).path] += 1

    def hits_under(self, prefix: str) -> int:
        with self._lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            server.record(self)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._dispatch()

        do_POST = do_GET  # noqa: N815

        # ------------------------------------------------------------------------------- helpers
        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _raw(self, status: int, data: bytes, *, declare_length: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            if declare_length:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            segs = [s for s in parts.path.split("/") if s]
            behaviour, rest = (segs[0], segs[1:]) if segs else ("", [])
            query = parse_qs(parts.query)
            url = f"{server.origin}{self.path}"
            if behaviour in ("hang", "recordhang") and (behaviour == "hang" or rest[:1] == ["Procedure"]):
                server.stopping.wait(30)
                return
            if behaviour == "latehang":
                if server.stopping.wait(0.6):
                    return
                behaviour = "hangbody"
            if behaviour == "cookie":
                data = json.dumps({"resourceType": "Patient", "id": rest[-1] if rest else "x"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Set-Cookie", "sid=user-a-session; Path=/")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if behaviour == "hangbody":
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.flush()
                server.stopping.wait(30)
                return
            if behaviour == "slow":
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", "2000")
                self.end_headers()
                for _ in range(2000):
                    if server.stopping.wait(0.1):
                        return
                    self.wfile.write(b" ")
                    self.wfile.flush()
                return
            if behaviour == "error500":
                self._json(500, outcome("database on fire", "exception"))
                return
            if behaviour == "unavailable":
                self._json(503, outcome("maintenance", "transient"))
                return
            if behaviour == "throttle":
                if server.hits[parts.path] == 1:
                    self._json(429, outcome("slow down", "throttled"), {"Retry-After": "1"})
                    return
                self._json(200, {"resourceType": "Patient", "id": rest[-1] if rest else "x"})
                return
            if behaviour == "throttlelong":
                self._json(429, outcome("slow down", "throttled"), {"Retry-After": "30"})
                return
            if behaviour == "loop":
                self._json(200, searchset([{"resourceType": "Condition", "id": "l1"}], url, next_url=url))
                return
            if behaviour == "endless":
                page = int(query.get("page", ["0"])[0]) + 1
                nxt = f"{server.base('endless')}/Condition?page={page}"
                self._json(
                    200, searchset([{"resourceType": "Condition", "id": f"e{page}"}], url, next_url=nxt)
                )
                return
            if behaviour == "pages":
                page = int(query.get("page", ["0"])[0])
                items = [{"resourceType": "Condition", "id": f"p{page}-{i}"} for i in range(2)]
                later = f"{server.base('pages')}/Condition?page={page + 1}" if page < 2 else None
                self._json(200, searchset(items, url, next_url=later))
                return
            if behaviour == "badjson":
                self._raw(200, b'{"resourceType": "Patient", "id": ')
                return
            if behaviour == "notfhir":
                self._raw(200, b"[1, 2, 3]")
                return
            if behaviour in ("huge", "hugedeclared"):
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                if behaviour == "hugedeclared":
                    self.send_header("Content-Length", str(HUGE_BYTES))
                self.end_headers()
                block = b" " * (1024 * 1024)
                for _ in range(HUGE_BYTES // len(block)):
                    if server.stopping.is_set():
                        return
                    self.wfile.write(block)
                return
            if behaviour == "redirect":
                self.send_response(302)
                self.send_header("Location", f"{server.redirect_target}/ok/{'/'.join(rest)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if behaviour == "sameredirect":
                self.send_response(302)
                self.send_header("Location", f"/ok/{'/'.join(rest)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if behaviour == "oo404":
                self._json(404, outcome("Patient/nobody is not known", "not-found"))
                return
            if behaviour == "oo401":
                self._json(401, outcome("token expired", "login"))
                return
            if behaviour in ("record", "recordhang"):
                self._record(rest, url)
                return
            if behaviour == "ok":
                if len(rest) == 2:
                    self._json(200, {"resourceType": rest[0], "id": rest[1]})
                else:
                    self._json(200, searchset([], url))
                return
            self._json(404, outcome(f"unknown behaviour {behaviour!r}", "not-found"))

        def _record(self, rest: list[str], url: str) -> None:
            if rest == ["Patient", "p1"]:
                self._json(200, {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"})
            elif len(rest) == 2 and rest[0] == "Medication" and rest[1] in ("m1", "m2"):
                self._json(200, {"resourceType": "Medication", "id": rest[1], "code": {"text": rest[1]}})
            elif rest == ["Device"]:
                self._json(500, outcome("Device index broken", "exception"))
            elif len(rest) == 1 and rest[0] in RECORD:
                self._json(200, searchset(RECORD[rest[0]], url))
            else:
                self._json(404, outcome("not here", "not-found"))

    return Handler
