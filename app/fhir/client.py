"""FHIR R4 REST client: the only module that imports ``requests``.

One ``requests.Session`` per FHIR base (``client_for``), reused across calls and threads; one
``FhirClient`` per operation, carrying that operation's bearer token and its deadline.

Guarantees:

* every HTTP exchange has a per-call time budget (``timeout``) and the whole operation one deadline
  (``deadline``: all pages, all retries, all parallel searches); bodies are streamed and the clock is
  checked between reads, so a server trickling bytes cannot hold us past either;
* bodies larger than ``max_response_bytes`` are aborted while streaming;
* ``Bundle.link[next]`` is followed up to ``page_cap`` pages, a link seen before is a loop;
* idempotent GETs are retried on 429/502/503/504 with backoff honouring ``Retry-After``, only if the
  wait fits in the deadline;
* redirects are followed only within the base's origin (scheme, host, port) and paging links must stay
  there too, so a bearer token never goes to another host;
* statuses are mapped to the typed ``FhirError`` subclasses below, with the server's OperationOutcome;
* bearer tokens are never logged.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.cookiejar
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from app.errors import InvalidInput, UpstreamError

log = logging.getLogger("spine_auc.fhir_client")

FHIR_JSON = "application/fhir+json"
DEFAULT_TYPES: tuple[str, ...] = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "Procedure",
    "Device",
)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024
MAX_BACKOFF_SECONDS = 4.0


# --------------------------------------------------------------------------------------------- errors


class FhirError(Exception):
    """Base of every FHIR client failure. ``status`` is the upstream HTTP status, if there was one."""

    def __init__(self, message: str, *, status: int | None = None, outcome: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.outcome = outcome

    def to_upstream_error(self) -> UpstreamError:
        """The service-level error (HTTP 502 to our caller) for this failure."""
        return UpstreamError(f"FHIR server: {self.message}")


class FhirTimeout(FhirError):
    """A per-call timeout or the operation's deadline was exceeded."""


class FhirUnavailable(FhirError):
    """The server could not be reached: connection refused, DNS failure, connection reset."""


class FhirNotFound(FhirError):
    """404 or 410."""


class FhirAuthError(FhirError):
    """401 or 403."""


class FhirHTTPError(FhirError):
    """Any other 4xx/5xx (after retries), or a redirect we refuse to follow."""


class FhirInvalidResponse(FhirError):
    """Not JSON, not the FHIR resource expected, too large, a paging loop or too many pages."""


class TokenProvider(Protocol):
    """Source of bearer tokens for server-to-server calls (e.g. ``SmartBackendTokenProvider``)."""

    def token(self) -> str: ...


# ------------------------------------------------------------------------------------------- deadline


class Deadline:
    """One monotonic clock for a whole operation."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def check(self, what: str) -> float:
        left = self.remaining()
        if left <= 0:
            raise FhirTimeout(f"deadline of {self.seconds:g} s exceeded ({what})")
        return left


# ------------------------------------------------------------------------------------ session caching

_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = MAX_REDIRECTS
    # The Session is shared by every caller of one base, each with their own token: never keep cookies,
    # or one user's server-side session could ride along on another user's request.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def session_for(base_url: str) -> requests.Session:
    """The shared Session of one FHIR base (created on first use; thread-safe)."""
    key = base_url.rstrip("/")
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = _new_session()
        return session


def client_for(base_url: str, **kw: Any) -> FhirClient:
    """A client for one operation on ``base_url`` that reuses the base's cached Session."""
    kw.setdefault("session", session_for(base_url))
    return FhirClient(base_url, **kw)


# ---------------------------------------------------------------------------------------------- helpers


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _outcome_message(outcome: dict[str, Any] | None) -> str | None:
    if not outcome:
        return None
    texts: list[str] = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
        text = issue.get("diagnostics") or (details or {}).get("text")
        if isinstance(text, str) and text:
            texts.append(text[:300])
    return "; ".join(texts[:3]) or None


def _error_for_status(status: int, url: str, outcome: dict[str, Any] | None) -> FhirError:
    detail = _outcome_message(outcome)
    message = f"HTTP {status} from {_safe_url(url)}" + (f": {detail}" if detail else "")
    cls: type[FhirError]
    if status in (404, 410):
        cls = FhirNotFound
    elif status in (401, 403):
        cls = FhirAuthError
    else:
        cls = FhirHTTPError
    return cls(message, status=status, outcome=outcome)


