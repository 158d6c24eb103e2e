"""The compiled fast path of the CDS Hooks envelope schemas never accepts what ``jsonschema`` refuses.

``SchemaSet.problems`` trusts the compiled validator only when it says *valid*; so the one property that
matters is: compiled-valid implies jsonschema-valid. Hypothesis mutates the specification's example envelope
(drops, retypes and rewrites its fields) and checks that implication on every variant.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cds.service import FEEDBACK_SCHEMA, REQUEST_SCHEMA, SCHEMA_DIR
from app.criteria.schemas import SchemaSet, as_draft07
from tests.contract.test_cds_schema import spec_request

SCHEMAS = SchemaSet(SCHEMA_DIR, compiled=True)
SLOW = SchemaSet(SCHEMA_DIR)  # jsonschema only

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(["", " ", "Bearer", "bearer ", "order-select", "order-sign", "Patient/1", "Patient/1\n",
                     "a b/c", "http://x", "https://x y", "ftp://x", "x" * 257, "Bundle", "bundle", "é/1"]),
    st.text(max_size=12),
    st.just({}),
    st.just([]),
    st.just([{}]),
    st.just({"resourceType": "ServiceRequest"}),
)  # fmt: skip

_PATHS = [
    ("hook",), ("hookInstance",), ("fhirServer",), ("fhirAuthorization",),
    ("fhirAuthorization", "access_token"), ("fhirAuthorization", "token_type"),
    ("fhirAuthorization", "expires_in"), ("fhirAuthorization", "scope"), ("context",),
    ("context", "userId"), ("context", "patientId"), ("context", "selections"), ("context", "encounterId"),
    ("context", "draftOrders"), ("context", "draftOrders", "resourceType"), ("context", "draftOrders", "type"),
    ("context", "draftOrders", "entry"), ("prefetch",), ("extension",),
]  # fmt: skip


def _apply(body: dict[str, Any], path: tuple[str, ...], value: Any, drop: bool) -> None:
    node: Any = body
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if not isinstance(node, dict):
        return
    if drop:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(value)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hook=st.sampled_from(["order-select", "order-sign"]),
    edits=st.lists(st.tuples(st.sampled_from(_PATHS), _values, st.booleans()), max_size=4),
)
def test_compiled_valid_implies_jsonschema_valid(hook: str, edits: list[Any]) -> None:
    body = spec_request(hook)
    for path, value, drop in edits:
        _apply(body, path, value, drop)
    slow = SLOW.problems(REQUEST_SCHEMA, body)
    assert SCHEMAS.problems(REQUEST_SCHEMA, body) == slow  # the same answer, messages included
    compiled = SCHEMAS._compiled[REQUEST_SCHEMA]
    try:
        compiled(body)
    except Exception:  # noqa: BLE001 - refusal is always allowed: jsonschema then decides
        return
    assert slow == [], f"compiled validator accepted what jsonschema refuses: {slow}"


def test_both_envelope_schemas_have_the_fast_path() -> None:
    assert SCHEMAS.has_fast_path(REQUEST_SCHEMA) and SCHEMAS.has_fast_path(FEEDBACK_SCHEMA)
    assert not SLOW.has_fast_path(REQUEST_SCHEMA)


def test_dependent_required_is_kept_on_the_fast_path() -> None:
    body = spec_request("order-select")
    del body["fhirServer"]  # fhirAuthorization without fhirServer (dependentRequired)
    with pytest.raises(Exception):  # noqa: B017 - any refusal
        SCHEMAS._compiled[REQUEST_SCHEMA](body)
    assert SCHEMAS.problems(REQUEST_SCHEMA, body) != []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "uri"},
        {"type": "object", "unevaluatedProperties": False},
        {"prefixItems": [{"type": "string"}]},
        {"items": [{"type": "string"}]},
        {"$ref": "https://example.com/other.json"},
        {"properties": {"a": {"$dynamicRef": "#x"}}},
    ],
)
def test_keywords_without_an_identical_draft07_form_get_no_fast_path(schema: dict[str, Any]) -> None:
    assert as_draft07(schema) is None, json.dumps(schema)
