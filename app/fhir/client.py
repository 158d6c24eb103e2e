"""FHIR R4 REST semantics on top of ``app.fhir.http``: read, search with paging, transaction, metadata.

One ``FhirClient`` per operation, carrying that operation's bearer token and its deadline; the base's
``requests.Session`` is shared (``client_for``). On top of the HTTP layer's guarantees (time budget,
deadline, size cap, same-origin redirects):

* ``Bundle.link[next]`` is followed up to ``page_cap`` pages, a link seen before is a loop, and paging
  links must stay on the base's origin;
* idempotent GETs are retried on 429/502/503/504 with backoff honouring ``Retry-After``, only if the
  wait fits in the deadline;
* statuses are mapped to the typed errors of ``app.fhir.errors``, with the server's OperationOutcome;
* bearer tokens are never logged.

Turning a patient's resources into a record is ``app.fhir.record``'s job.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from app.clinical.assessment import RECORD_TYPES
from app.errors import InvalidInput
from app.fhir.errors import (
    FhirAuthError,
    FhirError,
    FhirInvalidResponse,
    FhirLimitReached,
    FhirNotFound,
    FhirTimeout,
    error_for_status,
)
from app.fhir.http import (
    Deadline,
    Session,
    exchange,
    origin,
    retry_after_seconds,
    safe_url,
    session_for,
    with_query,
)

log = logging.getLogger("spine_auc.fhir.client")

FHIR_JSON = "application/fhir+json"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF_SECONDS = 4.0


class TokenProvider(Protocol):
    """Source of bearer tokens for server-to-server calls (e.g. ``SmartBackendTokenProvider``)."""

    def token(self) -> str: ...


def client_for(base_url: str, **kw: Any) -> FhirClient:
    """A client for one operation on ``base_url`` that reuses the base's cached Session."""
    kw.setdefault("session", session_for(base_url))
    return FhirClient(base_url, **kw)


def _reference_id(reference: str, resource_type: str, base_url: str) -> str | None:
    """The id of a ``<type>/<id>`` reference on our server (relative, or absolute under our base)."""
    ref = reference.strip()
    if "://" in ref:
        base = base_url.rstrip("/") + "/"
        if not ref.startswith(base):
            return None
        ref = ref[len(base) :]
    parts = ref.split("/")
    if len(parts) >= 2 and parts[0] == resource_type and parts[1]:
        return parts[1]
    return None


