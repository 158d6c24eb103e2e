"""Scripted misbehaviour for the FHIR client's fault tests, on the shared stub server (``tests.stubserver``).

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

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.stubserver import StubRequest, StubServer

HUGE_BYTES = 30 * 1024 * 1024


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
    "DiagnosticReport": [],
    "Observation": [],
}


class FaultServer(StubServer):
    """The stub server with the scripted faults above on one catch-all route; use as a context manager."""

    def __init__(self) -> None:
        super().__init__()
        self.redirect_target = "http://127.0.0.2:9"  # replaced by tests with another server's origin
        self.route("/", self._dispatch)

    @property
    def origin(self) -> str:
        return self.url

    def base(self, behaviour: str) -> str:
        return f"{self.origin}/{behaviour}"

    def _dispatch(self, req: StubRequest) -> None:
        parts = urlsplit(req.path)
        segs = [s for s in parts.path.split("/") if s]
        behaviour, rest = (segs[0], segs[1:]) if segs else ("", [])
        query = parse_qs(parts.query)
        url = f"{self.origin}{req.path}"
        if behaviour in ("hang", "recordhang") and (behaviour == "hang" or rest[:1] == ["Procedure"]):
            self.stopping.wait(30)
            return
        if behaviour == "latehang":
            if self.stopping.wait(0.6):
                return
            behaviour = "hangbody"
        if behaviour == "cookie":
            data = json.dumps({"resourceType": "Patient", "id": rest[-1] if rest else "x"}).encode()
            req.send_response(200)
            req.send_header("Content-Type", "application/fhir+json")
            req.send_header("Set-Cookie", "sid=user-a-session; Path=/")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
            return
        if behaviour == "hangbody":
            req.send_response(200)
            req.send_header("Content-Type", "application/fhir+json")
            req.send_header("Content-Length", "100")
            req.end_headers()
            req.wfile.flush()
            self.stopping.wait(30)
            return
        if behaviour == "slow":
            req.send_response(200)
            req.send_header("Content-Type", "application/fhir+json")
            req.send_header("Content-Length", "2000")
            req.end_headers()
            for _ in range(2000):
                if self.stopping.wait(0.1):
                    return
                req.wfile.write(b" ")
                req.wfile.flush()
            return
        if behaviour == "error500":
            req.send_json(500, outcome("database on fire", "exception"))
            return
        if behaviour == "unavailable":
            req.send_json(503, outcome("maintenance", "transient"))
            return
        if behaviour == "throttle":
            if self.hits[parts.path] == 1:
                req.send_json(429, outcome("slow down", "throttled"), {"Retry-After": "1"})
                return
            req.send_json(200, {"resourceType": "Patient", "id": rest[-1] if rest else "x"})
            return
        if behaviour == "throttlelong":
            req.send_json(429, outcome("slow down", "throttled"), {"Retry-After": "30"})
            return
        if behaviour == "loop":
            req.send_json(200, searchset([{"resourceType": "Condition", "id": "l1"}], url, next_url=url))
            return
        if behaviour == "endless":
            page = int(query.get("page", ["0"])[0]) + 1
            nxt = f"{self.base('endless')}/Condition?page={page}"
            req.send_json(
                200, searchset([{"resourceType": "Condition", "id": f"e{page}"}], url, next_url=nxt)
            )
            return
        if behaviour == "pages":
            page = int(query.get("page", ["0"])[0])
            items = [{"resourceType": "Condition", "id": f"p{page}-{i}"} for i in range(2)]
            later = f"{self.base('pages')}/Condition?page={page + 1}" if page < 2 else None
            req.send_json(200, searchset(items, url, next_url=later))
            return
        if behaviour == "badjson":
            req.send_raw(200, b'{"resourceType": "Patient", "id": ')
            return
        if behaviour == "notfhir":
            req.send_raw(200, b"[1, 2, 3]")
            return
        if behaviour in ("huge", "hugedeclared"):
            req.send_response(200)
            req.send_header("Content-Type", "application/fhir+json")
            if behaviour == "hugedeclared":
                req.send_header("Content-Length", str(HUGE_BYTES))
            req.end_headers()
            block = b" " * (1024 * 1024)
            for _ in range(HUGE_BYTES // len(block)):
                if self.stopping.is_set():
                    return
                req.wfile.write(block)
            return
        if behaviour == "redirect":
            req.send_response(302)
            req.send_header("Location", f"{self.redirect_target}/ok/{'/'.join(rest)}")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        if behaviour == "sameredirect":
            req.send_response(302)
            req.send_header("Location", f"/ok/{'/'.join(rest)}")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        if behaviour == "oo404":
            req.send_json(404, outcome("Patient/nobody is not known", "not-found"))
            return
        if behaviour == "oo401":
            req.send_json(401, outcome("token expired", "login"))
            return
        if behaviour in ("record", "recordhang"):
            self._record(req, rest, url)
            return
        if behaviour == "ok":
            if len(rest) == 2:
                req.send_json(200, {"resourceType": rest[0], "id": rest[1]})
            else:
                req.send_json(200, searchset([], url))
            return
        req.send_json(404, outcome(f"unknown behaviour {behaviour!r}", "not-found"))

    def _record(self, req: StubRequest, rest: list[str], url: str) -> None:
        if rest == ["Patient", "p1"]:
            req.send_json(200, {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"})
        elif len(rest) == 2 and rest[0] == "Medication" and rest[1] in ("m1", "m2"):
            req.send_json(200, {"resourceType": "Medication", "id": rest[1], "code": {"text": rest[1]}})
        elif rest == ["Device"]:
            req.send_json(500, outcome("Device index broken", "exception"))
        elif len(rest) == 1 and rest[0] in RECORD:
            req.send_json(200, searchset(RECORD[rest[0]], url))
        else:
            req.send_json(404, outcome("not here", "not-found"))
