"""FHIR R4 structure validation with ``fhir.resources.R4B`` (the only module that imports it).

R4B is used because fhir.resources 8.x defaults to R5, which rejects R4 ServiceRequests; R4B is
identical to R4 for the resource types we read and write. Validation costs ~200 µs per resource, so
it is applied to the order(s) we are asked about and to everything we emit, not to every patient
resource (those are read defensively as dicts by the clinical core).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from app.errors import InvalidInput

_MAX_REPORTED = 5


def _format_loc(resource_type: str, loc: tuple[Any, ...]) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}"
    return path


def summarise_errors(resource_type: str, err: ValidationError) -> tuple[str, list[str]]:
    """Turn a pydantic error into ``path: message; …`` (first few) and the list of FHIRPath-like paths."""
    try:
        items = err.errors()
    except UnicodeError:  # pydantic cannot render an error whose input holds a lone surrogate
        return "a text holds an invalid Unicode character (a lone surrogate)", [resource_type]
    parts: list[str] = []
    paths: list[str] = []
    for item in items[:_MAX_REPORTED]:
        path = _format_loc(resource_type, tuple(item.get("loc", ())))
        paths.append(path)
        parts.append(f"{path}: {item.get('msg', 'invalid')}")
    more = len(items) - _MAX_REPORTED
    text = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return text, paths


def validate_resource(data: Any, *, expected_type: str | None = None) -> None:
    """Validate a FHIR R4 resource dict; raise ``InvalidInput`` summarising the errors (path: message)."""
    if not isinstance(data, dict):
        raise InvalidInput("expected a FHIR resource (a JSON object)")
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise InvalidInput("the resource has no resourceType", expression=["resourceType"])
    if expected_type is not None and resource_type != expected_type:
        raise InvalidInput(
            f"expected a {expected_type}, got resourceType {resource_type!r}", expression=["resourceType"]
        )
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        raise InvalidInput(
            f"unknown FHIR R4 resourceType {resource_type!r}", expression=["resourceType"]
        ) from None
    try:
        model.model_validate(data)
    except ValidationError as err:
        text, paths = summarise_errors(resource_type, err)
        raise InvalidInput(f"invalid {resource_type}: {text}", expression=paths) from None


def validate_service_request(data: Any) -> None:
    """Validate an order as an R4 ServiceRequest."""
    validate_resource(data, expected_type="ServiceRequest")


def validate_guidance_response(data: Any) -> None:
    """Validate a GuidanceResponse we are about to send (a failure here is our bug, not the caller's)."""
    validate_resource(data, expected_type="GuidanceResponse")


def validate_questionnaire(data: Any) -> None:
    """Validate a Questionnaire we generated (a failure here is our bug, not the caller's)."""
    validate_resource(data, expected_type="Questionnaire")