class FhirClient:
    """A FHIR R4 REST client for one operation (one token, one deadline)."""

    def __init__(
        self,
        base_url: str,
        *,
        bearer_token: str | None = None,
        token_provider: TokenProvider | None = None,
        timeout: float = 5.0,
        deadline: float = 8.0,
        page_cap: int = 50,
        max_response_bytes: int = 20_000_000,
        retries: int = 2,
        page_size: int | None = 100,
        session: Session | None = None,
        max_medication_reads: int = 50,
    ):
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise InvalidInput(f"FHIR base must be an http(s) URL, got {base_url[:200]!r}")
        self.base_url = base_url.rstrip("/")
        self._origin = origin(self.base_url)
        self._bearer_token = bearer_token
        self._token_provider = token_provider
        self.timeout = timeout
        self.deadline_seconds = deadline
        self.page_cap = page_cap
        self.max_response_bytes = max_response_bytes
        self.retries = retries
        self.page_size = page_size
        self._session = session or session_for(self.base_url)
        self.max_medication_reads = max_medication_reads

    def __repr__(self) -> str:  # never shows the token
        return f"FhirClient({self.base_url!r}, timeout={self.timeout}, deadline={self.deadline_seconds})"

    # ------------------------------------------------------------------------------------- public API

    def read(
        self, resource_type: str, resource_id: str, *, deadline: Deadline | None = None
    ) -> dict[str, Any]:
        """``GET [base]/<type>/<id>``; the answer must be that type."""
        _check_token(resource_type, "resource type")
        _check_token(resource_id, "id")
        dl = deadline or Deadline(self.deadline_seconds)
        body = self._get_json(f"{self.base_url}/{resource_type}/{resource_id}", None, dl)
        if body.get("resourceType") != resource_type:
            raise FhirInvalidResponse(
                f"read {resource_type}/{resource_id} returned {body.get('resourceType')!r}, "
                f"not {resource_type}"
            )
        return body

    def search(
        self, resource_type: str, params: Mapping[str, str], *, deadline: Deadline | None = None
    ) -> list[dict[str, Any]]:
        """``GET [base]/<type>?params`` following ``next`` links; resources of all non-outcome entries."""
        _check_token(resource_type, "resource type")
        dl = deadline or Deadline(self.deadline_seconds)
        url = f"{self.base_url}/{resource_type}"
        query: dict[str, str] | None = dict(params)
        seen: set[str] = set()
        resources: list[dict[str, Any]] = []
        pages = 0
        while True:
            pages += 1
            if pages > self.page_cap:
                raise FhirInvalidResponse(f"search {resource_type}: more than {self.page_cap} pages")
            bundle = self._get_json(url, query, dl)
            if bundle.get("resourceType") != "Bundle":
                raise FhirInvalidResponse(
                    f"search {resource_type} returned {bundle.get('resourceType')!r}, not a Bundle"
                )
            resources.extend(_bundle_resources(bundle))
            next_url = _next_link(bundle)
            if next_url is None:
                return resources
            seen.add(with_query(url, query))
            url = urljoin(url, next_url)
            query = None
            if url in seen:
                raise FhirInvalidResponse(f"search {resource_type}: paging loop (a next link repeats a page)")
            if origin(url) != self._origin:
                raise FhirInvalidResponse(
                    f"search {resource_type}: next link points to another host ({safe_url(url)})"
                )

    def transaction(self, bundle: dict[str, Any], *, deadline: Deadline | None = None) -> dict[str, Any]:
        """POST a transaction (or batch) Bundle to the base; not retried (not idempotent in general)."""
        dl = deadline or Deadline(self.deadline_seconds)
        body = self._request("POST", self.base_url, None, dl, json_body=bundle, idempotent=False)
        if body.get("resourceType") != "Bundle":
            raise FhirInvalidResponse(f"transaction returned {body.get('resourceType')!r}, not a Bundle")
        return body

    def capabilities(self, *, deadline: Deadline | None = None) -> dict[str, Any]:
        """``GET [base]/metadata``."""
        body = self._get_json(f"{self.base_url}/metadata", None, deadline or Deadline(self.deadline_seconds))
        if body.get("resourceType") != "CapabilityStatement":
            raise FhirInvalidResponse(
                f"metadata returned {body.get('resourceType')!r}, not a CapabilityStatement"
            )
        return body

    def fetch_patient_record(
        self, patient_id: str, types: Sequence[str] = RECORD_TYPES
    ) -> dict[str, list[dict[str, Any]] | FhirError]:
        """The patient's resources by type, fetched in parallel within one deadline.

        ``Patient`` (if in ``types``) is read; every other type is searched with ``patient=<id>``. A type
        that fails maps to its ``FhirError`` instead of raising. When MedicationStatement or
        MedicationRequest is fetched, Medications they reference that are not contained are read (each
        once) and returned under ``"Medication"`` (contained ones stay where they are; a dangling
        reference, 404, is skipped).
        """
        _check_token(patient_id, "patient id")
        dl = Deadline(self.deadline_seconds)
        wanted = list(dict.fromkeys(t for t in types if t != "Medication"))
        for rtype in wanted:
            _check_token(rtype, "resource type")
        result: dict[str, list[dict[str, Any]] | FhirError] = {}

        def fetch_one(rtype: str) -> list[dict[str, Any]]:
            if rtype == "Patient":
                return [self.read("Patient", patient_id, deadline=dl)]
            params = {"patient": patient_id}
            if self.page_size:
                params["_count"] = str(self.page_size)
            return self.search(rtype, params, deadline=dl)

        fetched = self._run_parallel({t: (fetch_one, t) for t in wanted}, dl)
        result.update((t, fetched[t]) for t in wanted)  # in the order asked, not the order finished

        med_sources = [
            r
            for t in ("MedicationStatement", "MedicationRequest")
            if isinstance(result.get(t), list)
            for r in result[t]  # type: ignore[union-attr]
        ]
        if any(t in wanted for t in ("MedicationStatement", "MedicationRequest")):
            result["Medication"] = self._resolve_medications(med_sources, dl)
        return result

    # ------------------------------------------------------------------------------------ internals

    def _run_parallel(
        self, jobs: Mapping[str, tuple[Any, str]], dl: Deadline
    ) -> dict[str, list[dict[str, Any]] | FhirError]:
        out: dict[str, list[dict[str, Any]] | FhirError] = {}
        if not jobs:
            return out
        pool = ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="fhir-fetch")
        futures: dict[Future[list[dict[str, Any]]], str] = {
            pool.submit(fn, arg): key for key, (fn, arg) in jobs.items()
        }
        try:
            pending = set(futures)
            while pending:
                left = dl.remaining()
                if left <= 0:
                    break
                done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
                for fut in done:
                    key = futures[fut]
                    try:
                        out[key] = fut.result()
                    except FhirError as err:
                        out[key] = err
                    except Exception as exc:  # a bug or an unexpected answer: this type is unknown, no 500
                        log.exception("FHIR fetch of %s failed unexpectedly", key)
                        out[key] = FhirInvalidResponse(f"{key}: unexpected {type(exc).__name__}")
            for fut in pending:
                out[futures[fut]] = FhirTimeout(f"deadline of {dl.seconds:g} s exceeded ({futures[fut]})")
        finally:
            # Late workers end by themselves: every read they make is bounded by the same deadline.
            pool.shutdown(wait=False, cancel_futures=True)
        return out

    def _resolve_medications(
        self, sources: Iterable[dict[str, Any]], dl: Deadline
    ) -> list[dict[str, Any]] | FhirError:
        ids: list[str] = []
        for resource in sources:
            ref = resource.get("medicationReference")
            if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
                continue
            reference = ref["reference"]
            if reference.startswith("#"):
                continue  # contained: already inside the resource
            med_id = _reference_id(reference, "Medication", self.base_url)
            if med_id is None or not _ID_RE.fullmatch(med_id):
                log.info("medicationReference not on this server, not resolved: %.120s", reference)
                continue
            if med_id not in ids:
                ids.append(med_id)
        if not ids:
            return []
        if len(ids) > self.max_medication_reads:
            # Reading a few of them would silently miss the others: referenced Medications are unknown.
            return FhirLimitReached(
                f"{len(ids)} Medication references, more than {self.max_medication_reads} "
                "(MAX_MEDICATION_READS): none was read, referenced medications are unknown"
            )

        def read_med(med_id: str) -> list[dict[str, Any]]:
            try:
                return [self.read("Medication", med_id, deadline=dl)]
            except FhirNotFound:
                log.info("medicationReference Medication/%s: not found on the server", med_id)
                return []

        results = self._run_parallel({i: (read_med, i) for i in ids}, dl)
        meds: list[dict[str, Any]] = []
        for med_id in ids:
            got = results.get(med_id)
            if isinstance(got, FhirError):
                return got
            meds.extend(got or [])
        return meds

    def _get_json(self, url: str, params: Mapping[str, str] | None, dl: Deadline) -> dict[str, Any]:
        return self._request("GET", url, params, dl, idempotent=True)

    def _auth_header(self) -> dict[str, str]:
        token = self._bearer_token
        if token is None and self._token_provider is not None:
            try:
                token = self._token_provider.token()
            except FhirError:
                raise
            except Exception as exc:  # a provider failing is an auth failure, not a crash
                raise FhirAuthError(f"could not obtain an access token: {type(exc).__name__}") from exc
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _request(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        dl: Deadline,
        *,
        json_body: dict[str, Any] | None = None,
        idempotent: bool,
    ) -> dict[str, Any]:
        attempt = 0
        refreshed = False
        headers = {"Accept": FHIR_JSON}
        data: bytes | None = None
        if json_body is not None:
            headers["Content-Type"] = FHIR_JSON
            data = json.dumps(json_body).encode()
        while True:
            reply = exchange(
                self._session,
                method,
                url,
                params=params,
                headers={**headers, **self._auth_header()},
                data=data,
                timeout=self.timeout,
                deadline=dl,
                max_bytes=self.max_response_bytes,
            )
            status, final_url = reply.status, reply.url
            if status < 400:
                return _parse_resource(reply.body, final_url)
            outcome = _maybe_outcome(reply.body)
            error = error_for_status(status, safe_url(final_url), outcome)
            invalidate = getattr(self._token_provider, "invalidate", None)
            if status == 401 and self._bearer_token is None and callable(invalidate) and not refreshed:
                # A cached server-to-server token may have been revoked early: get a new one, once.
                invalidate()
                refreshed = True
                continue
            if not idempotent or status not in RETRY_STATUSES or attempt >= self.retries:
                raise error
            wait_s = retry_after_seconds(reply.headers.get("Retry-After"))
            if wait_s is None:
                wait_s = min(MAX_BACKOFF_SECONDS, 0.25 * (2**attempt))
            if wait_s >= dl.remaining():
                error.message += f" (retry after {wait_s:g} s would pass the deadline)"
                error.args = (error.message,)
                raise error
            log.info("FHIR %s %s: HTTP %d, retrying in %.2f s", method, safe_url(final_url), status, wait_s)
            time.sleep(wait_s)
            attempt += 1


_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{1,63}")


def _check_token(value: str, what: str) -> None:
    """Ids and types go into URL paths: only FHIR's own syntax is accepted (bad input → 400)."""
    pattern = _TYPE_RE if what == "resource type" else _ID_RE
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"invalid FHIR {what}: {str(value)[:80]!r}")


def _parse_resource(body: bytes, url: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FhirInvalidResponse(f"response from {safe_url(url)} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise FhirInvalidResponse(f"response from {safe_url(url)} is not a FHIR resource")
    return data


def _maybe_outcome(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
        return data
    return None


def _bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in bundle.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        search = entry.get("search") if isinstance(entry.get("search"), dict) else {}
        if (search or {}).get("mode") == "outcome":
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            out.append(resource)
    return out


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None
