"""Our CDS Hooks request/feedback JSON Schemas, checked against the specification's own examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.cds.service import FEEDBACK_SCHEMA, REQUEST_SCHEMA, schema_problems

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "fhir_fixtures" / "hooks" / "spec-examples"

# An envelope modelled on the CDS Hooks 2.0 request example (§Calling a CDS Service); the hook library examples
# print only `context`, which is used verbatim.
SPEC_ENVELOPE: dict[str, Any] = {
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": "https://example.com/fhir",
    "fhirAuthorization": {
        "access_token": "some-opaque-fhir-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/Observation.read",
        "subject": "cds-service4",
    },
}


def spec_request(hook: str) -> dict[str, Any]:
    context = json.loads((SPEC / "order-select-r4.context.json").read_text())["context"]
    if hook == "order-sign":
        del context["selections"]
    return {"hook": hook, **copy.deepcopy(SPEC_ENVELOPE), "context": context}


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_spec_example_requests_are_valid(hook: str) -> None:
    assert schema_problems(REQUEST_SCHEMA, spec_request(hook)) == []


def test_spec_example_without_fhir_authorization_is_valid() -> None:
    body = spec_request("order-select")
    del body["fhirAuthorization"], body["fhirServer"]
    assert schema_problems(REQUEST_SCHEMA, body) == []


def test_draft_orders_without_bundle_type_is_valid() -> None:
    body = spec_request("order-select")
    assert "type" not in body["context"]["draftOrders"]  # the library example itself has none
    body["context"]["draftOrders"]["type"] = "collection"
    assert schema_problems(REQUEST_SCHEMA, body) == []


def _broken(change: Any) -> list[tuple[str, str]]:
    body = spec_request("order-select")
    change(body)
    return schema_problems(REQUEST_SCHEMA, body)


@pytest.mark.parametrize(
    ("name", "change", "path_fragment"),
    [
        ("no hook", lambda b: b.pop("hook"), "$"),
        ("no hookInstance", lambda b: b.pop("hookInstance"), "$"),
        ("no context", lambda b: b.pop("context"), "$"),
        ("no userId", lambda b: b["context"].pop("userId"), "$.context"),
        ("no patientId", lambda b: b["context"].pop("patientId"), "$.context"),
        ("no draftOrders", lambda b: b["context"].pop("draftOrders"), "$.context"),
        ("order-select without selections", lambda b: b["context"].pop("selections"), "$.context"),
        ("userId not Type/id (ord-1)", lambda b: b["context"].update(userId="dr smith"), "$.context.userId"),
        (
            "selection not Type/id (ord-1)",
            lambda b: b["context"].update(selections=["103"]),
            "$.context.selections[0]",
        ),
        (
            "draftOrders not a Bundle",
            lambda b: b["context"]["draftOrders"].update(resourceType="List"),
            "draftOrders",
        ),
        ("fhirAuthorization without fhirServer (cds-r-1)", lambda b: b.pop("fhirServer"), "$"),
        ("token_type not Bearer", lambda b: b["fhirAuthorization"].update(token_type="MAC"), "token_type"),
        (
            "fhirAuthorization without access_token",
            lambda b: b["fhirAuthorization"].pop("access_token"),
            "$.fhir",
        ),
        ("fhirServer not a URL", lambda b: b.update(fhirServer="ftp://x"), "$.fhirServer"),
        ("prefetch value a string", lambda b: b.update(prefetch={"patient": "Patient/1"}), "$.prefetch"),
        ("hookInstance empty", lambda b: b.update(hookInstance=""), "$.hookInstance"),
    ],
)
def test_malformed_requests_are_rejected_with_a_path(name: str, change: Any, path_fragment: str) -> None:
    problems = _broken(change)
    assert problems, name
    assert any(path_fragment in path for path, _ in problems), problems


def test_prefetch_null_values_are_allowed() -> None:
    body = spec_request("order-select")
    body["prefetch"] = {"patient": None, "conditions": None}
    assert schema_problems(REQUEST_SCHEMA, body) == []


# Feedback bodies shaped like the CDS Hooks 2.0 §Feedback examples (accepted with a suggestion; overridden with a
# reason and a comment). Values are ours.
SPEC_FEEDBACK_ACCEPTED = {
    "feedback": [
        {
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        }
    ]
}
SPEC_FEEDBACK_OVERRIDDEN = {
    "feedback": [
        {
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "overridden",
            "overrideReason": {
                "reason": {
                    "code": "d7f08a4a-e2f5-4fd0-a0a0-a4a9f5a63e41",
                    "system": "http://example.org/cds-services/fhir/CodeSystem/override-reasons",
                    "display": "Patient refused",
                },
                "userComment": "patient will consider in future",
            },
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        }
    ]
}


@pytest.mark.parametrize("body", [SPEC_FEEDBACK_ACCEPTED, SPEC_FEEDBACK_OVERRIDDEN])
def test_spec_feedback_examples_are_valid(body: dict[str, Any]) -> None:
    assert schema_problems(FEEDBACK_SCHEMA, body) == []


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("outcome not accepted/overridden (cds-fb-1)", lambda i: i.update(outcome="ignored")),
        ("accepted without acceptedSuggestions (cds-fb-2)", lambda i: i.pop("acceptedSuggestions")),
        ("no card", lambda i: i.pop("card")),
        ("no outcomeTimestamp", lambda i: i.pop("outcomeTimestamp")),
        ("timestamp not RFC 3339", lambda i: i.update(outcomeTimestamp="11/12/2020")),
        ("override reason empty (cds-fb-3)", lambda i: i.update(outcome="overridden", overrideReason={})),
    ],
)
def test_malformed_feedback_is_rejected(name: str, change: Any) -> None:
    body = copy.deepcopy(SPEC_FEEDBACK_ACCEPTED)
    change(body["feedback"][0])
    assert schema_problems(FEEDBACK_SCHEMA, body), name
