"""Typed exceptions and their rendering as FHIR ``OperationOutcome`` resources.

Every error a caller can cause is one of these; one Flask handler turns them into a 4xx with an
OperationOutcome. Nothing else reaches the client: unexpected exceptions become a 500 with a generic
OperationOutcome and no stack trace.
"""

from __future__ import annotations

from typing import Any


class SpineAucError(Exception):
    """Base class: an error with an HTTP status and an OperationOutcome issue code."""

    status = 400
    issue_code = "invalid"

    def __init__(self, message: str, *, expression: list[str] | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression or []
        if status is not None:
            self.status = status

    def to_operation_outcome(self) -> dict[str, Any]:
        return operation_outcome(self.message, code=self.issue_code, expression=self.expression)


class InvalidInput(SpineAucError):
    """The request body or file is not what we accept (bad JSON, wrong resource type, missing fields)."""

    status = 400
    issue_code = "invalid"


class UnsupportedMediaType(SpineAucError):
    status = 415
    issue_code = "not-supported"


class PayloadTooLarge(SpineAucError):
    status = 413
    issue_code = "too-costly"


class NotFound(SpineAucError):
    status = 404
    issue_code = "not-found"


class Unauthorized(SpineAucError):
    """A call without an acceptable bearer token: 401, a generic OperationOutcome and a Bearer challenge.

    The message is logged by the caller, never sent: the body says only that authentication failed.
    """

    status = 401
    issue_code = "login"
    challenge = 'Bearer realm="spine-auc"'

    def __init__(self, message: str, *, error: str | None = None):
        super().__init__(message)
        if error is not None:
            self.challenge = f'Bearer realm="spine-auc", error="{error}"'

    def to_operation_outcome(self) -> dict[str, Any]:
        return operation_outcome("authentication required: send a valid bearer token", code=self.issue_code)


class Forbidden(SpineAucError):
    """A valid token without the scope the route needs: 403 with an ``insufficient_scope`` challenge."""

    status = 403
    issue_code = "forbidden"

    def __init__(self, scope: str):
        super().__init__(f"this call needs the scope {scope}")
        self.challenge = f'Bearer realm="spine-auc", error="insufficient_scope", scope="{scope}"'


class DataRequired(SpineAucError):
    """Patient data the answer depends on could not be obtained (CDS Hooks: 412)."""

    status = 412
    issue_code = "incomplete"


class UpstreamError(SpineAucError):
    """A FHIR server we depend on failed, timed out or answered nonsense."""

    status = 502
    issue_code = "transient"


class CriteriaError(Exception):
    """The criteria files are invalid; carries every problem as ``file:json_path: message``."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid criteria:\n" + "\n".join(problems))
        self.problems = problems


def operation_outcome(
    message: str, *, code: str = "invalid", severity: str = "error", expression: list[str] | None = None
) -> dict[str, Any]:
    """Build a minimal, valid R4 OperationOutcome with one issue."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}
