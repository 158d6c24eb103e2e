"""The one outbound HTTP layer: the only module that imports ``requests``.

Every call made through it has:

* a per-call time budget and, optionally, an operation ``Deadline``; bodies are streamed and the clock is
  checked between reads (the socket timeout shrinks to what is left), so a server trickling bytes cannot
  hold us past either;
* a size cap: bodies larger than ``max_bytes`` are aborted while streaming;
* redirects followed only within the URL's origin (scheme, host, port) and only up to ``max_redirects``,
  so a bearer token never goes to another host;
* one ``requests.Session`` per base URL (``session_for``), shared across calls and threads, keeping no
  cookies.

Failures raise the typed errors of ``app.fhir.errors``. Used by the FHIR client, the SMART backend
token request and the CDS Hooks key-set fetch.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import http.cookiejar
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from app.fhir.errors import (
    FhirAuthError,
    FhirError,
    FhirHTTPError,
    FhirInvalidResponse,
    FhirTimeout,
    FhirUnavailable,
)

log = logging.getLogger("spine_auc.fhir.http")

MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024

Session = requests.Session  # for type hints elsewhere, without importing requests there


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


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, its body read in full (within the limits)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


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
    """The shared Session of one base URL (created on first use; thread-safe)."""
    key = base_url.rstrip("/")
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = _new_session()
        return session


# -------------------------------------------------------------------------------------------- helpers


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, lower-cased, with the scheme's default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def safe_url(url: str) -> str:
    """The URL without query string (queries can carry identifiers); for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def with_query(url: str, params: Mapping[str, str] | None) -> str:
    """``url`` with ``params`` encoded the way a request would send them."""
    if not params:
        return url
    return requests.Request("GET", url, params=dict(params)).prepare().url or url


def retry_after_seconds(value: str | None) -> float | None:
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


