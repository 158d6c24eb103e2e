"""FHIR input → the orders to assess: splitting a Bundle, and checking each order is a valid R4 ServiceRequest.

The clinical package assumes valid orders; every caller (CLI, REST API, FHIR operation, CDS Hooks) checks them
here first. Errors are :class:`app.errors.InvalidInput` (a 400, or a skipped draft order for CDS Hooks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.clinical.assessment import assess_orders, record_from_resources
from app.clinical.result import Result
from app.criteria.model import Criteria
from app.errors import InvalidInput
from app.fhir.models import validate_service_request

BUNDLE_TYPES = {"collection", "transaction", "searchset", "batch", "document", "message", None}


def split_input(resource: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A Bundle or a bare ServiceRequest → (ServiceRequests, other resources). Raises InvalidInput."""
    if not isinstance(resource, dict):
        raise InvalidInput("expected a FHIR resource (a JSON object)")
    rtype = resource.get("resourceType")
    if rtype == "ServiceRequest":
        return [resource], []
    if rtype != "Bundle":
        raise InvalidInput(
            f"expected a Bundle or a ServiceRequest, got resourceType {str(rtype)[:80]!r}",
            expression=["resourceType"],
        )
    bundle_type = resource.get("type")
    if not (bundle_type is None or isinstance(bundle_type, str)) or bundle_type not in BUNDLE_TYPES:
        raise InvalidInput(f"unsupported Bundle.type {str(bundle_type)[:80]!r}", expression=["Bundle.type"])
    entries = resource.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidInput("Bundle.entry is not a list", expression=["Bundle.entry"])
    orders, others = [], []
    for i, entry in enumerate(entries):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            raise InvalidInput(f"Bundle.entry[{i}] has no resource", expression=[f"Bundle.entry[{i}]"])
        if res.get("resourceType") == "ServiceRequest":
            orders.append(res)
        elif res.get("resourceType") == "Bundle":
            inner_orders, inner_others = split_input(res)
            orders += inner_orders
            others += inner_others
        else:
            others.append(res)
    if not orders:
        raise InvalidInput("the Bundle contains no ServiceRequest to evaluate", expression=["Bundle.entry"])
    return orders, others


def checked_orders(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``orders``, once each is a valid R4 ServiceRequest; raises InvalidInput at the first that is not."""
    for order in orders:
        validate_service_request(order)
    return orders


def assess_bundle(resource: Any, criteria: Criteria, *, now: datetime | None = None) -> list[Result]:
    """A Bundle (or a bare ServiceRequest) carrying its patient data → one result per order."""
    orders, others = split_input(resource)
    return assess_orders(checked_orders(orders), record_from_resources(others), criteria, now=now)