def _safe_url(url: str) -> str:
    """The URL without query string (queries can carry identifiers); for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


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


# ----------------------------------------------------------------------------------------------- client


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
        session: requests.Session | None = None,
    ):
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise InvalidInput(f"FHIR base must be an http(s) URL, got {base_url[:200]!r}")
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._bearer_token = bearer_token
        self._token_provider = token_provider
        self.timeout = timeout
        self.deadline_seconds = deadline
        self.page_cap = page_cap
        self.max_response_bytes = max_response_bytes
        self.retries = retries
        self.page_size = page_size
        self._session = session or session_for(self.base_url)

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
            seen.add(self._page_key(url, query))
            url = urljoin(url, next_url)
            query = None
            if url in seen:
                raise FhirInvalidResponse(f"search {resource_type}: paging loop (a next link repeats a page)")
            if _origin(url) != self._origin:
                raise FhirInvalidResponse(
                    f"search {resource_type}: next link points to another host ({_safe_url(url)})"
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
        self, patient_id: str, types: Sequence[str] = DEFAULT_TYPES
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

    def _page_key(self, url: str, query: Mapping[str, str] | None) -> str:
        if not query:
            return url
        return requests.Request("GET", url, params=dict(query)).prepare().url or url

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
        while True:
            status, headers, body, final_url = self._exchange(method, url, params, dl, json_body)
            if status < 400:
                return _parse_resource(body, final_url)
            outcome = _maybe_outcome(body)
            error = _error_for_status(status, final_url, outcome)
            invalidate = getattr(self._token_provider, "invalidate", None)
            if status == 401 and self._bearer_token is None and callable(invalidate) and not refreshed:
                # A cached server-to-server token may have been revoked early: get a new one, once.
                invalidate()
                refreshed = True
                continue
            if not idempotent or status not in RETRY_STATUSES or attempt >= self.retries:
                raise error
            wait_s = _retry_after_seconds(headers.get("Retry-After"))
            if wait_s is None:
                wait_s = min(MAX_BACKOFF_SECONDS, 0.25 * (2**attempt))
            if wait_s >= dl.remaining():
                error.message += f" (retry after {wait_s:g} s would pass the deadline)"
                error.args = (error.message,)
                raise error
            log.info("FHIR %s %s: HTTP %d, retrying in %.2f s", method, _safe_url(final_url), status, wait_s)
            time.sleep(wait_s)
            attempt += 1

    def _exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        dl: Deadline,
        json_body: dict[str, Any] | None,
    ) -> tuple[int, Mapping[str, str], bytes, str]:
        """One HTTP exchange, following same-origin redirects; returns status, headers, body, final URL."""
        call_expires = time.monotonic() + self.timeout
        headers = {"Accept": FHIR_JSON, **self._auth_header()}
        data: bytes | None = None
        if json_body is not None:
            headers["Content-Type"] = FHIR_JSON
            data = json.dumps(json_body).encode()
        current, current_params = url, params
        for _hop in range(MAX_REDIRECTS + 1):
            if _origin(current) != self._origin:
                raise FhirHTTPError(f"refused to contact another host: {_safe_url(current)}")
            left = min(call_expires - time.monotonic(), dl.check(f"{method} {_safe_url(current)}"))
            if left <= 0:
                raise FhirTimeout(f"timeout of {self.timeout:g} s exceeded ({method} {_safe_url(current)})")
            started = time.monotonic()
            try:
                resp = self._session.request(
                    method,
                    current,
                    params=current_params,
                    data=data,
                    headers=headers,
                    timeout=(left, left),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.exceptions.Timeout as exc:
                raise self._timeout_error(method, current, dl) from exc
            except requests.exceptions.ConnectionError as exc:
                if dl.remaining() <= 0 or call_expires - time.monotonic() <= 0:
                    raise self._timeout_error(method, current, dl) from exc
                raise FhirUnavailable(f"cannot reach {_safe_url(current)}: {_reason(exc)}") from exc
            except requests.exceptions.RequestException as exc:
                raise FhirUnavailable(f"{method} {_safe_url(current)} failed: {_reason(exc)}") from exc
            with resp:
                final_url = resp.url or current
                if resp.is_redirect:
                    location = resp.headers.get("Location", "")
                    target = urljoin(final_url, location)
                    if _origin(target) != self._origin:
                        raise FhirHTTPError(
                            f"HTTP {resp.status_code} redirect to another host refused ({_safe_url(target)})",
                            status=resp.status_code,
                        )
                    if resp.status_code in (301, 302, 303) and method != "GET":
                        raise FhirHTTPError(
                            f"HTTP {resp.status_code} redirect of a {method} refused", status=resp.status_code
                        )
                    current, current_params = target, None
                    continue
                body = self._read_body(resp, min(call_expires, dl.expires), method, final_url, dl)
                log.debug(
                    "FHIR %s %s -> %d (%d bytes, %.0f ms)",
                    method,
                    _safe_url(final_url),
                    resp.status_code,
                    len(body),
                    (time.monotonic() - started) * 1000,
                )
                return resp.status_code, resp.headers, body, final_url
        raise FhirHTTPError(f"more than {MAX_REDIRECTS} redirects from {_safe_url(url)}")

    def _timeout_error(self, method: str, url: str, dl: Deadline) -> FhirTimeout:
        if dl.remaining() <= 0:
            return FhirTimeout(f"deadline of {dl.seconds:g} s exceeded ({method} {_safe_url(url)})")
        return FhirTimeout(f"timeout of {self.timeout:g} s exceeded ({method} {_safe_url(url)})")

    def _read_body(
        self, resp: requests.Response, expires: float, method: str, url: str, dl: Deadline
    ) -> bytes:
        """Stream the body, enforcing the size limit and the time budget between reads."""
        return _read_limited(
            resp, expires, self.max_response_bytes, url, lambda: self._timeout_error(method, url, dl)
        )


def _read_limited(
    resp: requests.Response, expires: float, limit: int, url: str, timeout_error: Callable[[], FhirTimeout]
) -> bytes:
    """Read a streamed body in chunks: abort past ``limit`` bytes or when the monotonic ``expires`` passes."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FhirInvalidResponse(
            f"response from {_safe_url(url)} too large: {int(declared)} bytes > limit {limit}"
        )
    raw = resp.raw
    chunks: list[bytes] = []
    total = 0
    while True:
        left = expires - time.monotonic()
        if left <= 0:
            raise timeout_error()
        _set_read_timeout(raw, left)
        try:
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        except Exception as exc:  # urllib3 read timeouts / protocol errors, decoding errors
            if expires - time.monotonic() <= 0.05 or "timed out" in str(exc).lower():
                raise timeout_error() from exc
            raise FhirUnavailable(f"reading {_safe_url(url)} failed: {_reason(exc)}") from exc
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise FhirInvalidResponse(
                f"response from {_safe_url(url)} too large: over the limit of {limit} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _set_read_timeout(raw: Any, seconds: float) -> None:
    """Shrink the socket timeout of a streaming response so one read cannot outlast the time budget."""
    sock = None
    conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    if conn is not None:
        sock = getattr(conn, "sock", None)
    if sock is None:
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(max(0.01, seconds))


def _reason(exc: BaseException) -> str:
    """A short reason (the OS error when there is one), without URLs' query strings or headers."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if found:
        return found.group(0).strip()
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text[:200]


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
        raise FhirInvalidResponse(f"response from {_safe_url(url)} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise FhirInvalidResponse(f"response from {_safe_url(url)} is not a FHIR resource")
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


# ------------------------------------------------------------------------------------ token endpoint


def post_form(
    url: str, form: Mapping[str, str], *, timeout: float = 5.0, max_response_bytes: int = 1_000_000
) -> dict[str, Any]:
    """POST an ``application/x-www-form-urlencoded`` body and return the JSON object answer.

    Used for OAuth token endpoints (``app.fhir.smart_backend``) so that only this module imports requests.
    No redirects are followed; errors map to the ``FhirError`` types (401/403/400 → ``FhirAuthError``).
    """
    session = session_for(url)
    expires = time.monotonic() + timeout
    try:
        resp = session.post(
            url,
            data=dict(form),
            headers={"Accept": "application/json"},
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        )
    except requests.exceptions.Timeout as exc:
        raise FhirTimeout(f"timeout of {timeout:g} s exceeded (POST {_safe_url(url)})") from exc
    except requests.exceptions.RequestException as exc:
        raise FhirUnavailable(f"cannot reach {_safe_url(url)}: {_reason(exc)}") from exc
    with resp:
        body = _read_limited(
            resp,
            expires,
            max_response_bytes,
            url,
            lambda: FhirTimeout(f"timeout of {timeout:g} s exceeded (POST {_safe_url(url)})"),
        )
        try:
            data = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError):
            data = None
        if resp.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            message = f"HTTP {resp.status_code} from {_safe_url(url)}" + (f": {error}" if error else "")
            cls: type[FhirError] = FhirAuthError if resp.status_code in (400, 401, 403) else FhirHTTPError
            raise cls(message, status=resp.status_code)
        if resp.is_redirect:
            raise FhirHTTPError(
                f"HTTP {resp.status_code} redirect refused ({_safe_url(url)})", status=resp.status_code
            )
        if not isinstance(data, dict):
            raise FhirInvalidResponse(f"response from {_safe_url(url)} is not a JSON object")
        return data


def flatten_patient_record(
    result: Mapping[str, list[dict[str, Any]] | FhirError],
) -> tuple[list[dict[str, Any]], set[str], list[str]]:
    """``fetch_patient_record``'s answer as (resources, unavailable types, issues)."""
    resources: list[dict[str, Any]] = []
    unavailable: set[str] = set()
    issues: list[str] = []
    for rtype, got in result.items():
        if isinstance(got, FhirError):
            unavailable.add(rtype)
            issues.append(f"{rtype}: {got.message}")
        else:
            resources.extend(got)
    return resources, unavailable, issues
