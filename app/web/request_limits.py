"""Over-long URLs (414) and header fields (431) answered by the app, as OperationOutcomes.

gunicorn refuses a request line over ``limit_request_line`` or a header over ``limit_request_field_size``
with its own HTML page. ``spine-auc serve`` sets both above ``MAX_URL_BYTES`` / ``MAX_HEADER_BYTES``, so
the app sees the request first and answers here; only beyond gunicorn's own limits does gunicorn answer
(README "Operating it").
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request

from app.errors import operation_outcome

FHIR_JSON = "application/fhir+json"


def _outcome(status: int, message: str) -> Response:
    response = jsonify(operation_outcome(message, code="too-long"))
    response.status_code = status
    response.mimetype = FHIR_JSON
    return response


def register(app: Flask) -> None:
    @app.before_request
    def _check_sizes() -> Response | None:
        max_url = int(current_app.config.get("MAX_URL_BYTES", 4096))
        uri = request.environ.get("RAW_URI") or request.full_path
        if len(uri) > max_url:
            return _outcome(414, f"request URI of {len(uri)} bytes exceeds the limit of {max_url} bytes")
        max_header = int(current_app.config.get("MAX_HEADER_BYTES", 8192))
        for name, value in request.headers.items():
            if len(name) + len(value) + 2 > max_header:
                return _outcome(431, f"header field {name[:40]!r} exceeds the limit of {max_header} bytes")
        return None
