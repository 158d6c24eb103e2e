"""POST /cds-services/{id}/feedback: validation per CDS Hooks 2.0, storage against the card, idempotence."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.cds.service import feedback_memory
from tests.contract.cds_app import make_app

REPO = Path(__file__).resolve().parents[2]
SELECT = "/cds-services/spine-auc-order-select"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


def swap_card(app: Flask) -> dict[str, Any]:
    body = json.loads((REPO / "fhir_fixtures" / "hooks" / "prefetch-full-rated-swap.json").read_text())[
        "request"
    ]
    body["hookInstance"] = str(uuid.uuid4())
    card: dict[str, Any] = app.test_client().post(SELECT, json=body).get_json()["cards"][0]
    return card


def accepted(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-10T09:01:00Z",
            }
        ]
    }


def overridden(card: dict[str, Any]) -> dict[str, Any]:
    reason = card["overrideReasons"][0]
    return {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason, "userComment": "red flags not yet charted"},
                "outcomeTimestamp": "2026-11-10T09:02:00Z",
            }
        ]
    }


def test_feedback_is_stored_against_the_card_and_repeats_are_idempotent(app: Flask) -> None:
    card = swap_card(app)
    client = app.test_client()
    first = client.post(f"{SELECT}/feedback", json=accepted(card))
    assert first.status_code == 200 and first.get_json() == {"stored": 1, "duplicates": 0}
    again = client.post(f"{SELECT}/feedback", json=accepted(card))
    assert again.status_code == 200 and again.get_json() == {"stored": 0, "duplicates": 1}
    rows = app.extensions["spine_auc.store"].list_feedback(card["uuid"])
    assert len(rows) == 1
    assert card["suggestions"][0]["uuid"] in json.dumps(rows[0])


def test_override_with_reason_is_stored(app: Flask) -> None:
    card = swap_card(app)
    resp = app.test_client().post(f"{SELECT}/feedback", json=overridden(card))
    assert resp.status_code == 200 and resp.get_json()["stored"] == 1
    rows = app.extensions["spine_auc.store"].list_feedback(card["uuid"])
    assert "red flags not yet charted" in json.dumps(rows)


def test_in_memory_fallback_without_a_store_is_idempotent(app: Flask) -> None:
    card = swap_card(app)
    del app.extensions["spine_auc.store"]
    client = app.test_client()
    for _ in range(3):
        assert client.post(f"{SELECT}/feedback", json=accepted(card)).status_code == 200
    client.post(f"{SELECT}/feedback", json=overridden(card))
    kept = feedback_memory(app)
    assert [f["outcome"] for f in kept] == ["accepted", "overridden"]
    assert all(f["card"] == card["uuid"] for f in kept)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("outcome not in accepted/overridden", lambda i: i.update(outcome="dismissed")),
        ("accepted without acceptedSuggestions", lambda i: i.pop("acceptedSuggestions")),
        ("overridden with an empty reason", lambda i: i.update(outcome="overridden", overrideReason={})),
        ("no card", lambda i: i.pop("card")),
        ("timestamp not RFC 3339", lambda i: i.update(outcomeTimestamp="yesterday")),
    ],
)
def test_malformed_feedback_is_400_with_operation_outcome(app: Flask, name: str, change: Any) -> None:
    body = accepted({"uuid": str(uuid.uuid4()), "suggestions": [{"uuid": str(uuid.uuid4())}]})
    change(body["feedback"][0])
    resp = app.test_client().post(f"{SELECT}/feedback", json=body)
    assert resp.status_code == 400, name
    assert resp.get_json()["resourceType"] == "OperationOutcome"


def test_feedback_for_an_unknown_service_is_404(app: Flask) -> None:
    body = accepted({"uuid": str(uuid.uuid4()), "suggestions": [{"uuid": str(uuid.uuid4())}]})
    assert app.test_client().post("/cds-services/nope/feedback", json=body).status_code == 404


def test_feedback_needs_json(app: Flask) -> None:
    body = accepted({"uuid": str(uuid.uuid4()), "suggestions": [{"uuid": str(uuid.uuid4())}]})
    resp = app.test_client().post(f"{SELECT}/feedback", data=json.dumps(body), content_type="text/plain")
    assert resp.status_code == 415


def test_feedback_batch_counts_each_item(app: Flask) -> None:
    card = swap_card(app)
    body = accepted(card)
    second = copy.deepcopy(overridden(card)["feedback"][0])
    body["feedback"].append(second)
    resp = app.test_client().post(f"{SELECT}/feedback", json=body)
    assert resp.get_json() == {"stored": 2, "duplicates": 0}
