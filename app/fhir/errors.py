"""The FHIR layer's typed errors, and the one mapping from them to the service's own errors."""

from __future__ import annotations

from typing import Any

from app.errors import UpstreamError


class FhirError(Exception):
    """Base of every FHIR client failure. ``status`` is the upstream HTTP status, if there was one."""

    def __init__(self, message: str, *, status: int | None = None, outcome: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.outcome = outcome


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


def outcome_message(outcome: dict[str, Any] | None) -> str | None:
    """Up to three diagnostics of an OperationOutcome, joined; ``None`` when it says nothing."""
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


def error_for_status(status: int, where: str, outcome: dict[str, Any] | None) -> FhirError:
    """The typed error of an HTTP error status from ``where`` (a URL without its query)."""
    detail = outcome_message(outcome)
    message = f"HTTP {status} from {where}" + (f": {detail}" if detail else "")
    cls: type[FhirError]
    if status in (404, 410):
        cls = FhirNotFound
    elif status in (401, 403):
        cls = FhirAuthError
    else:
        cls = FhirHTTPError
    return cls(message, status=status, outcome=outcome)


def service_error(err: FhirError, what: str) -> UpstreamError:
    """What our caller sees when the FHIR server failed while doing ``what``: 504 on a timeout, else 502."""
    if isinstance(err, FhirTimeout):
        return UpstreamError(f"FHIR server timed out while {what}: {err.message}", status=504)
    if isinstance(err, FhirUnavailable):
        return UpstreamError(f"FHIR server unavailable while {what}: {err.message}", status=502)
    if isinstance(err, FhirAuthError):
        return UpstreamError(f"FHIR server refused access while {what}: {err.message}", status=502)
    return UpstreamError(f"FHIR server error while {what}: {err.message}", status=502)


class FhirLimitReached(FhirError):
    """More reads than one call may make (``MAX_MEDICATION_READS``): the type is unavailable, not an error."""