def reason(exc: BaseException) -> str:
    """A short reason (the OS error when there is one), without URLs' query strings or headers."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if found:
        return found.group(0).strip()
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text[:200]


# ------------------------------------------------------------------------------------------ exchanges


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    data: bytes | Mapping[str, str] | None = None,
    timeout: float,
    deadline: Deadline | None = None,
    max_bytes: int,
    max_redirects: int = MAX_REDIRECTS,
) -> Reply:
    """One HTTP exchange, following up to ``max_redirects`` redirects within ``url``'s origin.

    ``timeout`` bounds this exchange (all its hops and reads), ``deadline`` the operation it is part of.
    """
    home = origin(url)
    call_expires = time.monotonic() + timeout
    expires = min(call_expires, deadline.expires) if deadline else call_expires

    def timeout_error(target: str) -> FhirTimeout:
        if deadline is not None and deadline.remaining() <= 0:
            return FhirTimeout(f"deadline of {deadline.seconds:g} s exceeded ({method} {safe_url(target)})")
        return FhirTimeout(f"timeout of {timeout:g} s exceeded ({method} {safe_url(target)})")

    current, current_params = url, params
    for _hop in range(max_redirects + 1):
        if origin(current) != home:
            raise FhirHTTPError(f"refused to contact another host: {safe_url(current)}")
        if deadline is not None:
            deadline.check(f"{method} {safe_url(current)}")
        left = expires - time.monotonic()
        if left <= 0:
            raise FhirTimeout(f"timeout of {timeout:g} s exceeded ({method} {safe_url(current)})")
        started = time.monotonic()
        try:
            resp = session.request(
                method,
                current,
                params=current_params,
                data=data,
                headers=dict(headers or {}),
                timeout=(left, left),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.Timeout as exc:
            raise timeout_error(current) from exc
        except requests.exceptions.ConnectionError as exc:
            if expires - time.monotonic() <= 0:
                raise timeout_error(current) from exc
            raise FhirUnavailable(f"cannot reach {safe_url(current)}: {reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise FhirUnavailable(f"{method} {safe_url(current)} failed: {reason(exc)}") from exc
        with resp:
            final_url = resp.url or current
            if resp.is_redirect:
                target = urljoin(final_url, resp.headers.get("Location", ""))
                if max_redirects == 0:
                    raise FhirHTTPError(
                        f"HTTP {resp.status_code} redirect refused ({safe_url(final_url)})",
                        status=resp.status_code,
                    )
                if origin(target) != home:
                    raise FhirHTTPError(
                        f"HTTP {resp.status_code} redirect to another host refused ({safe_url(target)})",
                        status=resp.status_code,
                    )
                if resp.status_code in (301, 302, 303) and method != "GET":
                    raise FhirHTTPError(
                        f"HTTP {resp.status_code} redirect of a {method} refused", status=resp.status_code
                    )
                current, current_params = target, None
                continue
            body = read_limited(
                resp, expires, max_bytes, final_url, functools.partial(timeout_error, final_url)
            )
            log.debug(
                "HTTP %s %s -> %d (%d bytes, %.0f ms)",
                method,
                safe_url(final_url),
                resp.status_code,
                len(body),
                (time.monotonic() - started) * 1000,
            )
            return Reply(resp.status_code, resp.headers, body, final_url)
    raise FhirHTTPError(f"more than {max_redirects} redirects from {safe_url(url)}")


def read_limited(
    resp: requests.Response, expires: float, limit: int, url: str, timeout_error: Callable[[], FhirTimeout]
) -> bytes:
    """Read a streamed body in chunks: abort past ``limit`` bytes or when the monotonic ``expires`` passes."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FhirInvalidResponse(
            f"response from {safe_url(url)} too large: {int(declared)} bytes > limit {limit}"
        )
    raw = resp.raw
    chunks: list[bytes] = []
    total = 0
    while True:
        left = expires - time.monotonic()
        if left <= 0:
            raise timeout_error()
        _shrink_read_timeout(raw, left)
        try:
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            raise timeout_error() from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # protocol, decoding, connection errors
            if expires - time.monotonic() <= 0.05:
                raise timeout_error() from exc
            raise FhirUnavailable(f"reading {safe_url(url)} failed: {reason(exc)}") from exc
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise FhirInvalidResponse(
                f"response from {safe_url(url)} too large: over the limit of {limit} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _shrink_read_timeout(raw: Any, seconds: float) -> None:
    """Shrink the socket timeout of a streaming response so one read cannot outlast the time budget."""
    sock = _socket_of(raw)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(max(0.01, seconds))


def _socket_of(raw: Any) -> Any:
    """The socket a streaming urllib3 response reads from.

    urllib3 exposes the connection (``raw.connection.sock``, public), but http.client drops ``sock`` from
    the connection of a response that will close it (HTTP/1.0, ``Connection: close``): the socket then
    lives only under the response's file object. That one private path is wrapped here, and
    ``test_body_hang_after_late_headers_still_ends_at_the_deadline`` fails if a urllib3 upgrade moves it.
    """
    sock = getattr(raw.connection, "sock", None)
    if sock is None:
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock


# -------------------------------------------------------------------------------------- JSON helpers


def json_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object in ``body``, or ``None`` when it is not one."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def post_form(
    url: str, form: Mapping[str, str], *, timeout: float = 5.0, max_response_bytes: int = 1_000_000
) -> dict[str, Any]:
    """POST an ``application/x-www-form-urlencoded`` body and return the JSON object answer.

    Used for OAuth token endpoints (``app.fhir.smart_backend``). No redirects are followed; errors map to
    the ``FhirError`` types (401/403/400 → ``FhirAuthError``).
    """
    reply = exchange(
        session_for(url),
        "POST",
        url,
        data=dict(form),
        headers={"Accept": "application/json"},
        timeout=timeout,
        max_bytes=max_response_bytes,
        max_redirects=0,
    )
    data = json_object(reply.body) if reply.body else {}
    if reply.status >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        message = f"HTTP {reply.status} from {safe_url(url)}" + (f": {error}" if error else "")
        cls: type[FhirError] = FhirAuthError if reply.status in (400, 401, 403) else FhirHTTPError
        raise cls(message, status=reply.status)
    if data is None:
        raise FhirInvalidResponse(f"response from {safe_url(url)} is not a JSON object")
    return data


def get_json(url: str, *, timeout: float, max_bytes: int) -> dict[str, Any]:
    """GET a JSON object (e.g. a JWK Set): no redirects, bounded time and size; any error status raises."""
    reply = exchange(
        session_for(url),
        "GET",
        url,
        headers={"Accept": "application/json"},
        timeout=timeout,
        max_bytes=max_bytes,
        max_redirects=0,
    )
    if reply.status >= 400:
        raise FhirHTTPError(f"HTTP {reply.status} from {safe_url(url)}", status=reply.status)
    data = json_object(reply.body)
    if data is None:
        raise FhirInvalidResponse(f"response from {safe_url(url)} is not a JSON object")
    return data
