"""One error handler: typed errors → OperationOutcome; anything unexpected → generic 500 (no stack trace)."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from app.errors import Forbidden, SpineAucError, Unauthorized, operation_outcome
from app.metrics import count_token_refusal

log = logging.getLogger("spine_auc.web.handlers")

_CHALLENGE_ERROR = re.compile(r'error="([a-z_]{1,40})"')


def refusal_reason(challenge: str, status: int) -> str:
    """A bounded metrics label: the challenge's RFC 6750 ``error``, else no token (401) or forbidden (403)."""
    found = _CHALLENGE_ERROR.search(challenge)
    if found:
        return found.group(1)
    return "forbidden" if status == 403 else "no_or_unusable_token"


FHIR_JSON = "application/fhir+json"


def _outcome_response(body: dict, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.mimetype = FHIR_JSON
    return response


def register(app: Flask) -> None:
    """Install the handlers on the app."""

    @app.errorhandler(Unauthorized)
    @app.errorhandler(Forbidden)
    def _unauthorized(err: Unauthorized | Forbidden) -> Response:
        # A generic OperationOutcome and a Bearer challenge: the caller learns nothing about why.
        response = _outcome_response(err.to_operation_outcome(), err.status)
        response.headers["WWW-Authenticate"] = err.challenge
        count_token_refusal(refusal_reason(err.challenge, err.status))
        return response

    @app.errorhandler(SpineAucError)
    def _typed(err: SpineAucError) -> Response:
        return _outcome_response(err.to_operation_outcome(), err.status)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}.get(
            err.code or 500, "processing"
        )
        return _outcome_response(operation_outcome(err.description or err.name, code=code), err.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        log.exception("unhandled error", exc_info=err)
        return _outcome_response(
            operation_outcome("internal error; the request was not processed", code="exception"), 500
        )
